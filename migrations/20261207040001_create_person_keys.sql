-- Crypto-shredding of the personal values inside audit rows. Each person's name, e-mail, DNI,
-- phone and Telegram id in `audit_logs.old_values`/`new_values` are encrypted (AES-256-GCM) with
-- a key of that person, kept here wrapped (encrypted) with a master key the server derives from
-- AUDIT_MASTER_KEY (or JWT_SECRET_KEY) and never stores. Erasure deletes the row: the ciphertext
-- stays in the append-only, hash-chained trail (so the chain still verifies) but can no longer
-- be read.
CREATE TABLE person_keys (
    usuario_id  bigint PRIMARY KEY REFERENCES usuarios (id),
    -- 12-byte nonce || the 32-byte key encrypted under the master key || 16-byte tag.
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON COLUMN person_keys.usuario_id IS 'gdpr:categoria=credenciales;finalidad=auditoria;retencion=clave_persona';
COMMENT ON COLUMN person_keys.wrapped_key IS 'gdpr:categoria=credenciales;finalidad=auditoria;retencion=clave_persona';

-- A key is created once and destroyed once: never rewritten.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gad_app') THEN
        GRANT SELECT, INSERT, DELETE ON person_keys TO gad_app;
        REVOKE UPDATE, TRUNCATE ON person_keys FROM gad_app;
    END IF;
END $$;
