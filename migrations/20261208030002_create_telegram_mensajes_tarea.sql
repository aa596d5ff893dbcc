-- The messages the bot sent about a task (dispatch pushes, desk notes…): an officer's reply to
-- one of them (a text, a photo, a document) is resolved to its task through this table.
CREATE TABLE telegram_mensajes_tarea (
    chat_id     bigint NOT NULL,
    message_id  bigint NOT NULL,
    tarea_id    bigint NOT NULL REFERENCES tareas (id),
    sent_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT telegram_mensajes_tarea_pkey PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX telegram_mensajes_tarea_tarea_idx ON telegram_mensajes_tarea (tarea_id);

COMMENT ON COLUMN telegram_mensajes_tarea.chat_id IS 'gdpr:categoria=contacto;finalidad=notificaciones;retencion=operativo';
