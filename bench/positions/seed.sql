-- Issue 20 bench data, seeded by SQL (not HTTP): 100 000 officers around Madrid, each with a
-- current position, and 12 full past days of history (864 000 fixes a day, 10 368 000 rows):
-- officers 1..50 report every 10 s all day (8 640 fixes a day each: the trail case), the other
-- 432 000 fixes a day are spread over the remaining officers.
-- Works on both schemas (unpartitioned before issue 20, partitioned after): the partitions are
-- created first when the function exists.
\set ON_ERROR_STOP on
SET synchronous_commit = off;

INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
SELECT 'bench' || g || '@gad.local', 'B' || g, 'Efectivo', 'Bench ' || g, 'LEVEL_1',
       'x', true
FROM generate_series(1, 100000) g;

INSERT INTO efectivos (usuario_id, codigo_interno, unidad, especialidad, estado_disponibilidad,
                       geom, ubicacion_updated_at)
SELECT u.id, 'BENCH-' || u.id, 'Unidad ' || (u.id % 50), 'patrullaje', 'DISPONIBLE',
       ST_SetSRID(ST_MakePoint(-3.7038 + (random() - 0.5) * 0.6,
                               40.4168 + (random() - 0.5) * 0.4), 4326)::geography,
       now() - interval '1 hour'
FROM usuarios u WHERE u.email LIKE 'bench%@gad.local'
ORDER BY u.id;

DO $$
BEGIN
  IF to_regproc('efectivo_ubicaciones_ensure_partitions') IS NOT NULL THEN
    PERFORM efectivo_ubicaciones_ensure_partitions(
      (now() AT TIME ZONE 'UTC')::date - 12, (now() AT TIME ZONE 'UTC')::date + 7);
  END IF;
END $$;

-- Day by day (one statement per day keeps each transaction and sort bounded).
DO $$
DECLARE
  d int;
  first_id bigint := (SELECT min(id) FROM efectivos WHERE codigo_interno LIKE 'BENCH-%');
  day0 timestamptz;
BEGIN
  FOR d IN REVERSE 12..1 LOOP
    day0 := ((now() AT TIME ZONE 'UTC')::date - d)::timestamp AT TIME ZONE 'UTC';
    -- 50 officers, one fix every 10 s.
    INSERT INTO efectivo_ubicaciones (efectivo_id, geom, accuracy_m, speed, recorded_at)
    SELECT first_id + o, ST_SetSRID(ST_MakePoint(-3.70 + o * 0.001 + sin(k / 500.0) * 0.02,
                                                  40.41 + cos(k / 700.0) * 0.02), 4326)::geography,
           5, 1.2, day0 + k * interval '10 seconds'
    FROM generate_series(0, 49) o, generate_series(0, 8639) k;
    -- 432 000 more over the other officers.
    INSERT INTO efectivo_ubicaciones (efectivo_id, geom, accuracy_m, speed, recorded_at)
    SELECT first_id + 50 + (g % 99950), ST_SetSRID(ST_MakePoint(-3.7038 + (random() - 0.5) * 0.6,
                                                   40.4168 + (random() - 0.5) * 0.4), 4326)::geography,
           8, 0.5, day0 + (g * 0.2) * interval '1 second'
    FROM generate_series(0, 431999) g;
    RAISE NOTICE 'day -%: done', d;
  END LOOP;
END $$;

VACUUM (ANALYZE) efectivos;
VACUUM (ANALYZE) efectivo_ubicaciones;
SELECT count(*) AS history_rows FROM efectivo_ubicaciones;
