#!/usr/bin/env bash
# Issue 20 benchmark: positions at fleet scale (100 000 officers, 10 368 000 history rows).
# Databases come from seed.sh, each made by its binary's own migrations:
#   BEFORE_DB (default gad_pos_before) for BEFORE (default /work/bin/gad-before, unpartitioned),
#   AFTER_DB  (default gad_pos_after)  for AFTER  (default target/release/gad, partitioned).
#
#   run.sh compare ROUNDS   ingest rate, alternating BEFORE and AFTER (compare.sh-style), wrk -t1 -c64
#   run.sh retention ROUNDS AFTER: pairs of runs, the second one drops the oldest day partition
#                           (DETACH … CONCURRENTLY + DROP, the statements of partitions::maintain)
#                           10 s into the run; prints the drop time and both runs' p99
#   run.sh trail N          AFTER, idle: N requests for one officer's trail over a full past day
#                           (8 640 fixes), default max_points (5000) and max_points=1000
#   run.sh bbox             AFTER: a level-2 socket with a 1 km box during an ingest run
#                           (crates/gad-testkit/src/bin/bbox_probe.rs; PROBE= to give the binary).
#                           OFFICERS=2000 BOX=-4.1,40.1,-3.3,40.7 concentrates the load on 2 000
#                           officers (~1 fix/s each) and watches the whole area: the coalescing case
#   run.sh gateway ROUNDS   fixes/s alternating BEFORE (PUT, one fix per request, wrk -c64) and
#                           AFTER through the gateway route (POST /api/v1/ubicaciones, B=50 fixes
#                           per request, wrk -c16): the same random officers, 200 = committed
#   run.sh floor            AFTER: wrk -c64 10 s on GET /health/live (no auth, no database) and on
#                           GET /users/me (the authentication query + one read): the ceiling of
#                           any authenticated one-fix-per-request route on this machine
#   run.sh zones ROUNDS     AFTER: ingest rate with 10 000 of the officers on a cuadrante assignment
#                           (a shift naming one of 4 cuadrantes of a bench comisaría, so every fix
#                           of theirs is tested against it and exits are tracked) against none,
#                           alternating on the same database (the shifts are removed for "none";
#                           the zone watch job reloads its set at start)
#   run.sh crash            AFTER: wrk records every 200; kill -9 the server 10 s in, restart it
#                           2 s later; then every recorded (officer, recorded_at) must be in history
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=bench/positions
PORT="${PORT:-8031}"
BASE="http://127.0.0.1:$PORT"
DURATION="${DURATION:-20}"
SERVER="${PGSERVER:-postgres://postgres@127.0.0.1:5432}"
BEFORE="${BEFORE:-/work/bin/gad-before}"
AFTER="${AFTER:-target/release/gad}"
BEFORE_DB="$SERVER/${BEFORE_DB:-gad_pos_before}"
AFTER_DB="$SERVER/${AFTER_DB:-gad_pos_after}"
BOX="${BOX:--3.7097,40.4123,-3.6979,40.4213}"   # ~1 km x 1 km at Puerta del Sol
SERVER_PID=""
ledger=/tmp/positions-ledger.csv   # the crash test's record of every answer 200

stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
trap stop_server EXIT

