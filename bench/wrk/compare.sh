#!/usr/bin/env bash
# A/B of two (or more) gad binaries on the same machine, alternating, so that a change is judged
# against the machine's speed of the moment (shared VMs drift by ±20 % within minutes).
#
#   bench/wrk/compare.sh SCENARIO ROUNDS BIN...
#
# SCENARIO: login     POST /api/v1/auth/login (form) as supervisor1, 8 connections (argon2id bound)
#           list      GET /api/v1/tasks?limit=100 as supervisor1 (database $TASKS_DB, seeded with
#                     --usuarios 1000 --efectivos 1000 --tareas 10000)
#           get       GET /api/v1/tasks/{id}, random existing ids, as supervisor1 ($TASKS_DB)
#           create    POST /api/v1/tasks with unique codigos, as supervisor1 ($TASKS_DB)
#           emergency bench/wrk/emergency.sh (database $EMERGENCY_DB, seeded with --efectivos 100000);
#                     before each run every officer is made available again and efectivos vacuumed
#           me        GET /api/v1/users/me as supervisor1, 64 connections ($TASKS_DB; any seeded
#                     database will do): authentication and one read. The session cache needs
#                     Redis: give REDIS_URL to measure it (it is passed to the server when set).
# A BIN named gad-bare (bench/bare, a bare axum server) is measured on its GET /me whatever the
# scenario: the yardstick of the ratios, alternated with the others.
# Each run starts the binary on :$PORT (rate limiting off, LOG_LEVEL=warn), warms up 3 s, measures
# $DURATION and prints req/s, p50, p99 and the server's CPU time per request (from /proc).
set -euo pipefail
SCENARIO="${1:?scenario: login | list | get | create | emergency | me}"
ROUNDS="${2:?rounds}"
shift 2
[ "$#" -ge 1 ] || { echo "give at least one binary" >&2; exit 2; }
PORT="${PORT:-8031}"
DURATION="${DURATION:-10s}"
TASKS_DB="${TASKS_DB:-postgres://postgres@127.0.0.1:5432/gad_bench5}"
EMERGENCY_DB="${EMERGENCY_DB:-postgres://postgres@127.0.0.1:5432/gad_bench}"
DIR="$(cd "$(dirname "$0")" && pwd)"
BASE="http://127.0.0.1:$PORT"

case "$SCENARIO" in
  login|list|get|create|me) DB="$TASKS_DB"; EMAIL=supervisor1@gad.local; PASSWORD='Supervisor2026!' ;;
  emergency) DB="$EMERGENCY_DB"; EMAIL=supervisor1@gad.local; PASSWORD='Supervisor2026!' ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
