-- The audit chain without a global lock.
--
-- Before: the BEFORE INSERT trigger linked every new row under a FOR UPDATE lock on the single
-- row of `audit_chain_head`, held until the inserting transaction ended, so every audited
-- commit — its WAL flush included — waited for the one before it (docs/PERFORMANCE.md: 239 tps
-- chained vs 1,165 unchained at 8 clients).
--
-- Now an audited transaction writes its row with only its content hash (`content_hash`,
-- fixed by the trigger, below) and takes no lock besides the row's own; `chain_seq`,
-- `prev_hash` and `row_hash` stay NULL. A sealer, `audit_seal(batch)`, links committed
-- unsealed rows into the chain in batches: `gad serve` runs it every AUDIT_SEAL_INTERVAL_MS
-- (500 ms), `gad audit verify` runs it before walking the chain. The hash of a sealed row is
-- computed exactly as before (`audit_row_hash`), so rows chained before this migration and after
-- it verify with the same rule and the witness signs heads as before; rows written before this
-- migration keep their columns as they are (their `content_hash` stays NULL).
--
-- Order. The chain's order is the order in which rows became visible to the sealer: a pass
-- takes the advisory lock, then reads every committed row still unsealed (`chain_seq IS
-- NULL`) in id order and gives them the next positions. A row is never skipped, because the
-- sealer keeps no cursor: whatever is unsealed when a pass starts is sealed by it, and a row
-- whose transaction commits later — even one with a lower id, taken by a long transaction
-- before rows that committed first — is simply unsealed at the next pass and chained then, after
-- everything sealed before its commit. So a row committed before a pass's snapshot always has a
-- lower `chain_seq` than one committed after it (the chain follows commit order at the grain of
-- a pass), and within a pass the order is the ids'. Every position is used once (the head row
-- is locked FOR UPDATE and `chain_seq` is unique), with no gap (a failed pass rolls back whole).
--
-- Why not chain in pure id order and seal only the prefix below the oldest running
-- transaction (`txid_snapshot_xmin`)? Any long transaction in the database — a backup, a report,
-- a migration, audited or not — would hold back the whole chain for as long as it runs, so the
-- window between commit and seal would have no bound. With the rule above the window is bounded
-- by the sealer's period plus one pass, whatever else runs. PostgreSQL has no commit-ordered
-- sequence to number rows at commit instead.
--
-- One sealer at a time: `pg_try_advisory_xact_lock(7345031)` (7345xxx: the project's advisory
-- lock ids) — a pass that finds it taken returns NULL at once (another instance is sealing) —
-- and, behind it, the head row's lock, so even a caller that skipped the advisory lock could
-- not fork the chain. Inserters never touch the head.
--
-- Crash between commit and seal: nothing is lost. The row is committed with its content hash;
-- the next pass of any instance (or `gad audit verify`) seals it.
--
-- The append-only trigger still refuses every UPDATE of a sealed row, and of an unsealed row
-- anything but the chaining update made by `audit_seal` itself: as the table's owner (the
-- function is SECURITY DEFINER, owned like the other audit functions), with the transaction-
-- local marker `gad.audit_seal` set, filling the three chain columns once, content unchanged.
-- The server's role (`gad_app`) still has no UPDATE on the table; it may only call the function,
-- which chains what is there and nothing else. Before chaining a row the sealer checks its
-- content hash and refuses (the whole pass fails, loudly) when the row no longer matches what
-- was committed.

ALTER TABLE audit_logs ADD COLUMN content_hash text;
ALTER TABLE audit_logs ALTER COLUMN chain_seq DROP NOT NULL;
ALTER TABLE audit_logs ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE audit_logs ALTER COLUMN row_hash DROP NOT NULL;
-- Either sealed (all three chain columns) or waiting with its content hash.
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_sealed_or_hashed CHECK (
    (chain_seq IS NULL) = (prev_hash IS NULL)
    AND (chain_seq IS NULL) = (row_hash IS NULL)
    AND (chain_seq IS NOT NULL OR content_hash IS NOT NULL)
);
-- What the sealer reads: the unsealed rows, in id order (small: emptied every pass).
CREATE INDEX audit_logs_unsealed_idx ON audit_logs (id) WHERE chain_seq IS NULL;

-- The canonical rendering of `audit_row_hash` (each field as '-' for NULL or '<octets>:<text>',
-- joined by '|'), written as one expression that the planner inlines: the rendering through
-- unnest/array_to_string costs ~50 µs a row, this one a few. The row hash of a sealed row is
-- sha256(prev_hash | id | uuid | chain_seq | tail), exactly `audit_row_hash` (the sealer's
-- output is checked against it in the tests and by `gad audit verify` in Rust).
CREATE FUNCTION audit_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN '-' ELSE pg_catalog.octet_length(v)::text || ':' || v END
$$;
-- The fields after the chain position.
CREATE FUNCTION audit_canonical_tail(a audit_logs) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT public.audit_field(a.event_type) || '|' || public.audit_field(a.severity)
        || '|' || public.audit_field(a.user_id::text) || '|' || public.audit_field(a.ip_address::text)
        || '|' || public.audit_field(a.user_agent) || '|' || public.audit_field(a.request_id)
        || '|' || public.audit_field(a.resource_type) || '|' || public.audit_field(a.resource_id)
        || '|' || public.audit_field(a.action_description)
        || '|' || public.audit_field(a.old_values::text) || '|' || public.audit_field(a.new_values::text)
        || '|' || public.audit_field(a.success::text) || '|' || public.audit_field(a.response_status::text)
        || '|' || public.audit_field(pg_catalog.to_char(a.retention_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'))
        || '|' || public.audit_field(pg_catalog.to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'))
$$;

-- The content hash: sha256 of the same canonical rendering without the chain position (not
-- known at insert) and without a previous hash. `gad audit verify` recomputes it in Rust.
CREATE FUNCTION audit_content_hash(a audit_logs) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        public.audit_field(a.id::text) || '|' || public.audit_field(a.uuid::text)
        || '|' || public.audit_canonical_tail(a), 'UTF8')), 'hex')
