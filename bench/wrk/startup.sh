#!/usr/bin/env bash
# Process start → first 200 on /api/v1/health, and idle RSS after start (issue 2 targets:
# < 200 ms, < 30 MiB). Needs DATABASE_URL; the binary defaults to target/release/gad.
set -euo pipefail
GAD="${GAD:-target/release/gad}"
PORT="${PORT:-8011}"
export PORT HOST=127.0.0.1 ENVIRONMENT="${ENVIRONMENT:-development}" LOG_LEVEL=warn
for i in 1 2 3 4 5; do
  start=$(date +%s%N)
  "$GAD" serve >/dev/null 2>&1 &
  pid=$!
  until curl -fs "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "gad serve exited (is DATABASE_URL set?)" >&2; exit 1; }
    sleep 0.002
  done
  end=$(date +%s%N)
  echo "run $i: start→first 200: $(( (end - start) / 1000000 )) ms"
  sleep 2
  echo "run $i: idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
