#!/usr/bin/env bash
# Issue 13 benchmark: no event lost in a burst. Two `gad serve` instances share PostgreSQL and
# Redis; the task-create benchmark runs at full speed for 10 s against instance A while a level-2
# socket on instance B counts `task_created` events. Sent (rows created) must equal received.
# Usage: bench/ws/burst.sh [DURATION]   (GAD_BIN / COUNTER_BIN: use these binaries, no build)
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-10s}"
A=8032; B=8033
DB_NAME="gad_bench_burst"
DB="postgres://postgres@127.0.0.1:5432/$DB_NAME"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
GAD="${GAD_BIN:-target/release/gad}"
COUNTER="${COUNTER_BIN:-target/release/event_counter}"
[ -n "${GAD_BIN:-}" ] || cargo build --release -q -p gad-cli -p gad-testkit --bin gad --bin event_counter
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME" >/dev/null
SECRET="burst-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ENVIRONMENT=development DATABASE_URL="$DB" JWT_SECRET_KEY="$SECRET" RATE_LIMITING_ENABLED=false LOG_LEVEL=warn HOST=127.0.0.1 \
  REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
"$GAD" seed --usuarios 5 --efectivos 10 --tareas 10 --quiet | sed -n 1p
PORT=$A "$GAD" serve >/tmp/gad-burst-a.log 2>&1 & pa=$!
PORT=$B "$GAD" serve >/tmp/gad-burst-b.log 2>&1 & pb=$!
trap 'kill $pa $pb 2>/dev/null || true; wait 2>/dev/null || true; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null' EXIT
for p in $A $B; do until curl -fs "http://127.0.0.1:$p/api/v1/health" >/dev/null 2>&1; do sleep 0.1; done; done
login() { curl -fs -X POST "http://127.0.0.1:$A/api/v1/auth/login" --data-urlencode "username=$1" --data-urlencode "password=$2" \
  | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'; }
SUP="$(login supervisor1@gad.local 'Supervisor2026!')"
WATCH="$(login supervisor2@gad.local 'Supervisor2026!')"
DELEGADO="$(psql "$DB" -Atqc "SELECT id FROM usuarios WHERE email = 'efectivo1@gad.local'")"
RUN_ID="$(date +%s)$$"
OUT="$(mktemp)"
"$COUNTER" --url "ws://127.0.0.1:$B/ws/connect" --token "$WATCH" --event task_created >"$OUT" &
cpid=$!
until grep -q ready "$OUT"; do sleep 0.1; done
echo "== POST /api/v1/tasks on instance A for $DUR (wrk -t1 -c64), socket on instance B"
wrk -t1 -c64 -d"$DUR" --latency -s bench/wrk/tasks_create.lua "http://127.0.0.1:$A/api/v1/tasks" -- "$SUP" "$DELEGADO" "$RUN_ID" \
  | grep -E "Requests/sec|requests in|Non-2xx|99%"
wait $cpid
SENT="$(psql "$DB" -Atqc "SELECT count(*) FROM tareas WHERE codigo LIKE 'WRK-$RUN_ID-%'")"
RECEIVED="$(sed -n 's/^received \([0-9]*\).*/\1/p' "$OUT")"
echo "tasks created (database): $SENT; task_created received on instance B: $RECEIVED; lost: $((SENT - RECEIVED))"
grep -h "publish queue full\|locally only" /tmp/gad-burst-a.log | head -3 || true
cat "$OUT" | tail -1
