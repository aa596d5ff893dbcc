#!/usr/bin/env bash
# Address search over a 200 000-entry gazetteer: p95 of GET /api/v1/geo/buscar (target < 50 ms).
# Builds the release binary (CARGO_TARGET_DIR, default target/), creates and migrates
# DB_NAME (default gad_bench_geo), seeds the demo users, imports gen.py's synthetic gazetteer
# (+ the demo one), serves on PORT without rate limiting and with the answer cache off
# (GEOCODER_CACHE_SECONDS=0: every request searches), and runs wrk with buscar.lua.
# Usage: bench/geo-search/run.sh [DURATION] [CONNECTIONS]
#   (env: N, DB_NAME, PORT, DATA, SKIP_BUILD=1, SKIP_IMPORT=1, GAD=path of an already built binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-${DURATION:-20s}}"
CONNS="${2:-${CONNECTIONS:-16}}"
N="${N:-200000}"
DB_NAME="${DB_NAME:-gad_bench_geo}"
PORT="${PORT:-8031}"
TARGET="${CARGO_TARGET_DIR:-target}"
DATA="${DATA:-$TARGET/geo-bench-data}"
GAD="${GAD:-$TARGET/release/gad}"

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || sudo apt-get install -y wrk; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --locked -p gad-cli
export ENVIRONMENT=development DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB_NAME"
export JWT_SECRET_KEY="bench-geo-secret-0123456789abcdefghijklmnopqrstuvwxyz"
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1 ||
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$DB_NAME\""
"$GAD" migrate
"$GAD" seed --quiet >/dev/null
[ -f "$DATA/queries.txt" ] || python3 bench/geo-search/gen.py "$DATA" "$N"
first=1
[ "${SKIP_IMPORT:-0}" = 1 ] || for f in "$DATA"/lugares-*.geojson; do
  if [ "$first" = 1 ]; then "$GAD" lugares import "$f" --reemplazar; first=0; else "$GAD" lugares import "$f"; fi
done
[ "${SKIP_IMPORT:-0}" = 1 ] || "$GAD" lugares import deploy/demo/lugares.geojson
psql -h 127.0.0.1 -U postgres -d "$DB_NAME" -qc "VACUUM ANALYZE lugares" -c "VACUUM ANALYZE lugares_nombres"

RATE_LIMITING_ENABLED=false GEOCODER_CACHE_SECONDS=0 HOST=127.0.0.1 PORT="$PORT" LOG_LEVEL=warn \
  "$GAD" serve >/tmp/gad-bench-geo.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 60); do curl -fsS "$BASE/api/v1/health" >/dev/null 2>&1 && break; sleep 0.5; done
TOKEN="$(curl -fsS -X POST "$BASE/api/v1/auth/login" \
  --data-urlencode "username=supervisor1@gad.local" --data-urlencode "password=Supervisor2026!" \
  | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || { echo "login failed" >&2; exit 1; }
echo "== GET /api/v1/geo/buscar, $(psql -h 127.0.0.1 -U postgres -d "$DB_NAME" -tAc 'SELECT count(*) FROM lugares') entries, $CONNS connections, $DUR"
THREADS=$(( CONNS < 2 ? 1 : 2 ))
wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency -s bench/geo-search/buscar.lua "$BASE" -- "$TOKEN" "$DATA/queries.txt"
