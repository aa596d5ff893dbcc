-- Commit → sealed window, measured from inside the database: a procedure inserts one audit row,
-- commits, then polls (every 2 ms, each poll a fresh snapshot) until the row has its chain_seq;
-- the time from just after the commit to the first poll that sees it sealed is the window.
-- Needs a sealer running (gad serve, or run.sh's side loop).  psql -v n=200 -f window.sql DB
CREATE TABLE IF NOT EXISTS seal_window (id bigint, window_ms float8);
TRUNCATE seal_window;
CREATE OR REPLACE PROCEDURE seal_probe(n integer) LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
    t0 timestamptz;
    s bigint;
BEGIN
    FOR i IN 1..n LOOP
        INSERT INTO audit_logs (event_type) VALUES ('seal_probe') RETURNING id INTO rid;
        COMMIT;
        t0 := clock_timestamp();
        LOOP
            SELECT chain_seq INTO s FROM audit_logs WHERE id = rid;
            EXIT WHEN s IS NOT NULL;
            PERFORM pg_sleep(0.002);
            EXIT WHEN clock_timestamp() - t0 > interval '30 seconds';
        END LOOP;
        INSERT INTO seal_window VALUES (rid, extract(epoch FROM clock_timestamp() - t0) * 1000);
        COMMIT;
        -- A random pause over two periods, so probes land at random phases of the sealer's
        -- period (a fixed pause would lock them to one phase).
        PERFORM pg_sleep(random() * 1.0);
    END LOOP;
END $$;
CALL seal_probe(:n);
SELECT count(*) AS probes,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY window_ms)::numeric, 1) AS p50_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY window_ms)::numeric, 1) AS p99_ms,
       round(max(window_ms)::numeric, 1) AS max_ms
FROM seal_window;
