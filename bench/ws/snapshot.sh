#!/usr/bin/env bash
# Issue 13 benchmark: a level-3 socket's full connect snapshot with 100 000 seeded officers
# (time from connect to the last `system_status` part, frame count, largest frame).
# Client: crates/gad-testkit/src/bin/snapshot_probe.rs. Usage: bench/ws/snapshot.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-100000}"
PORT="${SNAPSHOT_BENCH_PORT:-8031}"
DB_NAME="gad_bench_snapshot"
DB="postgres://postgres@127.0.0.1:5432/$DB_NAME"
cargo build --release -q -p gad-cli -p gad-testkit --bin gad --bin snapshot_probe
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME" >/dev/null
SECRET="snapshot-bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ENVIRONMENT=development DATABASE_URL="$DB" JWT_SECRET_KEY="$SECRET" target/release/gad seed --usuarios 2 --efectivos "$N" --tareas 100 --quiet | sed -n 1p
ENVIRONMENT=development DATABASE_URL="$DB" JWT_SECRET_KEY="$SECRET" RATE_LIMITING_ENABLED=false LOG_LEVEL=warn PORT="$PORT" HOST=127.0.0.1 \
  target/release/gad serve >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null' EXIT
until curl -fs "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; do kill -0 $pid || exit 1; sleep 0.1; done
TOKEN="$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -d 'username=admin@gad.local&password=GadAdmin2026!' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
for i in 1 2 3; do
  echo -n "run $i: "
  target/release/snapshot_probe --url "ws://127.0.0.1:$PORT/ws/connect" --token "$TOKEN"
done
echo "server RSS after: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$pid/status)"
