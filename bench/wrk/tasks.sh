#!/usr/bin/env bash
# Issue 5: task endpoints at 64 connections, authenticated as the seeded supervisor:
#   (a) GET /api/v1/tasks?limit=100   (b) GET /api/v1/tasks/{id} (random existing ids)
#   (c) POST /api/v1/tasks (unique codigo per request; zero errors expected).
# Server: `gad migrate && gad seed --usuarios 1000 --efectivos 1000 --tareas 10000`,
# RATE_LIMITING_ENABLED=false.
# Usage: tasks.sh [BASE_URL] [DURATION] [DATABASE_URL]   (or the same names as env vars)
set -euo pipefail
BASE="${1:-${BASE_URL:-http://127.0.0.1:8000}}"
DUR="${2:-${DURATION:-15s}}"
DB="${3:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gad}}"
EMAIL="${EMAIL:-supervisor1@gad.local}"
PASSWORD="${PASSWORD:-Supervisor2026!}"
DELEGADO_EMAIL="${DELEGADO_EMAIL:-efectivo1@gad.local}"
DIR="$(cd "$(dirname "$0")" && pwd)"

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || sudo apt-get install -y wrk; }
command -v psql >/dev/null || { echo "psql is required" >&2; exit 1; }
PSQL=(psql "$DB" -X -v ON_ERROR_STOP=1 -Atq)

TOKEN="$(curl -fsS -X POST "$BASE/api/v1/auth/login" \
  --data-urlencode "username=$EMAIL" --data-urlencode "password=$PASSWORD" \
  | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || { echo "login as $EMAIL failed" >&2; exit 1; }

IFS='|' read -r MIN_ID MAX_ID N_TASKS < <("${PSQL[@]}" -c \
  "SELECT min(id), max(id), count(*) FROM tareas WHERE deleted_at IS NULL")
[ -n "$MIN_ID" ] || { echo "no tasks in the database: run gad seed --tareas 10000" >&2; exit 1; }
DELEGADO="$("${PSQL[@]}" -c "SELECT id FROM usuarios WHERE lower(email) = lower('$DELEGADO_EMAIL') AND deleted_at IS NULL")"
[ -n "$DELEGADO" ] || { echo "$DELEGADO_EMAIL not found: run gad seed" >&2; exit 1; }
RUN_ID="$(date +%s)$$"

echo "== $BASE, $DUR per scenario, 64 connections; $N_TASKS tasks (ids $MIN_ID..$MAX_ID)"
echo
echo "== (a) GET /api/v1/tasks?limit=100"
wrk -t1 -c64 -d"$DUR" --latency -s "$DIR/tasks_list.lua" "$BASE/api/v1/tasks?limit=100" -- "$TOKEN"
echo
echo "== (b) GET /api/v1/tasks/{id}, random ids in $MIN_ID..$MAX_ID"
wrk -t1 -c64 -d"$DUR" --latency -s "$DIR/tasks_get.lua" "$BASE" -- "$TOKEN" "$MIN_ID" "$MAX_ID"
echo
echo "== (c) POST /api/v1/tasks, unique codigo per request (delegado_usuario_id=$DELEGADO)"
wrk -t1 -c64 -d"$DUR" --latency -s "$DIR/tasks_create.lua" "$BASE/api/v1/tasks" \
  -- "$TOKEN" "$DELEGADO" "$RUN_ID"
"${PSQL[@]}" -F ' ' -c "SELECT 'tasks created by this run (database):', count(*) FROM tareas WHERE codigo LIKE 'WRK-$RUN_ID-%'"