$$;

-- The insert trigger no longer links: it hashes the final row (it still fires last, "zz_",
-- after the retention is fixed) and leaves the chain columns empty whatever the inserter
-- wrote, so no one can pre-empt a chain position. It reads no table: no SECURITY DEFINER.
CREATE OR REPLACE FUNCTION audit_logs_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public AS $$
BEGIN
    NEW.chain_seq := NULL;
    NEW.prev_hash := NULL;
    NEW.row_hash := NULL;
    NEW.content_hash := public.audit_content_hash(NEW);
    RETURN NEW;
END $$;

-- Only the owner (the purge and seal functions run as it) may change rows, each only in its
-- own way: the purge deletes sealed rows past retention (marker `gad.audit_purge`), the sealer
-- fills the chain columns of an unsealed row once, every other column unchanged (marker
-- `gad.audit_seal`). Nothing else; no truncate.
CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    unchained public.audit_logs;
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('gad.audit_purge', true) = 'on' THEN
        IF current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID)
           AND OLD.retention_until < now() AND OLD.chain_seq IS NOT NULL THEN
            RETURN OLD;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('gad.audit_seal', true) = 'on' THEN
        -- The new row with its chain columns emptied must equal the old row, column by column.
        unchained := NEW;
        unchained.chain_seq := NULL;
        unchained.prev_hash := NULL;
        unchained.row_hash := NULL;
        IF OLD.chain_seq IS NULL AND OLD.prev_hash IS NULL AND OLD.row_hash IS NULL
           AND NEW.chain_seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.row_hash IS NOT NULL
           AND unchained IS NOT DISTINCT FROM OLD
           AND current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

-- The sealer: links (at most `batch` of) the committed unsealed rows, in id order, after the
-- head, and moves the head. Returns how many it sealed, or NULL when another pass holds the
-- lock. The rows are rendered in one query, hashed in a loop (each link needs the previous
-- hash) and updated in one statement. The head's `updated_at` becomes the time the witness
-- signs as "written at": the last sealed row's insert time as its retention knows it
-- (`retention_until` minus the 365-day floor, never after now), so "its retention cannot end
-- before this plus the floor" still holds.
CREATE FUNCTION audit_seal(batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    seq bigint;
    prev text;
    r record;
    last_until timestamptz;
    ids bigint[] := '{}';
    seqs bigint[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
    n integer := 0;
    updated bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7345031) THEN
        RETURN NULL;
    END IF;
    SELECT last_seq, last_hash INTO seq, prev FROM public.audit_chain_head WHERE id = 1 FOR UPDATE;
    FOR r IN
        SELECT a.id, a.content_hash, a.retention_until,
               public.audit_field(a.id::text) || '|' || public.audit_field(a.uuid::text) AS head,
               public.audit_canonical_tail(a) AS tail
        FROM public.audit_logs a WHERE a.chain_seq IS NULL ORDER BY a.id LIMIT greatest(batch, 1)
    LOOP
        -- Never vouch for a row that is no longer what was committed.
        IF r.content_hash IS DISTINCT FROM
           encode(sha256(convert_to(r.head || '|' || r.tail, 'UTF8')), 'hex') THEN
            RAISE EXCEPTION 'audit row id=% no longer matches its content hash: not sealed', r.id
                USING ERRCODE = 'data_corrupted';
        END IF;
        n := n + 1;
        ids[n] := r.id;
        seqs[n] := seq + n;
        prevs[n] := prev;
        prev := encode(sha256(convert_to(
            prev || '|' || r.head || '|' || public.audit_field((seq + n)::text) || '|' || r.tail,
            'UTF8')), 'hex');
        hashes[n] := prev;
        last_until := r.retention_until;
    END LOOP;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    PERFORM set_config('gad.audit_seal', 'on', true);
    UPDATE public.audit_logs a SET chain_seq = u.seq, prev_hash = u.prev, row_hash = u.hash
    FROM unnest(ids, seqs, prevs, hashes) AS u(id, seq, prev, hash)
    WHERE a.id = u.id AND a.chain_seq IS NULL;
    GET DIAGNOSTICS updated = ROW_COUNT;
    PERFORM set_config('gad.audit_seal', 'off', true);
    IF updated <> n THEN
        RAISE EXCEPTION 'audit rows changed while being sealed' USING ERRCODE = 'serialization_failure';
    END IF;
    UPDATE public.audit_chain_head
    SET last_seq = seq + n, last_hash = prev, updated_at = least(now(), last_until - interval '365 days')
    WHERE id = 1;
    RETURN n;
END $$;

-- Retention: as before, but explicitly only over sealed rows (an unsealed row is not in the
-- chain yet, so it cannot be part of its purged prefix).
CREATE OR REPLACE FUNCTION audit_purge_expired(batch integer) RETURNS bigint
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
              FROM public.audit_logs a WHERE a.chain_seq IS NOT NULL
              ORDER BY a.chain_seq LIMIT greatest(batch, 1)) s
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

REVOKE EXECUTE ON FUNCTION audit_seal(integer) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gad_app') THEN
        GRANT EXECUTE ON FUNCTION audit_seal(integer) TO gad_app;
    END IF;
END $$;
