#!/usr/bin/env bash
# Issue 3: health p99 while 8 concurrent clients log in continuously (argon2id m=19 MiB, t=2,
# p=1), and login throughput. Rate limiting must be off on the server (RATE_LIMITING_ENABLED=false).
set -euo pipefail
BASE="${1:-http://127.0.0.1:8000}"
DUR="${2:-15s}"
DIR="$(cd "$(dirname "$0")" && pwd)"
wrk -t1 -c8 -d"$DUR" --latency -s "$DIR/login.lua" "$BASE/api/v1/auth/login" > /tmp/gad-login-bench.txt &
sleep 1
echo "== GET /api/v1/health at 64 connections during the login storm"
wrk -t1 -c64 -d"$(( ${DUR%s} - 2 ))s" --latency "$BASE/api/v1/health"
wait
echo "== logins (8 connections)"
cat /tmp/gad-login-bench.txt
