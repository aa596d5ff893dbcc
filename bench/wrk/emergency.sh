#!/usr/bin/env bash
# Emergency dispatch under load: POST /api/v1/tasks/emergency at 64 connections, random points
# within ~10 km of -34.60,-58.38, while a background loop returns officers to DISPONIBLE and
# cancels the emergency tasks older than 1 s (so supply never runs out). Prints wrk's latency,
# the per-status counts (404 = no officer available), a double-assignment check and
# EXPLAIN ANALYZE of the dispatch statement.
#
# Server: `gad migrate && gad seed --efectivos 100000`, RATE_LIMITING_ENABLED=false.
# Usage: emergency.sh [BASE_URL] [DURATION] [DATABASE_URL]   (or the same names as env vars)
set -euo pipefail
BASE="${1:-${BASE_URL:-http://127.0.0.1:8000}}"
DUR="${2:-${DURATION:-15s}}"
DB="${3:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gad}}"
EMAIL="${EMAIL:-efectivo1@gad.local}"
PASSWORD="${PASSWORD:-Efectivo2026!}"
CENTER_LAT="${CENTER_LAT:--34.60}"
CENTER_LNG="${CENTER_LNG:--58.38}"
DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || sudo apt-get install -y wrk; }
command -v psql >/dev/null || { echo "psql is required" >&2; exit 1; }
PSQL=(psql "$DB" -X -v ON_ERROR_STOP=1 -Atq)

TOKEN="$(curl -fsS -X POST "$BASE/api/v1/auth/login" \
  --data-urlencode "username=$EMAIL" --data-urlencode "password=$PASSWORD" \
  | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || { echo "login as $EMAIL failed" >&2; exit 1; }
USER_ID="$("${PSQL[@]}" -c "SELECT id FROM usuarios WHERE lower(email) = lower('$EMAIL')")"

# Cancels open emergency tasks older than 1 s and frees their officers, in one statement.
RESET_SQL="WITH closed AS (
    UPDATE tareas SET estado = 'CANCELLED', fin_real = now(), updated_at = now()
    WHERE estado = 'IN_PROGRESS' AND codigo LIKE 'EMG-%' AND created_at < now() - interval '1 second'
    RETURNING id, efectivos_asignados),
  hist AS (
    INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota)
    SELECT id, 'IN_PROGRESS'::estado_tarea, 'CANCELLED'::estado_tarea, NULL::bigint, 'bench reset' FROM closed)
  UPDATE efectivos SET estado_disponibilidad = 'DISPONIBLE', ultima_actualizacion_estado = now()
  WHERE estado_disponibilidad = 'EN_TAREA' AND id IN (SELECT unnest(efectivos_asignados) FROM closed)"

START="$("${PSQL[@]}" -c "SELECT now()")"
AVAILABLE="$("${PSQL[@]}" -c "SELECT count(*) FROM efectivos WHERE estado_disponibilidad = 'DISPONIBLE' AND deleted_at IS NULL AND geom IS NOT NULL")"
echo "== emergency dispatch: $BASE, $DUR, 64 connections; $AVAILABLE officers available"

# One psql session fed every RESET_EVERY seconds (no process per round): officers come back in
# small steady batches, as tasks closing one by one would return them, not in one burst.
# Its own session (setsid) so that stopping it stops the loop and psql together.
export RESET_SQL DB
export RESET_EVERY="${RESET_EVERY:-0.1}"
setsid bash -c 'while :; do printf "%s;\n" "$RESET_SQL"; sleep "$RESET_EVERY"; done | psql "$DB" -X -q' \
  </dev/null >/dev/null 2>&1 &
RESET_PID=$!
stop_reset() { kill -- "-$RESET_PID" 2>/dev/null || kill "$RESET_PID" 2>/dev/null || true; }
trap stop_reset EXIT

wrk -t1 -c64 -d"$DUR" --latency -s "$DIR/emergency.lua" "$BASE/api/v1/tasks/emergency" \
  -- "$TOKEN" "$CENTER_LAT" "$CENTER_LNG" 10

