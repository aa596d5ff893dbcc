-- A Telegram link is a credential. Link codes are kept only as their SHA-256 (hex), as
-- WebSocket tickets are; redeeming a code in the bot only claims it for a Telegram account for
-- two minutes (pending_*), and the link is made when the officer confirms with [Sí].
UPDATE telegram_link_codes SET code = encode(sha256(convert_to(code, 'UTF8')), 'hex');

ALTER TABLE telegram_link_codes
    ADD COLUMN pending_telegram_id bigint,
    ADD COLUMN pending_until timestamptz;

CREATE INDEX telegram_link_codes_pending_idx ON telegram_link_codes (pending_telegram_id)
    WHERE pending_telegram_id IS NOT NULL;

-- What the bot must tell a Telegram chat whose link the server removed (password change,
-- deactivation, deletion, level change, "log out everywhere", an administrator). The bot takes
-- each row once and deletes it; the chat is no longer linked, so the row carries it.
CREATE TABLE telegram_notices (
    id          bigserial PRIMARY KEY,
    telegram_id bigint NOT NULL,
    usuario_id  bigint REFERENCES usuarios (id),
    motivo      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON COLUMN telegram_link_codes.pending_telegram_id IS
    'gdpr:categoria=contacto;finalidad=notificaciones;retencion=codigos_telegram';
COMMENT ON COLUMN telegram_link_codes.pending_until IS
    'gdpr:categoria=credenciales;finalidad=notificaciones;retencion=codigos_telegram';
COMMENT ON COLUMN telegram_notices.telegram_id IS
    'gdpr:categoria=contacto;finalidad=notificaciones;retencion=avisos_telegram';
COMMENT ON COLUMN telegram_notices.usuario_id IS
    'gdpr:categoria=contacto;finalidad=notificaciones;retencion=avisos_telegram';
COMMENT ON COLUMN telegram_notices.motivo IS
    'gdpr:categoria=credenciales;finalidad=notificaciones;retencion=avisos_telegram';
