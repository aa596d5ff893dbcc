-- Leave requests of officers. Dates are calendar days, inclusive, read in UTC. An approved leave
-- makes the officer not callable on those days (DUTY_MODE=turnos) and cancels the shifts it
-- covers (turnos.cancelado_por_licencia = the leave's id).
CREATE TABLE licencias (
    id              bigserial PRIMARY KEY,
    efectivo_id     bigint NOT NULL REFERENCES efectivos (id) ON DELETE CASCADE,
    tipo            text NOT NULL,
    desde           date NOT NULL,
    hasta           date NOT NULL,
    motivo          text,
    estado          text NOT NULL DEFAULT 'pendiente',
    resuelto_por    bigint REFERENCES usuarios (id) ON DELETE SET NULL,
    resuelto_at     timestamptz,
    motivo_resolucion text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT licencias_tipo_check CHECK (tipo IN ('vacaciones', 'enfermedad', 'estudio', 'otra')),
    CONSTRAINT licencias_estado_check CHECK (estado IN ('pendiente', 'aprobada', 'rechazada')),
    CONSTRAINT licencias_rango_check CHECK (hasta >= desde)
);

CREATE INDEX licencias_efectivo_idx ON licencias (efectivo_id, desde) WHERE estado = 'aprobada';

ALTER TABLE turnos ADD CONSTRAINT turnos_licencia_fkey
    FOREIGN KEY (cancelado_por_licencia) REFERENCES licencias (id) ON DELETE SET NULL;

COMMENT ON COLUMN licencias.efectivo_id IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN licencias.tipo IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN licencias.desde IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN licencias.hasta IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN licencias.motivo IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
COMMENT ON COLUMN licencias.motivo_resolucion IS 'gdpr:categoria=laboral;finalidad=despacho;retencion=cuenta';
