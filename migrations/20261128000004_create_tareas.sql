CREATE TABLE tareas (
    id                     bigserial PRIMARY KEY,
    uuid                   uuid NOT NULL DEFAULT gen_random_uuid(),
    codigo                 text NOT NULL,
    titulo                 text NOT NULL,
    descripcion            text,
    tipo                   tipo_tarea NOT NULL,
    prioridad              prioridad_tarea NOT NULL DEFAULT 'MEDIUM',
    estado                 estado_tarea NOT NULL DEFAULT 'PROGRAMMED',
    inicio_programado      timestamptz NOT NULL,
    fin_programado         timestamptz,
    inicio_real            timestamptz,
    fin_real               timestamptz,
    pausado_en             timestamptz,
    tiempo_pausado         interval NOT NULL DEFAULT '0 seconds',
    duracion_real_horas    numeric(12, 4),
    delegado_usuario_id    bigint NOT NULL REFERENCES usuarios (id),
    creado_por_usuario_id  bigint REFERENCES usuarios (id),
    ubicacion_lat          double precision,
    ubicacion_lon          double precision,
    ubicacion_descripcion  text,
    geom                   geography(Point, 4326),
    efectivos_asignados    bigint[] NOT NULL DEFAULT '{}',
    notas                  jsonb NOT NULL DEFAULT '{}',
    extra_data             jsonb NOT NULL DEFAULT '{}',
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    deleted_at             timestamptz,
    CONSTRAINT tareas_uuid_key UNIQUE (uuid),
    CONSTRAINT tareas_codigo_key UNIQUE (codigo),
    CONSTRAINT tareas_fin_programado_check CHECK (fin_programado IS NULL OR fin_programado > inicio_programado),
    CONSTRAINT tareas_fin_real_check CHECK (fin_real IS NULL OR inicio_real IS NULL OR fin_real >= inicio_real),
    CONSTRAINT tareas_lat_check CHECK (ubicacion_lat IS NULL OR ubicacion_lat BETWEEN -90 AND 90),
    CONSTRAINT tareas_lon_check CHECK (ubicacion_lon IS NULL OR ubicacion_lon BETWEEN -180 AND 180)
);
CREATE INDEX tareas_delegado_estado_idx ON tareas (delegado_usuario_id, estado);
CREATE INDEX tareas_estado_idx ON tareas (estado);
CREATE INDEX tareas_created_at_idx ON tareas (created_at);
CREATE INDEX tareas_list_order_idx ON tareas (created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX tareas_geom_gist ON tareas USING gist (geom);
CREATE INDEX tareas_efectivos_gin ON tareas USING gin (efectivos_asignados);
CREATE TRIGGER tareas_updated_at BEFORE UPDATE ON tareas FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE tarea_efectivos (
    tarea_id    bigint NOT NULL REFERENCES tareas (id),
    efectivo_id bigint NOT NULL REFERENCES efectivos (id),
    assigned_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tarea_efectivos_pkey PRIMARY KEY (tarea_id, efectivo_id)
);
CREATE INDEX tarea_efectivos_efectivo_idx ON tarea_efectivos (efectivo_id);

CREATE TABLE historial_estados (
    id              bigserial PRIMARY KEY,
    uuid            uuid NOT NULL DEFAULT gen_random_uuid(),
    tarea_id        bigint NOT NULL REFERENCES tareas (id),
    estado_anterior estado_tarea,
    estado_nuevo    estado_tarea NOT NULL,
    usuario_id      bigint REFERENCES usuarios (id),
    nota            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT historial_estados_uuid_key UNIQUE (uuid)
);
CREATE INDEX historial_estados_tarea_idx ON historial_estados (tarea_id, id);

CREATE TABLE metricas_tareas (
    id                bigserial PRIMARY KEY,
    uuid              uuid NOT NULL DEFAULT gen_random_uuid(),
    tipo              tipo_tarea NOT NULL,
    prioridad         prioridad_tarea NOT NULL,
    total             bigint NOT NULL DEFAULT 0,
    horas_media       double precision,
    horas_p50         double precision,
    horas_p75         double precision,
    tasa_exito        double precision,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT metricas_tareas_uuid_key UNIQUE (uuid),
    CONSTRAINT metricas_tareas_tipo_prioridad_key UNIQUE (tipo, prioridad)
);
CREATE TRIGGER metricas_tareas_updated_at BEFORE UPDATE ON metricas_tareas FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Emergency codes EMG-YYYYMMDD-NNNNNN draw NNNNNN from here: unique without a table lock.
CREATE SEQUENCE emergency_code_seq;
