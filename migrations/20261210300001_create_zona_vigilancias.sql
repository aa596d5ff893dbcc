-- Patrols kept in their quadrant. A task may name the cuadrante its officers patrol
-- (`tareas.cuadrante_id`); a shift names it in `turnos.zona_id`.
--
-- `zona_vigilancias`: one row per officer currently on such an assignment, kept by the zone
-- watch job of every instance (a small table, so the location-ingest path asks about an officer
-- only when this set holds them). `fuera_desde` is the first fix outside the cuadrante and
-- `alertado` whether the exit was alerted; both change only under the row's lock, so with any
-- number of instances an exit is alerted once and a return once.
ALTER TABLE tareas
    ADD COLUMN cuadrante_id bigint CONSTRAINT tareas_cuadrante_id_fkey REFERENCES zonas (id) ON DELETE SET NULL;
CREATE INDEX tareas_cuadrante_id ON tareas (cuadrante_id) WHERE cuadrante_id IS NOT NULL;

CREATE TABLE zona_vigilancias (
    efectivo_id  bigint PRIMARY KEY REFERENCES efectivos (id) ON DELETE CASCADE,
    zona_id      bigint NOT NULL REFERENCES zonas (id) ON DELETE CASCADE,
    -- What names the cuadrante: an open task the officer is assigned to, else a current shift.
    tarea_id     bigint REFERENCES tareas (id) ON DELETE CASCADE,
    turno_id     bigint REFERENCES turnos (id) ON DELETE CASCADE,
    fuera_desde  timestamptz,
    alertado     boolean NOT NULL DEFAULT false,
    desde        timestamptz NOT NULL DEFAULT now()
);
-- The job's pass: exits whose delay elapsed without a new fix.
CREATE INDEX zona_vigilancias_fuera_idx ON zona_vigilancias (fuera_desde)
    WHERE fuera_desde IS NOT NULL AND NOT alertado;
-- Shifts that name a zone, looked up by time on every pass.
CREATE INDEX turnos_zona_vigentes_idx ON turnos (inicio, fin) WHERE zona_id IS NOT NULL;

COMMENT ON COLUMN tareas.cuadrante_id IS 'gdpr:no_personal (the patrol quadrant a task names)';
COMMENT ON COLUMN zona_vigilancias.efectivo_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN zona_vigilancias.fuera_desde IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN zona_vigilancias.alertado IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
