-- Notes on a task (desk and field) and the files attached to it as evidence. Both are
-- append-only records of what happened: a note or a file is never edited or removed by the
-- server (a correction is a new note). The trigger refuses UPDATE, DELETE and TRUNCATE for
-- whoever asks; the server's role also loses those privileges (second layer, as audit_logs).
CREATE TABLE tarea_notas (
    id                bigserial PRIMARY KEY,
    tarea_id          bigint NOT NULL REFERENCES tareas (id),
    autor_usuario_id  bigint REFERENCES usuarios (id),
    texto             text NOT NULL,
    -- Where the note was written: web (command centre), api (another client), telegram (bot).
    origen            text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tarea_notas_origen_check CHECK (origen IN ('web', 'api', 'telegram')),
    CONSTRAINT tarea_notas_texto_check CHECK (char_length(texto) BETWEEN 1 AND 2000)
);
CREATE INDEX tarea_notas_tarea_idx ON tarea_notas (tarea_id, id);

CREATE TABLE tarea_adjuntos (
    id                bigserial PRIMARY KEY,
    tarea_id          bigint NOT NULL REFERENCES tareas (id),
    autor_usuario_id  bigint REFERENCES usuarios (id),
    -- The file name as the client sent it (shown, never used as a path).
    nombre            text NOT NULL,
    -- Detected from the bytes: image/jpeg, image/png, application/pdf.
    tipo              text NOT NULL,
    bytes             bigint NOT NULL,
    sha256            text NOT NULL,
    -- Key of the object in the store (ADJUNTOS_DIR or ADJUNTOS_S3_URL).
    clave             text NOT NULL,
    origen            text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tarea_adjuntos_clave_key UNIQUE (clave),
    CONSTRAINT tarea_adjuntos_origen_check CHECK (origen IN ('web', 'api', 'telegram')),
    CONSTRAINT tarea_adjuntos_tipo_check CHECK (tipo IN ('image/jpeg', 'image/png', 'application/pdf')),
    CONSTRAINT tarea_adjuntos_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$')
);
CREATE INDEX tarea_adjuntos_tarea_idx ON tarea_adjuntos (tarea_id, id);

CREATE FUNCTION tarea_evidencia_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER tarea_notas_append_only BEFORE UPDATE OR DELETE ON tarea_notas
    FOR EACH ROW EXECUTE FUNCTION tarea_evidencia_append_only();
CREATE TRIGGER tarea_notas_no_truncate BEFORE TRUNCATE ON tarea_notas
    FOR EACH STATEMENT EXECUTE FUNCTION tarea_evidencia_append_only();
CREATE TRIGGER tarea_adjuntos_append_only BEFORE UPDATE OR DELETE ON tarea_adjuntos
    FOR EACH ROW EXECUTE FUNCTION tarea_evidencia_append_only();
CREATE TRIGGER tarea_adjuntos_no_truncate BEFORE TRUNCATE ON tarea_adjuntos
    FOR EACH STATEMENT EXECUTE FUNCTION tarea_evidencia_append_only();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gad_app') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON tarea_notas, tarea_adjuntos FROM gad_app;
    END IF;
END $$;

COMMENT ON COLUMN tarea_notas.autor_usuario_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN tarea_notas.texto IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN tarea_adjuntos.autor_usuario_id IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN tarea_adjuntos.nombre IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN tarea_adjuntos.clave IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
