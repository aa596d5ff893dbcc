-- The roster: planned shifts of officers, their clock-in and clock-out.
-- One officer cannot have two live shifts that overlap: an exclusion constraint (btree_gist for
-- the `=` on efectivo_id) refuses it race-free, whatever instance writes; a shift cancelled by an
-- approved leave no longer blocks its time.
-- zona_id: the zone the shift patrols; a plain bigint until zones exist, then a foreign key.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE turnos (
    id                      bigserial PRIMARY KEY,
    efectivo_id             bigint NOT NULL REFERENCES efectivos (id) ON DELETE CASCADE,
    inicio                  timestamptz NOT NULL,
    fin                     timestamptz NOT NULL,
    unidad                  text,
    zona_id                 bigint,
    notas                   text,
    ingreso_at              timestamptz,
    ingreso_tarde           boolean NOT NULL DEFAULT false,
    ingreso_por             bigint REFERENCES usuarios (id) ON DELETE SET NULL,
    egreso_at               timestamptz,
    egreso_por              bigint REFERENCES usuarios (id) ON DELETE SET NULL,
    cancelado_por_licencia  bigint,
    -- Set once by the job that alerted supervisors of a missed clock-in / reminded the officer.
    alerta_ausencia_at      timestamptz,
    recordatorio_egreso_at  timestamptz,
    creado_por              bigint REFERENCES usuarios (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT turnos_rango_check CHECK (fin > inicio AND fin - inicio <= interval '24 hours'),
    CONSTRAINT turnos_sin_solapamiento EXCLUDE USING gist (
        efectivo_id WITH =, tstzrange(inicio, fin) WITH &&
    ) WHERE (cancelado_por_licencia IS NULL)
);

-- The eligibility rule looks up an officer's current shift by primary key of the officer.
CREATE INDEX turnos_efectivo_inicio_idx ON turnos (efectivo_id, inicio);
-- The clock-in watch: shifts that started and were not clocked in, not yet alerted.
CREATE INDEX turnos_sin_ingreso_idx ON turnos (inicio)
    WHERE ingreso_at IS NULL AND alerta_ausencia_at IS NULL AND cancelado_por_licencia IS NULL;

COMMENT ON COLUMN turnos.efectivo_id IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN turnos.inicio IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN turnos.fin IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN turnos.notas IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN turnos.ingreso_at IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN turnos.ingreso_tarde IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN turnos.egreso_at IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN turnos.creado_por IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
