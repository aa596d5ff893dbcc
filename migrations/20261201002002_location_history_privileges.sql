-- Joins issue 18 (the server runs as the non-superuser role gad_app) with issue 20 (the
-- position history is partitioned by day, and the server itself creates and retires days).
-- 1. The server's role owns the history and its partitions. Only a table's owner may attach,
--    detach or drop its partitions; gad_app also needs CREATE on the schema to create a day.
--    Owning this table gives gad_app nothing over audit_logs.
-- 2. A day created by another role (a migration, an operator) is handed to the parent's
--    owner, so the server can still retire it.
-- 3. The partitioned table replaced the one migration 20261201001802 commented, so the
--    data-map comments are set again here.
DO $$
DECLARE
    part record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gad_app') THEN
        GRANT CREATE ON SCHEMA public TO gad_app;
        ALTER TABLE efectivo_ubicaciones OWNER TO gad_app;
        FOR part IN
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'efectivo_ubicaciones'::regclass
        LOOP
            EXECUTE format('ALTER TABLE %I OWNER TO gad_app', part.relname);
        END LOOP;
        ALTER FUNCTION efectivo_ubicaciones_ensure_partitions(date, date) OWNER TO gad_app;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION efectivo_ubicaciones_ensure_partitions(first_day date, last_day date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    part text;
    owner name;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7345020);
    SELECT tableowner INTO owner FROM pg_tables
    WHERE schemaname = current_schema() AND tablename = 'efectivo_ubicaciones';
    FOR d IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
        part := 'efectivo_ubicaciones_p' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE efectivo_ubicaciones INCLUDING DEFAULTS)', part);
            IF owner IS NOT NULL AND owner <> current_user THEN
                EXECUTE format('ALTER TABLE %I OWNER TO %I', part, owner);
            END IF;
            EXECUTE format(
                'ALTER TABLE efectivo_ubicaciones ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part,
                to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
                to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

COMMENT ON COLUMN efectivo_ubicaciones.efectivo_id IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=ubicaciones';
COMMENT ON COLUMN efectivo_ubicaciones.geom IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=ubicaciones';
COMMENT ON COLUMN efectivo_ubicaciones.accuracy_m IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=ubicaciones';
COMMENT ON COLUMN efectivo_ubicaciones.heading IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=ubicaciones';
COMMENT ON COLUMN efectivo_ubicaciones.speed IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=ubicaciones';
COMMENT ON COLUMN efectivo_ubicaciones.recorded_at IS 'gdpr:categoria=ubicacion;finalidad=despacho;retencion=ubicaciones';
