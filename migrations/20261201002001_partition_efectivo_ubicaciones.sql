-- Issue 20: the position history becomes a table partitioned by day (UTC), so that retention
-- drops whole partitions (never a row-by-row DELETE) and a trail reads only the days it asks for.
--
-- Changes from the unpartitioned table of 20261128000003:
-- * PARTITION BY RANGE (recorded_at), one partition per UTC day named
--   efectivo_ubicaciones_pYYYYMMDD. No DEFAULT partition: a default partition forbids
--   DETACH PARTITION … CONCURRENTLY, the only detach that does not block ingest. Instead the
--   partitions are created ahead (here, by the background job and, as a last resort, by the
--   ingest writer when an insert finds no partition), and the API refuses fixes older than the
--   retention window or from the future.
-- * No primary key and no unique constraint on uuid: on a partitioned table they would have to
--   include recorded_at, and no query looks rows up by id or uuid. The uuid column keeps its
--   default (contract §15); ids still come from the same sequence.
-- * No foreign key to efectivos: the writer inserts only ids it has just locked in efectivos in
--   the same transaction, and efectivos are never hard-deleted. A foreign key would cost one
--   check per row and, worse, detaching or dropping a partition would have to create or remove
--   triggers on efectivos, locking out every position update while it does.
-- * Indexes only where a query needs them: (efectivo_id, recorded_at) for an officer's trail,
--   and a BRIN on recorded_at for time-window scans across officers (replay); the former
--   standalone btree on recorded_at is gone (partition pruning does its work).

ALTER TABLE efectivo_ubicaciones RENAME TO efectivo_ubicaciones_unpartitioned;

CREATE TABLE efectivo_ubicaciones (
    id          bigint NOT NULL DEFAULT nextval('efectivo_ubicaciones_id_seq'),
    uuid        uuid NOT NULL DEFAULT gen_random_uuid(),
    efectivo_id bigint NOT NULL,
    geom        geography(Point, 4326) NOT NULL,
    accuracy_m  double precision,
    heading     double precision,
    speed       double precision,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (recorded_at);

ALTER SEQUENCE efectivo_ubicaciones_id_seq OWNED BY efectivo_ubicaciones.id;

-- Creates the missing day partitions from first_day to last_day (inclusive, UTC days) and
-- returns how many it created. Each is created standalone and then attached: ATTACH takes only
-- SHARE UPDATE EXCLUSIVE on the parent, so inserts keep flowing (CREATE TABLE … PARTITION OF
-- would take ACCESS EXCLUSIVE). Serialised by an advisory lock so that several instances (or
-- the job and the writer) never race on the same day.
CREATE FUNCTION efectivo_ubicaciones_ensure_partitions(first_day date, last_day date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    part text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7345020);
    FOR d IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
        part := 'efectivo_ubicaciones_p' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE efectivo_ubicaciones INCLUDING DEFAULTS)', part);
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

-- Partitions for every day that holds a row, and for today and the next 7 days.
SELECT efectivo_ubicaciones_ensure_partitions(
    LEAST(COALESCE(min(recorded_at AT TIME ZONE 'UTC')::date, today), today),
    GREATEST(COALESCE(max(recorded_at AT TIME ZONE 'UTC')::date, today), today + 7))
FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS today) t
LEFT JOIN efectivo_ubicaciones_unpartitioned ON true
GROUP BY today;

INSERT INTO efectivo_ubicaciones (id, uuid, efectivo_id, geom, accuracy_m, heading, speed,
                                  recorded_at, created_at, updated_at)
SELECT id, uuid, efectivo_id, geom, accuracy_m, heading, speed, recorded_at, created_at, updated_at
FROM efectivo_ubicaciones_unpartitioned;

DROP TABLE efectivo_ubicaciones_unpartitioned;

-- Built after the copy (one sort per partition instead of row-by-row maintenance); every
-- partition created later gets them from the parent.
CREATE INDEX efectivo_ubicaciones_efectivo_time_idx
    ON efectivo_ubicaciones (efectivo_id, recorded_at);
CREATE INDEX efectivo_ubicaciones_recorded_at_brin
    ON efectivo_ubicaciones USING brin (recorded_at) WITH (pages_per_range = 32);
