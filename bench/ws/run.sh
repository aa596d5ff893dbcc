#!/usr/bin/env bash
# Issue 7 benchmark: sockets held by ONE `gad serve`, RSS per socket, and broadcast latency (time
# from POST /ws/_test/broadcast to the LAST socket receiving it; p99 over 20 broadcasts) at 1 000,
# 10 000 and 19 000 sockets. Clients: crates/gad-testkit/src/bin/ws_load.rs, several processes,
# loopback source addresses 127.0.0.2… . The server runs ENVIRONMENT=development (anonymous
# sockets and the test broadcast exist only there) with rate limiting off and Redis fan-out on.
# Usage: bench/ws/run.sh [DATABASE_URL]
set -euo pipefail
cd "$(dirname "$0")/../.."
DB="${1:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gad}}"
PORT="${WS_BENCH_PORT:-8030}"
cargo build --release -q -p gad-cli -p gad-testkit --bin gad --bin ws_load
run() {
  DATABASE_URL="$DB" JWT_SECRET_KEY="ws-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    RATE_LIMITING_ENABLED=false LOG_LEVEL=warn PORT="$PORT" HOST=127.0.0.1 ENVIRONMENT=development \
    REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}" target/release/gad serve >/dev/null 2>&1 &
  local pid=$!
  until curl -fs "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; do kill -0 $pid || exit 1; sleep 0.1; done
  echo "== $1 sockets ($(uptime | sed 's/.*load/load/'))"
  target/release/ws_load --port "$PORT" --sockets "$1" --workers "$2" --broadcasts 20 --server-pid "$pid"
  kill $pid; wait $pid 2>/dev/null || true
}
run 1000 2
run 10000 4
run 19000 4
