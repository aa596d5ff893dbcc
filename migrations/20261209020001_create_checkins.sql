-- Officer-safety check-ins and the alerts that must stay on screen until a supervisor saw them.
--
-- `alertas`: alerts kept until someone marks them seen (`POST /api/v1/alertas/{id}/visto`).
-- Other `alert` events stay live-only; the ones a person must acknowledge are written here.
CREATE TABLE alertas (
    id            bigserial PRIMARY KEY,
    -- What raised it: checkin_sin_respuesta, checkin_apoyo…
    kind          text NOT NULL,
    severity      text NOT NULL,
    tarea_id      bigint REFERENCES tareas (id),
    efectivo_id   bigint REFERENCES efectivos (id),
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    visto_por     bigint REFERENCES usuarios (id),
    visto_at      timestamptz,
    CONSTRAINT alertas_severity_check CHECK (severity IN ('info', 'warning', 'critical')),
    CONSTRAINT alertas_kind_check CHECK (kind ~ '^[a-z0-9_]{1,50}$'),
    CONSTRAINT alertas_visto_check CHECK (visto_por IS NULL OR visto_at IS NOT NULL)
);
-- The dashboard's list: what nobody has seen yet, newest first.
CREATE INDEX alertas_pendientes_idx ON alertas (created_at DESC, id DESC) WHERE visto_at IS NULL;
CREATE INDEX alertas_tarea_idx ON alertas (tarea_id) WHERE tarea_id IS NOT NULL;

-- The check-in clock of each officer watched on an incident (on scene, or accepted on an
-- emergency). A row is created by the check-in job the first time it sees the pair (`desde`)
-- and removed once the pair is no longer watched. The last report is computed from the
-- officer's own records (notes, state changes, dispatch answers, check-ins); this row only keeps
-- what the job did: the question it sent (`pregunta_at`) and the alert it raised for it
-- (`alerta_at`). Instances claim due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE checkin_relojes (
    tarea_id      bigint NOT NULL REFERENCES tareas (id),
    efectivo_id   bigint NOT NULL REFERENCES efectivos (id),
    desde         timestamptz NOT NULL DEFAULT now(),
    pregunta_at   timestamptz,
    alerta_at     timestamptz,
    CONSTRAINT checkin_relojes_pkey PRIMARY KEY (tarea_id, efectivo_id)
);
CREATE INDEX checkin_relojes_efectivo_idx ON checkin_relojes (efectivo_id);

-- Every step of a check-in, for the incident's timeline and `GET /api/v1/tasks/{id}/checkins`:
-- pregunta (the bot asked), ok ("Estoy bien"), apoyo ("Necesito apoyo"), sin_respuesta (no
-- answer within the grace period). Append-only, as the other records of an incident.
CREATE TABLE checkins (
    id            bigserial PRIMARY KEY,
    tarea_id      bigint NOT NULL REFERENCES tareas (id),
    efectivo_id   bigint NOT NULL REFERENCES efectivos (id),
    -- The officer's user (who answered, or who was asked).
    usuario_id    bigint REFERENCES usuarios (id),
    paso          text NOT NULL,
    alerta_id     bigint REFERENCES alertas (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkins_paso_check CHECK (paso IN ('pregunta', 'ok', 'apoyo', 'sin_respuesta'))
);
CREATE INDEX checkins_tarea_idx ON checkins (tarea_id, id);
-- The officer's last answer, read by the job on every pass.
CREATE INDEX checkins_respuesta_idx ON checkins (tarea_id, efectivo_id, created_at)
    WHERE paso IN ('ok', 'apoyo');

CREATE TRIGGER checkins_append_only BEFORE UPDATE OR DELETE ON checkins
    FOR EACH ROW EXECUTE FUNCTION tarea_evidencia_append_only();
CREATE TRIGGER checkins_no_truncate BEFORE TRUNCATE ON checkins
    FOR EACH STATEMENT EXECUTE FUNCTION tarea_evidencia_append_only();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gad_app') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON checkins FROM gad_app;
    END IF;
END $$;

COMMENT ON COLUMN alertas.efectivo_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN alertas.visto_por IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN checkin_relojes.efectivo_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN checkins.efectivo_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN checkins.usuario_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
