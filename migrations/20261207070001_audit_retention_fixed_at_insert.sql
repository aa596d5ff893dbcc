-- The audit trail cannot be erased by the role that writes it.
--
-- Before: `audit_purge_expired(max_age_days, batch)` let its caller choose the age (any role
-- could call it: EXECUTE was PUBLIC's), `retention_until` was whatever the inserter wrote, and
-- the append-only trigger let any session holding DELETE opt out with `gad.audit_purge = on`.
-- Now:
-- 1. A row's `retention_until` is fixed at insert by the trigger below, from
--    `audit_settings.retention_days` (never below 365), a row only the owner can change.
-- 2. `audit_purge_expired(batch)` takes no age: it deletes the prefix of the chain whose
--    `retention_until` has passed. EXECUTE only for `gad_app` (it can delete nothing else).
-- 3. The append-only trigger lets a DELETE through only when it runs as the table's owner (as
--    inside the purge function), with the purge marker set, on a row past its retention.

-- The retention every new audit row gets, owned by the migrations' role: `gad_app` may read it
-- only. `gad migrate` writes AUDIT_RETENTION_DAYS here.
CREATE TABLE audit_settings (
    id             integer PRIMARY KEY CHECK (id = 1),
    retention_days integer NOT NULL CHECK (retention_days >= 365),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_settings (id, retention_days) VALUES (1, 365);

-- Fixes `retention_until` of every new row, whatever the inserter wrote. "zy_": BEFORE
-- triggers fire in name order; this one runs just before the chain (zz_) hashes the row.
CREATE FUNCTION audit_logs_fix_retention() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    days integer;
BEGIN
    SELECT retention_days INTO days FROM public.audit_settings WHERE id = 1;
    NEW.retention_until := now() + make_interval(days => greatest(coalesce(days, 365), 365));
    RETURN NEW;
END $$;
CREATE TRIGGER zy_audit_logs_retention BEFORE INSERT ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_fix_retention();

-- Only the owner (the purge function runs as it) may delete, only with the purge marker, only
-- expired rows; nobody may update or truncate.
CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('gad.audit_purge', true) = 'on' THEN
        IF current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID)
           AND OLD.retention_until < now() THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

DROP FUNCTION audit_purge_expired(integer, integer);

-- Retention of the audit trail: deletes (at most `batch` rows of) the prefix of the chain whose
-- `retention_until` has passed and moves the anchor, so the remaining chain still verifies from
-- its first row. An expired row behind a live one waits for it.
CREATE FUNCTION audit_purge_expired(batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    upto bigint;
    upto_hash text;
    n bigint;
BEGIN
    -- One purger at a time (several instances run the job).
    PERFORM 1 FROM public.audit_chain_anchor WHERE id = 1 FOR UPDATE;
    SELECT max(w.chain_seq) INTO upto FROM (
        SELECT s.chain_seq, bool_and(s.expired) OVER (ORDER BY s.chain_seq) AS all_expired
        FROM (SELECT a.chain_seq, a.retention_until < now() AS expired
              FROM public.audit_logs a ORDER BY a.chain_seq LIMIT greatest(batch, 1)) s
    ) w WHERE w.all_expired;
    IF upto IS NULL THEN
        RETURN 0;
    END IF;
    SELECT row_hash INTO upto_hash FROM public.audit_logs WHERE chain_seq = upto;
    PERFORM set_config('gad.audit_purge', 'on', true);
    DELETE FROM public.audit_logs WHERE chain_seq <= upto;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('gad.audit_purge', 'off', true);
    UPDATE public.audit_chain_anchor
    SET purged_through_seq = upto, purged_through_hash = upto_hash, updated_at = now() WHERE id = 1;
    RETURN n;
END $$;

REVOKE EXECUTE ON FUNCTION audit_purge_expired(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_logs_fix_retention() FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gad_app') THEN
        GRANT EXECUTE ON FUNCTION audit_purge_expired(integer) TO gad_app;
        GRANT SELECT ON audit_settings TO gad_app;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_settings FROM gad_app;
    END IF;
END $$;
