#!/usr/bin/env bash
# Peak RSS of `gad serve` while it exports a user with N location rows (issue 18).
#   bench/gdpr/export_rss.sh [ROWS]            (default 1000000)
# Seeds its own database (BENCH_DB, default gad_bench_gdpr) with SQL generate_series (not HTTP),
# starts `gad serve` on BENCH_PORT (default 8031), samples VmRSS from /proc every 50 ms, and
# downloads GET /api/v1/gdpr/users/{id}/export as JSON then as ZIP. Prints the idle RSS, the
# peak during each export, the growth, the bytes and the time.
# Env: GAD (binary; default target/release/gad if present, else target/debug/gad).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
PORT="${BENCH_PORT:-8031}"
DB="${BENCH_DB:-gad_bench_gdpr}"
BASE="http://127.0.0.1:${PORT}"
OUT="$(mktemp -d)"
trap 'kill "${PID:-}" "${SAMPLER:-}" 2>/dev/null || true; rm -rf "$OUT"' EXIT
if [ -z "${GAD:-}" ]; then
  if [ -x target/release/gad ]; then GAD=target/release/gad; else GAD=target/debug/gad; fi
fi
export ENVIRONMENT=development HOST=127.0.0.1 PORT LOG_LEVEL=warn RATE_LIMITING_ENABLED=false
export JWT_SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}"
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qtA)
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null
"${PSQL[@]}" -c "CREATE DATABASE ${DB}" >/dev/null
"$GAD" migrate >/dev/null
"$GAD" create-admin --email bench-admin@gad.local --password bench-admin-pass-1 --dni BENCH1 >/dev/null
T0=$(date +%s.%N)
USER_ID=$("${PSQL[@]}" -d "$DB" -c "
  WITH u AS (INSERT INTO usuarios (email, dni, nombre, apellido, hashed_password, verificado)
             VALUES ('bench-efectivo@gad.local', 'BENCH2', 'Bench', 'Efectivo', '!', true) RETURNING id),
       e AS (INSERT INTO efectivos (usuario_id, codigo_interno) SELECT id, 'BENCH-EF' FROM u RETURNING id, usuario_id)
  SELECT usuario_id FROM e;" | head -n1)
"${PSQL[@]}" -d "$DB" -c "
  INSERT INTO efectivo_ubicaciones (efectivo_id, geom, accuracy_m, heading, speed, recorded_at)
  SELECT e.id, ST_SetSRID(ST_MakePoint(-58.38 + (i % 1000) * 1e-5, -34.60 + (i / 1000) * 1e-5), 4326)::geography,
         5, i % 360, 1.5, now() - make_interval(secs => i)
  FROM efectivos e, generate_series(1, ${ROWS}) AS i WHERE e.usuario_id = ${USER_ID};
  ANALYZE efectivo_ubicaciones;" >/dev/null
echo "seeded ${ROWS} location rows for user ${USER_ID} in $(echo "$(date +%s.%N) - $T0" | bc) s"

"$GAD" serve >"$OUT/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$(curl -fs -X POST "$BASE/api/v1/auth/login" -d 'username=bench-admin@gad.local&password=bench-admin-pass-1' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# Warm-up: a small request of every kind the export uses.
curl -fs -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/users/me" >/dev/null
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
IDLE=$(rss)
run() {
  local fmt="$1" peak_file="$OUT/peak-$1"
  ( peak=0; while kill -0 "$PID" 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > "$peak_file"; sleep 0.05; done ) &
  SAMPLER=$!
  local t0 t1 bytes
  t0=$(date +%s.%N)
  bytes=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/gdpr/users/${USER_ID}/export?format=${fmt}" -o "$OUT/export.${fmt}" -w '%{size_download}')
  t1=$(date +%s.%N)
  sleep 0.3
  kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true
  local peak; peak=$(cat "$peak_file" 2>/dev/null || echo "$IDLE")
  if [ "$fmt" = zip ]; then python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('  zip ok:', ', '.join(f'{i.filename} {i.file_size} B' for i in z.infolist()[:2]))" "$OUT/export.zip"; fi
  if [ "$fmt" = json ]; then python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('  json ok:', len(d['ubicaciones']), 'ubicaciones')" "$OUT/export.json"; fi
  printf '%-4s export: %s bytes in %.1f s; RSS idle %.1f MiB, peak %.1f MiB, growth %.1f MiB\n' \
    "$fmt" "$bytes" "$(echo "$t1 - $t0" | bc)" "$(echo "$IDLE/1024" | bc -l)" "$(echo "$peak/1024" | bc -l)" "$(echo "($peak-$IDLE)/1024" | bc -l)"
}
echo "binary: $GAD ($(file -b "$GAD" | cut -d, -f1)); $(nproc) CPUs"
run json
run zip
