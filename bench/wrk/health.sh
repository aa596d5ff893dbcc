#!/usr/bin/env bash
# GET /api/v1/health throughput and latency (issue 2 target: ≥ 40,000 req/s at 64 connections,
# p99 < 5 ms, wrk on the same machine). Usage: bench/wrk/health.sh [BASE_URL] [DURATION]
set -euo pipefail
BASE="${1:-http://127.0.0.1:8000}"
DUR="${2:-15s}"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
wrk -t2 -c64 -d"$DUR" --latency "$BASE/api/v1/health"
