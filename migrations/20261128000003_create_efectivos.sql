CREATE TABLE efectivos (
    id                          bigserial PRIMARY KEY,
    uuid                        uuid NOT NULL DEFAULT gen_random_uuid(),
    usuario_id                  bigint NOT NULL REFERENCES usuarios (id),
    codigo_interno              text NOT NULL,
    rango                       text,
    unidad                      text,
    especialidad                text,
    estado_disponibilidad       estado_disponibilidad NOT NULL DEFAULT 'DISPONIBLE',
    ultima_actualizacion_estado timestamptz NOT NULL DEFAULT now(),
    geom                        geography(Point, 4326),
    ubicacion_accuracy_m        double precision,
    ubicacion_heading           double precision,
    ubicacion_speed             double precision,
    ubicacion_updated_at        timestamptz,
    metadata                    jsonb NOT NULL DEFAULT '{}',
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    deleted_at                  timestamptz,
    CONSTRAINT efectivos_uuid_key UNIQUE (uuid),
    CONSTRAINT efectivos_usuario_id_key UNIQUE (usuario_id),
    CONSTRAINT efectivos_codigo_interno_key UNIQUE (codigo_interno)
);
CREATE INDEX efectivos_geom_gist ON efectivos USING gist (geom);
-- Dispatch only ever looks at available, located, live officers: a partial GiST index keeps
-- the KNN search on exactly that set.
CREATE INDEX efectivos_disponibles_geom_gist ON efectivos USING gist (geom)
    WHERE estado_disponibilidad = 'DISPONIBLE' AND deleted_at IS NULL AND geom IS NOT NULL;
CREATE INDEX efectivos_estado_idx ON efectivos (estado_disponibilidad) WHERE deleted_at IS NULL;
CREATE TRIGGER efectivos_updated_at BEFORE UPDATE ON efectivos FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE efectivo_ubicaciones (
    id          bigserial PRIMARY KEY,
    uuid        uuid NOT NULL DEFAULT gen_random_uuid(),
    efectivo_id bigint NOT NULL REFERENCES efectivos (id),
    geom        geography(Point, 4326) NOT NULL,
    accuracy_m  double precision,
    heading     double precision,
    speed       double precision,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT efectivo_ubicaciones_uuid_key UNIQUE (uuid)
);
CREATE INDEX efectivo_ubicaciones_efectivo_time_idx ON efectivo_ubicaciones (efectivo_id, recorded_at DESC);
CREATE INDEX efectivo_ubicaciones_recorded_at_idx ON efectivo_ubicaciones (recorded_at);