stop_reset
wait "$RESET_PID" 2>/dev/null || true
trap - EXIT

echo "== database check"
"${PSQL[@]}" -F ' ' -c "
  SELECT 'emergency tasks created during the run:', count(*) FROM tareas
  WHERE codigo LIKE 'EMG-%' AND created_at >= '$START'"
# Race freedom: no officer may be on two open emergency tasks at once.
"${PSQL[@]}" -F ' ' -c "
  SELECT 'officers on more than one open emergency task (must be 0):', count(*) FROM (
    SELECT e FROM tareas, unnest(efectivos_asignados) e
    WHERE codigo LIKE 'EMG-%' AND estado = 'IN_PROGRESS' GROUP BY e HAVING count(*) > 1) d"
sleep 1.1
"${PSQL[@]}" -c "$RESET_SQL"

echo "== EXPLAIN ANALYZE of the dispatch statement (rolled back)"
# The exact statement of dispatch_sql() (crates/gad-api/src/routes/emergency.rs), extracted from
# the source; if that fails, the equivalent officer pick (SELECT … FOR UPDATE SKIP LOCKED).
PT='ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326)::geography'
SRC="$ROOT/crates/gad-api/src/routes/emergency.rs"
DISPATCH=""
if [ -f "$SRC" ]; then
  DISPATCH="$(sed -n '/^pub fn dispatch_sql/,/^}/p' "$SRC" | sed -n '/"WITH pick AS (/,/FROM result"/p' \
    | sed -e 's/^ *"WITH pick/WITH pick/' -e 's/FROM result"$/FROM result/' -e "s/{pt}/$PT/g")"
  # {eligible} is store::dispatch::eligible_sql(12, 4) (crates/gad-api/src/store/dispatch.rs).
  ELIGIBLE="e.estado_disponibilidad = 'DISPONIBLE' AND e.deleted_at IS NULL AND e.geom IS NOT NULL AND e.ubicacion_updated_at > now() - make_interval(mins => \$12::int) AND e.usuario_id IS DISTINCT FROM \$4::int8 AND COALESCE((SELECT du.deleted_at IS NULL AND du.verificado FROM usuarios du WHERE du.id = e.usuario_id), false)"
  DISPATCH="${DISPATCH//\{eligible\}/$ELIGIBLE}"
fi
if [ -n "$DISPATCH" ] && ! grep -q '[{}]' <<<"$DISPATCH"; then
  PARAMS='float8, float8, float8, int8, text, int8, text, text, text, text, text, int8, float8'
  ARGS="$CENTER_LNG, $CENTER_LAT, 10000, $USER_ID, 'bench explain', NULL, NULL, '2026-11-28T00:00:00.000Z', NULL, NULL, NULL, 30, 60"
else
  echo "(dispatch_sql() not found in $SRC: showing the equivalent officer pick)"
  DISPATCH="SELECT e.id, e.usuario_id, ST_Distance(e.geom, $PT) AS distance_m
    FROM efectivos e
    WHERE e.estado_disponibilidad = 'DISPONIBLE' AND e.deleted_at IS NULL AND e.geom IS NOT NULL
      AND ST_DWithin(e.geom, $PT, \$3::float8)
    ORDER BY e.geom <-> $PT LIMIT 1 FOR UPDATE OF e SKIP LOCKED"
  PARAMS='float8, float8, float8'
  ARGS="$CENTER_LNG, $CENTER_LAT, 10000"
fi
# The server's connections plan generically (plan_cache_mode, crates/gad-api/src/db.rs): show that plan.
# The first geography call in a backend costs ≈ 15 ms once (PostGIS loads its SRS cache); the
# server's pooled connections are long past it, so one dispatch runs first, unshown.
psql "$DB" -X -v ON_ERROR_STOP=1 -q <<SQL
BEGIN;
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE gad_dispatch($PARAMS) AS $DISPATCH;
\\o /dev/null
EXECUTE gad_dispatch($ARGS);
\\o
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE gad_dispatch($ARGS);
ROLLBACK;
SQL
