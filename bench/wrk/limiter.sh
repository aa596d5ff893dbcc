#!/usr/bin/env bash
# Issue 4: limiter overhead on a non-exempt route (GET /api/v1/ratelimit-bench → 404 after the
# limiter; general_api class) and on GET /api/v1/health (exempt), with the limiter off, in-process,
# and on Redis. Limits are raised so nothing is rejected. Needs DATABASE_URL; GAD defaults to the
# release binary.
set -euo pipefail
GAD="${GAD:-target/release/gad}"
PORT="${PORT:-8012}"
DUR="${DUR:-15s}"
DIR="$(cd "$(dirname "$0")" && pwd)"
export ENVIRONMENT=development HOST=127.0.0.1 PORT LOG_LEVEL=warn RATE_LIMIT_GENERAL=100000000 TRUSTED_PROXY_HOSTS=127.0.0.1/32
export JWT_SECRET_KEY="${JWT_SECRET_KEY:-bench-secret-key-0123456789-abcdefghijklmnop}"
run() { # name, env...
  local name="$1"; shift
  env "$@" "$GAD" serve >/dev/null 2>&1 &
  local pid=$!
  until curl -fs "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; do kill -0 $pid || exit 1; sleep 0.05; done
  sleep 1
  for path in /api/v1/ratelimit-bench /api/v1/health; do
    local out; out=$(wrk -t1 -c64 -d"$DUR" --latency -s "$DIR/limiter.lua" "http://127.0.0.1:$PORT$path")
    printf '%-28s %-26s %10s req/s  p50 %8s  p99 %8s\n' "$name" "$path" \
      "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
      "$(echo "$out" | awk '$1=="50%" {print $2}')" "$(echo "$out" | awk '$1=="99%" {print $2}')"
  done
  kill $pid; wait $pid 2>/dev/null || true
}
run "limiter off"            RATE_LIMITING_ENABLED=false
run "limiter in-process"     RATE_LIMITING_ENABLED=true REDIS_URL=
run "limiter on Redis"       RATE_LIMITING_ENABLED=true REDIS_URL=redis://127.0.0.1:6379/0
