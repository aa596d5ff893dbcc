CREATE TABLE usuarios (
    id                bigserial PRIMARY KEY,
    uuid              uuid NOT NULL DEFAULT gen_random_uuid(),
    email             text NOT NULL,
    dni               text NOT NULL,
    nombre            text NOT NULL,
    apellido          text NOT NULL,
    telefono          text,
    telegram_id       bigint,
    nivel             nivel_usuario NOT NULL DEFAULT 'LEVEL_1',
    hashed_password   text NOT NULL,
    verificado        boolean NOT NULL DEFAULT false,
    ultimo_acceso     timestamptz,
    intentos_fallidos integer NOT NULL DEFAULT 0,
    bloqueado_hasta   timestamptz,
    extra_data        jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    CONSTRAINT usuarios_uuid_key UNIQUE (uuid),
    CONSTRAINT usuarios_dni_key UNIQUE (dni),
    CONSTRAINT usuarios_telegram_id_key UNIQUE (telegram_id),
    CONSTRAINT usuarios_intentos_check CHECK (intentos_fallidos >= 0)
);
-- E-mail is unique case-insensitively; the index name is what the API maps to a 409 on `email`.
CREATE UNIQUE INDEX usuarios_email_key ON usuarios (lower(email));
CREATE INDEX usuarios_nivel_idx ON usuarios (nivel) WHERE deleted_at IS NULL;
CREATE TRIGGER usuarios_updated_at BEFORE UPDATE ON usuarios FOR EACH ROW EXECUTE FUNCTION set_updated_at();
