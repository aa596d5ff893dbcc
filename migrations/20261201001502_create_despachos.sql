-- Issue 15: every dispatch of an officer to an emergency (first call, re-dispatch after a
-- decline or a silence, backup), with its acknowledgement. One row per (task, officer): an
-- officer who declined or stayed silent is never dispatched to the same emergency again.
-- CERRADO: the task was finished, cancelled or deleted while the dispatch was pending.
CREATE TABLE despachos (
    id              bigserial PRIMARY KEY,
    tarea_id        bigint NOT NULL REFERENCES tareas (id),
    efectivo_id     bigint NOT NULL REFERENCES efectivos (id),
    -- 1, 2, 3… for the primary unit's successive attempts; 0 for a backup unit.
    intento         integer NOT NULL,
    refuerzo        boolean NOT NULL DEFAULT false,
    estado          text NOT NULL DEFAULT 'PENDIENTE',
    distancia_m     double precision,
    asignado_at     timestamptz NOT NULL DEFAULT now(),
    vence_at        timestamptz NOT NULL,
    respondido_at   timestamptz,
    respondido_por  bigint,
    motivo          text,
    llegada_at      timestamptz,
    CONSTRAINT despachos_tarea_efectivo_key UNIQUE (tarea_id, efectivo_id),
    CONSTRAINT despachos_estado_check CHECK (estado IN ('PENDIENTE', 'ACEPTADO', 'RECHAZADO', 'VENCIDO', 'CERRADO'))
);
-- The escalation job's queue: pending rows by deadline.
CREATE INDEX despachos_pendientes_idx ON despachos (vence_at) WHERE estado = 'PENDIENTE';
CREATE INDEX despachos_efectivo_idx ON despachos (efectivo_id, estado);

-- Dispatch steps in the task's timeline: the state does not change, the event says what happened.
ALTER TABLE historial_estados ADD COLUMN evento text;
