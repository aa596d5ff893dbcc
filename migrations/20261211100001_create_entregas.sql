-- Delivery records of the bot's pushes (dispatch calls, check-in questions, alerts): one row per
-- send attempt's outcome, with Telegram's message id and, for a push with answer buttons, the
-- answer and when it came. A sibling of `mensaje_destinatarios` rather than rows of it: those
-- rows are a send queue of the desk's messages; a push is sent at once from an event and has no
-- queue state, so it only records what happened.
CREATE TABLE entregas (
    id            bigserial PRIMARY KEY,
    canal         text NOT NULL DEFAULT 'telegram',
    -- despacho (first call, re-dispatch, backup call), checkin, alerta.
    tipo          text NOT NULL,
    -- NULL for an alert to the operators' chat (no user behind it).
    usuario_id    bigint REFERENCES usuarios (id),
    efectivo_id   bigint REFERENCES efectivos (id),
    chat_id       bigint,
    tarea_id      bigint REFERENCES tareas (id),
    despacho_id   bigint REFERENCES despachos (id),
    estado        text NOT NULL,
    message_id    bigint,
    motivo        text,
    -- When the send was attempted (and, if `enviado`, accepted by Telegram).
    enviado_at    timestamptz NOT NULL DEFAULT now(),
    respuesta     text,
    respondido_at timestamptz,
    CONSTRAINT entregas_canal_check CHECK (canal IN ('telegram')),
    CONSTRAINT entregas_tipo_check CHECK (tipo IN ('despacho', 'checkin', 'alerta')),
    CONSTRAINT entregas_estado_check CHECK (estado IN ('enviado', 'fallido')),
    CONSTRAINT entregas_respuesta_check
        CHECK (respuesta IN ('aceptado', 'rechazado', 'estoy_bien', 'necesito_apoyo'))
);
-- The incident timeline reads a task's deliveries; an answer finds its push by task and officer.
CREATE INDEX entregas_tarea_idx ON entregas (tarea_id, efectivo_id) WHERE tarea_id IS NOT NULL;
CREATE INDEX entregas_usuario_idx ON entregas (usuario_id) WHERE usuario_id IS NOT NULL;

COMMENT ON COLUMN entregas.canal IS 'gdpr:no_personal (delivery channel)';
COMMENT ON COLUMN entregas.tipo IS 'gdpr:no_personal (kind of push)';
COMMENT ON COLUMN entregas.usuario_id IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.efectivo_id IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.chat_id IS 'gdpr:categoria=contacto;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.tarea_id IS 'gdpr:no_personal (the task a push is about)';
COMMENT ON COLUMN entregas.despacho_id IS 'gdpr:no_personal (the dispatch a push called)';
COMMENT ON COLUMN entregas.estado IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.message_id IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.motivo IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.enviado_at IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.respuesta IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN entregas.respondido_at IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
