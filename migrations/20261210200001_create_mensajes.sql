-- Messages from the desk to officers (and officers' answers to the desk), delivered through the
-- bot. `mensaje_destinatarios` is the durable send queue: the bot claims due `pendiente` rows
-- with FOR UPDATE SKIP LOCKED and leases them (`proximo_intento_at` moved forward), so a restart
-- loses nothing and two bots never send the same row at once.
CREATE TABLE mensajes (
    id                    bigserial PRIMARY KEY,
    -- NULL: written by the system.
    autor_usuario_id      bigint REFERENCES usuarios (id),
    -- The destination as the sender wrote it ({"unidad": …}, {"centro": true}…).
    destino               jsonb NOT NULL,
    texto                 text NOT NULL,
    prioridad             text NOT NULL DEFAULT 'normal',
    requiere_confirmacion boolean NOT NULL DEFAULT false,
    -- A call-back: reaches officers off duty too (DUTY_MODE=turnos).
    convocatoria          boolean NOT NULL DEFAULT false,
    en_respuesta_a        bigint REFERENCES mensajes (id),
    created_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mensajes_prioridad_check CHECK (prioridad IN ('normal', 'urgente')),
    CONSTRAINT mensajes_texto_check CHECK (char_length(texto) BETWEEN 1 AND 2000)
);
CREATE INDEX mensajes_autor_idx ON mensajes (autor_usuario_id, id DESC);
-- Messages to the desk, listed for every supervisor.
CREATE INDEX mensajes_centro_idx ON mensajes (id DESC) WHERE destino ? 'centro';

CREATE TABLE mensaje_destinatarios (
    id                 bigserial PRIMARY KEY,
    mensaje_id         bigint NOT NULL REFERENCES mensajes (id),
    efectivo_id        bigint NOT NULL REFERENCES efectivos (id),
    usuario_id         bigint NOT NULL REFERENCES usuarios (id),
    estado             text NOT NULL DEFAULT 'pendiente',
    -- Telegram's id of the message sent, and the chat it went to.
    message_id         bigint,
    chat_id            bigint,
    enviado_at         timestamptz,
    confirmado_at      timestamptz,
    motivo_fallo       text,
    intentos           integer NOT NULL DEFAULT 0,
    proximo_intento_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mensaje_destinatarios_estado_check
        CHECK (estado IN ('pendiente', 'enviado', 'fallido', 'confirmado')),
    CONSTRAINT mensaje_destinatarios_unico UNIQUE (mensaje_id, efectivo_id)
);
-- The send queue: due pending rows, oldest first.
CREATE INDEX mensaje_destinatarios_cola_idx ON mensaje_destinatarios (proximo_intento_at, id)
    WHERE estado = 'pendiente';
CREATE INDEX mensaje_destinatarios_usuario_idx ON mensaje_destinatarios (usuario_id, mensaje_id);
-- A Telegram reply names the message it answers by (chat, message id).
CREATE INDEX mensaje_destinatarios_telegram_idx ON mensaje_destinatarios (chat_id, message_id)
    WHERE message_id IS NOT NULL;

COMMENT ON COLUMN mensajes.autor_usuario_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN mensajes.destino IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN mensajes.texto IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN mensajes.prioridad IS 'gdpr:no_personal (urgency of a message)';
COMMENT ON COLUMN mensajes.requiere_confirmacion IS 'gdpr:no_personal (whether a receipt is asked)';
COMMENT ON COLUMN mensajes.convocatoria IS 'gdpr:no_personal (whether off-duty officers are called)';
COMMENT ON COLUMN mensajes.en_respuesta_a IS 'gdpr:no_personal (the message answered)';
COMMENT ON COLUMN mensaje_destinatarios.efectivo_id IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.usuario_id IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.estado IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.message_id IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.chat_id IS 'gdpr:categoria=contacto;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.enviado_at IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.confirmado_at IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.motivo_fallo IS 'gdpr:categoria=operativo;finalidad=notificaciones;retencion=operativo';
COMMENT ON COLUMN mensaje_destinatarios.intentos IS 'gdpr:no_personal (delivery attempts)';
COMMENT ON COLUMN mensaje_destinatarios.proximo_intento_at IS 'gdpr:no_personal (queue schedule)';