start_server() { # BIN DB
  ENVIRONMENT=development DATABASE_URL="$2" PORT="$PORT" HOST=127.0.0.1 JWT_SECRET_KEY="bench-bench-bench-bench-bench-bench-bench" \
    RATE_LIMITING_ENABLED=false LOG_LEVEL=warn "$1" serve >>/tmp/positions-bench-server.log 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do curl -fs "$BASE/api/v1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}

token() {
  curl -fsS -X POST "$BASE/api/v1/auth/login" --data-urlencode "username=benchsup@gad.local" \
    --data-urlencode 'password=BenchPositions2026!' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

first_id() { psql "$1" -X -Atq -c "SELECT min(id) FROM efectivos WHERE codigo_interno LIKE 'BENCH-%'"; }

summary() { # LABEL < wrk output
  awk -v label="$1" '
    /Requests\/sec/{rps=$2} / 50%/{p50=$2} / 99%/{p99=$2} /Non-2xx/{non=$NF} /Socket errors/{sock=$0}
    /requests in/{n=$1}
    END {printf "%-8s %9s req/s  p50 %-9s p99 %-9s requests %s  non-2xx %s  %s\n", label, rps, p50, p99, n, (non==""?0:non), sock}'
}

ingest() { # LABEL BIN DB [extra command run 10 s in, in the background]
  local label="$1" bin="$2" db="$3" extra="${4:-}"
  psql "$db" -X -Atq -c "VACUUM (ANALYZE) efectivos" >/dev/null
  start_server "$bin" "$db"
  local tok first out
  tok="$(token)"; first="$(first_id "$db")"
  wrk -t1 -c64 -d3s -s "$DIR/ubicacion.lua" "$BASE" -- "$tok" "$first" >/dev/null
  local side=""
  if [ -n "$extra" ]; then (sleep 10; eval "$extra") & side=$!; fi
  out="$(wrk -t1 -c64 -d"${DURATION}s" --latency -s "$DIR/ubicacion.lua" "$BASE" -- "$tok" "$first")"
  if [ -n "$side" ]; then wait "$side"; fi
  echo "$out" | summary "$label"
  stop_server
}

drop_oldest() {
  local p
  # The oldest day holding rows (the job also keeps empty days back to the retention limit).
  p="$(psql "$AFTER_DB" -X -Atq -c "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'efectivo_ubicaciones'::regclass AND c.reltuples > 0 ORDER BY c.relname LIMIT 1")"
  local rows; rows="$(psql "$AFTER_DB" -X -Atq -c "SELECT count(*) FROM $p")"
  local t0 t1; t0=$(date +%s%N)
  psql "$AFTER_DB" -X -Atq -c "ALTER TABLE efectivo_ubicaciones DETACH PARTITION $p CONCURRENTLY" -c "DROP TABLE $p" >/dev/null
  t1=$(date +%s%N)
  echo "   dropped $p ($rows rows) in $(( (t1 - t0) / 1000000 )) ms (detach concurrently + drop)"
}

gateway() { # AFTER, B fixes per request: prints requests/s and fixes/s
  local b="${B:-50}"
  psql "$AFTER_DB" -X -Atq -c "VACUUM (ANALYZE) efectivos" >/dev/null
  start_server "$AFTER" "$AFTER_DB"
  local tok first out
  tok="$(token)"; first="$(first_id "$AFTER_DB")"
  wrk -t1 -c"${GW_CONN:-16}" -d3s -s "$DIR/lote.lua" "$BASE" -- "$tok" "$first" 100000 "$b" >/dev/null
  out="$(wrk -t1 -c"${GW_CONN:-16}" -d"${DURATION}s" --latency -s "$DIR/lote.lua" "$BASE" -- "$tok" "$first" 100000 "$b")"
  echo "$out" | summary "gateway"
  echo "$out" | awk -v b="$b" '/Requests\/sec/{printf "         = %.0f fixes/s (%d fixes per request)\n", $2 * b, b}'
  stop_server
}

zones_setup() {
  psql "$AFTER_DB" -X -Atq -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
INSERT INTO zonas (nombre, tipo, geom, area_m2)
SELECT 'Bench comisaría', 'comisaria', ST_Multi(ST_MakeEnvelope(-4.01, 40.21, -3.40, 40.62, 4326)),
       ST_Area(ST_MakeEnvelope(-4.01, 40.21, -3.40, 40.62, 4326)::geography)
WHERE NOT EXISTS (SELECT 1 FROM zonas WHERE nombre = 'Bench comisaría');
INSERT INTO zonas (nombre, tipo, padre_id, geom, area_m2)
SELECT 'Bench cuadrante ' || q, 'cuadrante', c.id, g, ST_Area(g::geography)
FROM zonas c,
     LATERAL (VALUES (1, ST_Multi(ST_MakeEnvelope(-4.0, 40.22, -3.71, 40.41, 4326))),
                     (2, ST_Multi(ST_MakeEnvelope(-3.71, 40.22, -3.41, 40.41, 4326))),
                     (3, ST_Multi(ST_MakeEnvelope(-4.0, 40.41, -3.71, 40.61, 4326))),
                     (4, ST_Multi(ST_MakeEnvelope(-3.71, 40.41, -3.41, 40.61, 4326)))) AS v(q, g)
WHERE c.nombre = 'Bench comisaría'
  AND NOT EXISTS (SELECT 1 FROM zonas WHERE nombre = 'Bench cuadrante ' || q);
SQL
}

zones_watch() { # on | off
  psql "$AFTER_DB" -X -Atq -v ON_ERROR_STOP=1 -c "DELETE FROM turnos WHERE notas = 'bench zonas'" >/dev/null
  [ "$1" = on ] || return 0
  psql "$AFTER_DB" -X -Atq -v ON_ERROR_STOP=1 -c "
    INSERT INTO turnos (efectivo_id, inicio, fin, unidad, zona_id, notas, ingreso_at)
    SELECT e.id, now() - interval '1 hour', now() + interval '11 hours', 'Bench',
           (SELECT id FROM zonas WHERE nombre = 'Bench cuadrante ' || (1 + e.id % 4)), 'bench zonas', now()
      FROM efectivos e WHERE e.codigo_interno LIKE 'BENCH-%' ORDER BY e.id LIMIT 10000
    ON CONFLICT DO NOTHING" >/dev/null
}

case "${1:-}" in
  zones)
    zones_setup
    echo "== ingest, ${2:-3} rounds x ${DURATION}s, none vs 10 000 officers watched in their cuadrante; $(uptime | sed 's/.*load/load/')"
    for _ in $(seq "${2:-3}"); do
      zones_watch off
      ingest none "$AFTER" "$AFTER_DB"
      zones_watch on
      ingest watched "$AFTER" "$AFTER_DB"
      echo "         watched officers: $(psql "$AFTER_DB" -X -Atq -c "SELECT count(*) FROM zona_vigilancias"), of them outside now: $(psql "$AFTER_DB" -X -Atq -c "SELECT count(*) FROM zona_vigilancias WHERE fuera_desde IS NOT NULL")"
    done
    zones_watch off ;;
  floor)
    start_server "$AFTER" "$AFTER_DB"
    tok="$(token)"
    for path in /api/v1/health/live /api/v1/users/me; do
      wrk -t1 -c64 -d10s --latency -H "Authorization: Bearer $tok" "$BASE$path" | summary "${path#/api/v1/}"
    done ;;
  gateway)
    echo "== fixes/s, ${2:-3} rounds x ${DURATION}s: before (PUT, -c64) vs after (gateway, B=${B:-50}, -c${GW_CONN:-16}); $(uptime | sed 's/.*load/load/')"
    for _ in $(seq "${2:-3}"); do
      ingest before "$BEFORE" "$BEFORE_DB"
      gateway
    done ;;
  compare)
    echo "== ingest, ${2:-3} rounds x ${DURATION}s, wrk -t1 -c64, random officers of 100 000; $(uptime | sed 's/.*load/load/')"
    for _ in $(seq "${2:-3}"); do
      ingest before "$BEFORE" "$BEFORE_DB"
      ingest after "$AFTER" "$AFTER_DB"
    done ;;
  retention)
    for _ in $(seq "${2:-2}"); do
      ingest after "$AFTER" "$AFTER_DB"
      ingest "after+drop" "$AFTER" "$AFTER_DB" drop_oldest
    done ;;
  trail)
    start_server "$AFTER" "$AFTER_DB"
    tok="$(token)"; id="$(first_id "$AFTER_DB")"
    day="$(date -u -d yesterday +%Y-%m-%d)"
    for q in "" "&max_points=1000"; do
      url="$BASE/api/v1/efectivos/$id/ubicaciones?desde=${day}T00:00:00Z&hasta=${day}T23:59:59.999Z$q"
      curl -fsS -H "Authorization: Bearer $tok" "$url" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("   total_puntos", d["total_puntos"], "answered", len(d["puntos"]), "truncado", d["truncado"])'
      for _ in $(seq "${2:-30}"); do
        curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $tok" "$url"
      done | sort -n | awk -v q="${q:-default max_points}" '{a[NR]=$1} END {printf "trail 24 h (%s): n=%d  min %.1f ms  median %.1f ms  p95 %.1f ms  max %.1f ms\n", q, NR, a[1]*1000, a[int(NR/2)+1]*1000, a[int(NR*0.95)]*1000, a[NR]*1000}'
    done
    psql "$AFTER_DB" -X -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) SELECT count(*) FROM efectivo_ubicaciones
        WHERE efectivo_id = $id AND recorded_at BETWEEN '${day}T00:00:00Z' AND '${day}T23:59:59.999Z'" ;;
  bbox)
    start_server "$AFTER" "$AFTER_DB"
    tok="$(token)"; first="$(first_id "$AFTER_DB")"
    PROBE="${PROBE:-target/release/bbox_probe}"
    [ -x "$PROBE" ] || cargo build --release -q -p gad-testkit --bin bbox_probe
    "$PROBE" --url "ws://127.0.0.1:$PORT/ws/connect" --token "$tok" --bbox "$BOX" --secs $((DURATION + 2)) > /tmp/bbox_probe.out &
    probe=$!
    sleep 1
    wrk -t1 -c64 -d"${DURATION}s" --latency -s "$DIR/ubicacion.lua" "$BASE" -- "$tok" "$first" "${OFFICERS:-100000}" | summary "after"
    if wait $probe; then echo "bbox probe OK: $(cat /tmp/bbox_probe.out)"; else echo "bbox probe FAILED: $(cat /tmp/bbox_probe.out)"; fi ;;
  crash)
    : > "$ledger"
    start_server "$AFTER" "$AFTER_DB"
    tok="$(token)"; first="$(first_id "$AFTER_DB")"
    wrk -t1 -c64 -d30s -s "$DIR/ubicacion_record.lua" "$BASE" -- "$tok" "$first" 100000 "$ledger" > /tmp/positions-crash-wrk.out &
    wrkpid=$!
    sleep 10
    kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
    echo "   killed -9 at 10 s with $(wc -l < "$ledger") answers 200 recorded so far"
    sleep 2
    start_server "$AFTER" "$AFTER_DB"   # same JWT key: wrk's token stays valid
    wait $wrkpid || true
    stop_server
    grep -E "requests in|Socket errors|Non-2xx" /tmp/positions-crash-wrk.out || true
    psql "$AFTER_DB" -X -Atq <<SQL
CREATE TEMP TABLE ledger (efectivo_id bigint, recorded_at timestamptz);
\copy ledger FROM '$ledger' WITH (FORMAT csv)
SELECT 'answered 200: ' || count(*) || ', found in history: ' || count(h.efectivo_id)
       || ', missing: ' || (count(*) - count(h.efectivo_id))
FROM ledger l LEFT JOIN LATERAL (
  SELECT efectivo_id FROM efectivo_ubicaciones u
  WHERE u.efectivo_id = l.efectivo_id AND u.recorded_at = l.recorded_at LIMIT 1) h ON true;
SQL
    ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