trap stop_server EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_one() {
  local bin="$1"
  local out t0 t1 n token
  if [ "$(basename "$bin")" = gad-bare ]; then
    PORT="$PORT" "$bin" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -fs "$BASE/me" >/dev/null 2>&1 && break; sleep 0.1; done
    wrk -t1 -c64 -d3s "$BASE/me" >/dev/null
    t0=$(cpu_ticks "$SERVER_PID")
    out="$(wrk -t1 -c64 -d"$DURATION" --latency "$BASE/me")"
    t1=$(cpu_ticks "$SERVER_PID")
    report "$bin" "$out" "$t0" "$t1"
    return
  fi
  DATABASE_URL="$DB" PORT="$PORT" JWT_SECRET_KEY="${JWT_SECRET_KEY:-compare-compare-compare-compare-compare}" \
    ENVIRONMENT="${ENVIRONMENT:-development}" REDIS_URL="${REDIS_URL:-}" \
    RATE_LIMITING_ENABLED=false LOG_LEVEL=warn "$bin" serve >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -fs "$BASE/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  token="$(curl -fsS -X POST "$BASE/api/v1/auth/login" --data-urlencode "username=$EMAIL" \
    --data-urlencode "password=$PASSWORD" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
  if [ "$SCENARIO" = me ]; then
    wrk -t1 -c64 -d3s -H "Authorization: Bearer $token" "$BASE/api/v1/users/me" >/dev/null
    t0=$(cpu_ticks "$SERVER_PID")
    out="$(wrk -t1 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $token" "$BASE/api/v1/users/me")"
    t1=$(cpu_ticks "$SERVER_PID")
  elif [ "$SCENARIO" = login ]; then
    # Login is bound by argon2id: as many connections as cores x 4, not 64.
    wrk -t1 -c8 -d3s -s "$DIR/login.lua" "$BASE/api/v1/auth/login" >/dev/null
    t0=$(cpu_ticks "$SERVER_PID")
    out="$(wrk -t1 -c8 -d"$DURATION" --latency -s "$DIR/login.lua" "$BASE/api/v1/auth/login")"
    t1=$(cpu_ticks "$SERVER_PID")
  elif [ "$SCENARIO" = list ] || [ "$SCENARIO" = get ] || [ "$SCENARIO" = create ]; then
    local script url args
    case "$SCENARIO" in
      list) script=tasks_list.lua; url="$BASE/api/v1/tasks?limit=100"; args=("$token") ;;
      get)
        script=tasks_get.lua; url="$BASE"
        args=("$token" "$(psql "$DB" -X -Atqc "SELECT min(id) FROM tareas WHERE deleted_at IS NULL")"
              "$(psql "$DB" -X -Atqc "SELECT min(id) + 9000 FROM tareas WHERE deleted_at IS NULL")") ;;
      create)
        script=tasks_create.lua; url="$BASE/api/v1/tasks"
        args=("$token" "$(psql "$DB" -X -Atqc "SELECT id FROM usuarios WHERE email = 'efectivo1@gad.local'")" "$(date +%s%N)") ;;
    esac
    wrk -t1 -c64 -d3s -s "$DIR/$script" "$url" -- "${args[@]}" >/dev/null
    # A fresh run id for the measured run, so its codigos never collide with the warm-up's.
    [ "$SCENARIO" = create ] && args[2]="$(date +%s%N)"
    t0=$(cpu_ticks "$SERVER_PID")
    out="$(wrk -t1 -c64 -d"$DURATION" --latency -s "$DIR/$script" "$url" -- "${args[@]}")"
    t1=$(cpu_ticks "$SERVER_PID")
  else
    psql "$DB" -X -Atq -c "UPDATE tareas SET estado = 'CANCELLED' WHERE codigo LIKE 'EMG-%' AND estado = 'IN_PROGRESS'" \
      -c "UPDATE despachos SET estado = 'CERRADO' WHERE estado = 'PENDIENTE'" -c "VACUUM (ANALYZE) despachos" \
      -c "UPDATE efectivos SET estado_disponibilidad = 'DISPONIBLE' WHERE estado_disponibilidad = 'EN_TAREA'" \
      -c "UPDATE efectivos SET ubicacion_updated_at = now() WHERE geom IS NOT NULL AND ubicacion_updated_at < now() - interval '10 minutes'" \
      -c "VACUUM (ANALYZE) efectivos"
    t0=$(cpu_ticks "$SERVER_PID")
    # As a supervisor at the desk: the same dispatch path, without the per-officer bound on SOS
    # (one officer raising 1,000 emergencies a second is what that bound refuses).
    out="$(EMAIL=supervisor1@gad.local PASSWORD='Supervisor2026!' bash "$DIR/emergency.sh" "$BASE" "$DURATION" "$DB" 2>&1)"
    t1=$(cpu_ticks "$SERVER_PID")
  fi
  report "$bin" "$out" "$t0" "$t1"
}

report() {
  local bin="$1" out="$2" t0="$3" t1="$4" n
  n=$(echo "$out" | awk '/requests in/{print $1; exit}')
  echo "$out" | awk -v bin="$bin" -v ticks=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" '
    /Requests\/sec/{rps=$2} / 50%/{p50=$2} / 99%/{p99=$2} /timeout/{to=$NF} /Non-2xx/{bad=$NF}
    END {printf "%-40s %8s req/s  p50 %-9s p99 %-9s server CPU %4.0f µs/req  non-2xx %s\n", bin, rps, p50, p99, ticks/hz*1e6/n, bad+0}'
  stop_server
}

echo "== $SCENARIO, $ROUNDS rounds, $DURATION per run, 64 connections; health of the machine now:"
uptime
for r in $(seq "$ROUNDS"); do
  for bin in "$@"; do run_one "$bin"; done
done
