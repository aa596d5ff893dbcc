-- Second factor (TOTP, RFC 6238). A user's secret is kept encrypted (AES-256-GCM under a key the
-- server derives from AUDIT_MASTER_KEY, or JWT_SECRET_KEY, and never stores); `confirmed_at` is
-- set once the user proves the authenticator works, and only then does login ask for a code.
-- `last_step` is the time step of the last accepted code: a code is accepted once.
CREATE TABLE usuario_totp (
    usuario_id    bigint PRIMARY KEY REFERENCES usuarios (id),
    -- 12-byte nonce || the encrypted secret || 16-byte tag.
    secret_sealed bytea NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Single-use recovery codes, stored as SHA-256 hashes (each is 50 random bits).
CREATE TABLE totp_recovery_codes (
    id         bigserial PRIMARY KEY,
    usuario_id bigint NOT NULL REFERENCES usuarios (id),
    code_hash  text NOT NULL,
    used_at    timestamptz,
    UNIQUE (usuario_id, code_hash)
);

-- The step between a correct password and the code: a random challenge (stored hashed) that
-- lives 5 minutes and is used once. `device_id`: the device cookie the password step presented,
-- so that wrong codes count on the same lockout counter as wrong passwords.
CREATE TABLE totp_challenges (
    challenge_hash text PRIMARY KEY,
    usuario_id     bigint NOT NULL REFERENCES usuarios (id),
    device_id      uuid,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX totp_challenges_expires_idx ON totp_challenges (expires_at);

COMMENT ON COLUMN usuario_totp.usuario_id IS 'gdpr:categoria=credenciales;finalidad=cuenta;retencion=cuenta';
COMMENT ON COLUMN usuario_totp.secret_sealed IS 'gdpr:categoria=credenciales;finalidad=cuenta;retencion=cuenta';
COMMENT ON COLUMN totp_recovery_codes.usuario_id IS 'gdpr:categoria=credenciales;finalidad=cuenta;retencion=cuenta';
COMMENT ON COLUMN totp_recovery_codes.code_hash IS 'gdpr:categoria=credenciales;finalidad=cuenta;retencion=cuenta';
COMMENT ON COLUMN totp_challenges.usuario_id IS 'gdpr:categoria=credenciales;finalidad=seguridad;retencion=tickets';
COMMENT ON COLUMN totp_challenges.challenge_hash IS 'gdpr:categoria=credenciales;finalidad=seguridad;retencion=tickets';
