-- An emergency is an incident as a dispatch centre records it: case number, type, priority,
-- the address as spoken, the caller, and how it was closed. Every column is nullable, so
-- ordinary tasks and emergencies raised before this release are unchanged.
ALTER TABLE tareas
    ADD COLUMN nro_incidente        text,
    ADD COLUMN tipo_incidente       text,
    ADD COLUMN prioridad_incidente  smallint,
    ADD COLUMN direccion            text,
    ADD COLUMN referencia           text,
    ADD COLUMN denunciante_nombre   text,
    ADD COLUMN denunciante_telefono text,
    ADD COLUMN codigo_cierre        text,
    ADD COLUMN resumen_cierre       text,
    ADD COLUMN cerrada_at           timestamptz,
    ADD CONSTRAINT tareas_nro_incidente_key UNIQUE (nro_incidente),
    -- A type in use cannot be deleted (the API answers 409): incidents keep their type.
    ADD CONSTRAINT tareas_tipo_incidente_fkey FOREIGN KEY (tipo_incidente)
        REFERENCES tipos_incidente (codigo) ON UPDATE CASCADE,
    ADD CONSTRAINT tareas_prioridad_incidente_check CHECK (prioridad_incidente BETWEEN 1 AND 5),
    ADD CONSTRAINT tareas_codigo_cierre_check CHECK (codigo_cierre IN
        ('resuelto', 'falsa_alarma', 'derivado', 'sin_novedad', 'detenidos', 'otro'));

-- The foreign key's referencing side: deleting a type checks it through this index.
CREATE INDEX tareas_tipo_incidente_idx ON tareas (tipo_incidente) WHERE tipo_incidente IS NOT NULL;

-- Case numbers: `YYYY-NNNNNN`, numbered per (UTC) year from one sequence per year. A sequence
-- never holds a lock to commit, so concurrent dispatches do not wait on each other (a counter
-- row would serialise every emergency). Numbers lost to a rolled-back dispatch leave gaps, as
-- any sequence does. Years are created ahead here and on demand by `incidente_nro()`.
DO $$
BEGIN
    FOR y IN 2026..2035 LOOP
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS incidente_nro_%s_seq', y);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION incidente_nro() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    y   text := to_char(now() AT TIME ZONE 'UTC', 'YYYY');
    seq text := 'incidente_nro_' || y || '_seq';
    n   bigint;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL; -- another instance created it at the same moment
        END;
    END IF;
    n := nextval(seq::regclass);
    RETURN y || '-' || lpad(n::text, greatest(6, length(n::text)), '0');
END
$$;

-- The caller's name and phone are personal data of a third party (data map: see
-- 20261201001802); they are cleared after DENUNCIANTE_RETENTION_DAYS from the closure.
COMMENT ON COLUMN tareas.denunciante_nombre IS 'gdpr:categoria=identificacion;finalidad=despacho;retencion=denunciante';
COMMENT ON COLUMN tareas.denunciante_telefono IS 'gdpr:categoria=contacto;finalidad=despacho;retencion=denunciante';
COMMENT ON COLUMN tareas.direccion IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN tareas.referencia IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=operativo';
COMMENT ON COLUMN tareas.resumen_cierre IS 'gdpr:categoria=operativo;finalidad=despacho;retencion=operativo';
