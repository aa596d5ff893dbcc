-- Issue 18: a tamper-evident audit trail.
--
-- Every audit row is linked into one hash chain when it is inserted: `chain_seq` is gapless
-- (1, 2, 3…), `prev_hash` is the previous row's `row_hash`, and `row_hash` is
-- sha256(prev_hash || '|' || canonical content). `gad audit verify` recomputes the chain in Rust
-- from the raw columns and names the first altered or missing row.
--
-- Concurrency: the BEFORE INSERT trigger locks the single row of `audit_chain_head` (FOR UPDATE)
-- and moves it forward. The lock is held until the inserting transaction ends, so audited
-- transactions take their chain position one after the other, in commit order, with no gap
-- (a rolled-back transaction rolls back its head update too) and no fork (READ COMMITTED
-- re-reads the head after the wait). Only the tail of an audited transaction (audit insert →
-- commit) is serialised; the cost on the emergency dispatch is in docs/PERFORMANCE.md.

ALTER TABLE audit_logs ADD COLUMN chain_seq bigint;
ALTER TABLE audit_logs ADD COLUMN prev_hash text;
ALTER TABLE audit_logs ADD COLUMN row_hash text;

-- The end of the chain: the last row's position and hash.
CREATE TABLE audit_chain_head (
    id         integer PRIMARY KEY CHECK (id = 1),
    last_seq   bigint NOT NULL,
    last_hash  text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The start of the chain: retention deletes a prefix of it; the anchor remembers where the
-- remaining chain starts (the last purged row's position and hash).
CREATE TABLE audit_chain_anchor (
    id                  integer PRIMARY KEY CHECK (id = 1),
    purged_through_seq  bigint NOT NULL,
    purged_through_hash text NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, 0, repeat('0', 64));
INSERT INTO audit_chain_anchor (id, purged_through_seq, purged_through_hash) VALUES (1, 0, repeat('0', 64));

-- Canonical content of a row: each field as '-' (NULL) or '<octets>:<text>', joined by '|'.
-- Times are rendered in UTC with microseconds, so the session's TimeZone does not matter.
-- `gad audit verify` (crates/gad-api/src/store/audit.rs) builds the same string itself.
CREATE FUNCTION audit_row_hash(prev text, a audit_logs) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
    SELECT encode(sha256(convert_to(prev || '|' || array_to_string(ARRAY(
        SELECT CASE WHEN v IS NULL THEN '-' ELSE octet_length(v)::text || ':' || v END
        FROM unnest(ARRAY[
            a.id::text, a.uuid::text, a.chain_seq::text, a.event_type, a.severity,
            a.user_id::text, a.ip_address::text, a.user_agent, a.request_id, a.resource_type,
            a.resource_id, a.action_description, a.old_values::text, a.new_values::text,
            a.success::text, a.response_status::text,
            to_char(a.retention_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
            to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
        ]) WITH ORDINALITY AS f(v, i) ORDER BY i), '|'), 'UTF8')), 'hex')
$$;

-- Rows written before this migration join the chain in id order.
DO $$
DECLARE
    r audit_logs;
    prev text := repeat('0', 64);
    seq bigint := 0;
BEGIN
    FOR r IN SELECT * FROM audit_logs ORDER BY id LOOP
        seq := seq + 1;
        r.chain_seq := seq;
        UPDATE audit_logs SET chain_seq = seq, prev_hash = prev, row_hash = audit_row_hash(prev, r)
        WHERE id = r.id RETURNING row_hash INTO prev;
    END LOOP;
    UPDATE audit_chain_head SET last_seq = seq, last_hash = prev;
END $$;

ALTER TABLE audit_logs ALTER COLUMN chain_seq SET NOT NULL;
ALTER TABLE audit_logs ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE audit_logs ALTER COLUMN row_hash SET NOT NULL;
CREATE UNIQUE INDEX audit_logs_chain_seq_key ON audit_logs (chain_seq);

-- Links each new row (SECURITY DEFINER: the server's role may read the head, not move it).
CREATE FUNCTION audit_logs_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    head record;
BEGIN
    SELECT last_seq, last_hash INTO head FROM public.audit_chain_head WHERE id = 1 FOR UPDATE;
    NEW.chain_seq := head.last_seq + 1;
    NEW.prev_hash := head.last_hash;
    NEW.row_hash := public.audit_row_hash(NEW.prev_hash, NEW);
    UPDATE public.audit_chain_head SET last_seq = NEW.chain_seq, last_hash = NEW.row_hash, updated_at = now()
    WHERE id = 1;
    RETURN NEW;
END $$;
-- "zz_": BEFORE triggers fire in name order; this one must see the final row.
CREATE TRIGGER zz_audit_logs_chain BEFORE INSERT ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_chain();

-- Second layer behind the privileges: no UPDATE, no DELETE, no TRUNCATE, whoever asks, except
-- the DELETE that `audit_purge_expired` runs (it sets the transaction-local flag).
CREATE FUNCTION audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('gad.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only();

-- Retention of the audit trail: deletes (at most `batch` rows of) the expired PREFIX of the
-- chain — a row expires at its retention_until or, when max_age_days is given, max_age_days
-- after its creation, whichever comes first — and moves the anchor, so the remaining chain
-- still verifies from its first row. An expired row behind a live one waits for it.
-- SECURITY DEFINER: the only way the server's role can delete audit rows.
CREATE FUNCTION audit_purge_expired(max_age_days integer, batch integer) RETURNS bigint
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
        FROM (SELECT a.chain_seq,
                     (a.retention_until < now()
                      OR (max_age_days IS NOT NULL AND a.created_at < now() - make_interval(days => max_age_days))) AS expired
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

-- The server's role: `gad_app` (NOLOGIN here; a login role that is a member of it in
-- production, or `SET ROLE gad_app` by the pool when it logs in as a superuser — see
-- docs/SECURITY.md). Roles are cluster-wide and test databases are migrated in parallel, so a
-- concurrent creation is tolerated; without CREATEROLE the migration leaves a notice and the
-- trigger above is the only layer.
DO $$
BEGIN
    CREATE ROLE gad_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'cannot create role gad_app (no CREATEROLE): create it and re-run the grants of migration 20261201001801';
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gad_app') THEN
        GRANT USAGE ON SCHEMA public TO gad_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO gad_app;
        GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO gad_app;
        -- Tables and sequences later migrations create (as the same owner) get the same grants.
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gad_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO gad_app;
        -- The audit trail is append-only for the server; the chain ends are read-only.
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM gad_app;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_chain_head, audit_chain_anchor FROM gad_app;
        IF EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = '_sqlx_migrations') THEN
            REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM gad_app;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'spatial_ref_sys') THEN
            REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON spatial_ref_sys FROM gad_app;
        END IF;
    END IF;
END $$;
