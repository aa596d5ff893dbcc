#!/usr/bin/env bash
# Full load-test suite against a freshly seeded server; appends a dated report to docs/PERFORMANCE.md.
#   bench/run_all.sh [DURATION_SECONDS]        (default 15)
# Starts its own release `gad serve` on :8021 (database gad_bench on the local PostgreSQL, local
# Redis, rate limiting ON — clients use their own loopback source addresses 127.0.0.2…), seeds it,
# runs: wrk on /api/v1/health, then bench/load/gad_load.py (list, get, create, status, emergency,
# mixed, websocket), samples the server's RSS from /proc/<pid>/status, and stops the server.
# Env: GAD (binary, default target/release/gad), BENCH_PORT, BENCH_DB, NO_REPORT=1 (print only).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-15}"
PORT="${BENCH_PORT:-8021}"
DB="${BENCH_DB:-gad_bench}"
BASE="http://127.0.0.1:${PORT}"
OUT="$(mktemp -d)"
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$OUT"' EXIT

command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
python3 -c 'import aiohttp, websockets' 2>/dev/null || pip install -q aiohttp websockets
if [ -z "${GAD:-}" ]; then bash scripts/release.sh -q; GAD=target/release/gad; fi

# Rate limiting off by default: closed-loop clients would otherwise measure the limiter (100 req/min
# per IP). BENCH_RATE_LIMITING=true keeps it on (each client still has its own source address).
export ENVIRONMENT=staging HOST=127.0.0.1 PORT LOG_LEVEL=warn RATE_LIMITING_ENABLED="${BENCH_RATE_LIMITING:-false}"
export JWT_SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}"
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && export REDIS_URL="redis://127.0.0.1:6379/0"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE ${DB}" >/dev/null
"$GAD" migrate >/dev/null
"$GAD" seed --usuarios 20 --efectivos 500 --tareas 5000 --quiet | sed -n 1p
"$GAD" serve >"$OUT/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/api/v1/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$PID/status"; }
RSS_IDLE="$(rss)"

echo "==> wrk GET /api/v1/health (64 connections, ${DUR}s)"
wrk -t1 -c64 -d"${DUR}s" --latency "$BASE/api/v1/health" | tee "$OUT/wrk.txt"
RSS_WRK="$(rss)"

echo "==> mixed suite (${DUR}s per scenario)"
( while kill -0 "$PID" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$PID/status"; sleep 1; done ) > "$OUT/rss.txt" 2>/dev/null &
SAMPLER=$!
python3 bench/load/gad_load.py --base-url "$BASE" --duration "$DUR" --supervisors 9 --efectivos 8 --ws 64 | tee "$OUT/load.jsonl"
kill "$SAMPLER" 2>/dev/null || true
RSS_PEAK="$(sort -n "$OUT/rss.txt" | tail -n1 | awk '{printf "%.1f MiB", $1/1024}')"
RSS_END="$(rss)"
ERRORS_5XX="$(curl -fs "$BASE/metrics" | awk '/^http_requests_total\{/ && /status="5/ {s+=$NF} END {print s+0}')"

report() {
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$OUT/wrk.txt"); p99=$(awk '$1=="99%" {print $2}' "$OUT/wrk.txt")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$OUT/wrk.txt" | tr '\n' ' ')
  echo
  echo "## Load-test report $(date -u +%Y-%m-%dT%H:%MZ) (bench/run_all.sh, ${DUR}s per scenario)"
  echo
  echo "Commit \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\` (+ working tree), binary \`${GAD}\`, $(nproc) CPUs, server and load generator on the same host."
  echo "Server: ENVIRONMENT=staging, RATE_LIMITING_ENABLED=${RATE_LIMITING_ENABLED} (each client has its own source address 127.0.0.2…),"
  echo "Redis $([ -n "${REDIS_URL:-}" ] && echo on || echo off), LOG_LEVEL=warn. Data: \`gad seed --usuarios 20 --efectivos 500 --tareas 5000\`."
  echo
  echo "| Scenario | Clients | Requests | req/s | p50 ms | p99 ms | Errors | Statuses |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| health (wrk) | 64 conn | $(awk '/requests in/ {print $1}' "$OUT/wrk.txt") | ${rps} | ${p50} | ${p99} | ${errs:-0} | |"
  python3 - "$OUT/load.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["scenario"] == "websocket":
        print(f"| websocket | {r['clients']} sockets | {r['connected']} connected | {r['events_per_s']} events/s | "
              f"ack {r['ack_p50_ms']} | ack {r['ack_p99_ms']} | {r['errors']} | {r['events_received']} events, {r['writes_during_run']} writes |")
    else:
        st = ", ".join(f"{k}: {v}" for k, v in sorted(r["by_status"].items()))
        print(f"| {r['scenario']} | {r['clients']} | {r['requests']} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} | {st} |")
PY
  echo
  echo "RSS: idle ${RSS_IDLE}, after wrk ${RSS_WRK}, peak during the mixed suite ${RSS_PEAK}, at the end ${RSS_END}."
  echo "5xx responses counted by the server during the whole run (\`http_requests_total{status=~\"5..\"}\`): ${ERRORS_5XX}."
  echo "Errors = responses other than the expected status (emergency: 201, or 404 when no efectivo is free)."
}
report | tee "$OUT/report.md"
if [ "${NO_REPORT:-0}" != 1 ]; then cat "$OUT/report.md" >> docs/PERFORMANCE.md; echo "==> appended to docs/PERFORMANCE.md"; fi
