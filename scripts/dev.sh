#!/usr/bin/env bash
# Runs GAD locally: installs what is missing, creates and migrates the database, seeds demo
# data, and serves on :8000 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh

DB_NAME="${GAD_DEV_DB:-gad}"
PORT="${PORT:-8000}"
if [ ! -f .env ]; then
  umask 077
  printf 'JWT_SECRET_KEY=%s\n' "$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 48)" > .env
fi
set -a; . ./.env; set +a
export ENVIRONMENT="${ENVIRONMENT:-development}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/${DB_NAME}}"
if redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"; fi
export PORT HOST="${HOST:-0.0.0.0}"
# The demo runs with the roster deciding who may be called (DUTY_MODE=libre to compare).
export DUTY_MODE="${DUTY_MODE:-turnos}"

psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='${DB_NAME}'" | grep -q 1 ||
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"${DB_NAME}\""

echo "==> building gad (release)"
bash scripts/release.sh   # + CycloneDX SBOM target/release/gad.cdx.json (issue 18)
GAD=./target/release/gad
$GAD check-config
$GAD migrate
$GAD seed --quiet
# The address search's demo gazetteer (streets with house numbers, places) around the seed's
# centre; GAD_DEV_LUGARES names another file (GeoJSON or CSV), replacing it on every start.
$GAD lugares import "${GAD_DEV_LUGARES:-deploy/demo/lugares.geojson}" --reemplazar
# Demo roster: a 12-hour shift under way for every demo officer (unit = the officer's), two of
# three clocked in; the rest are planned but absent, so in turnos mode only the clocked-in ones are
# dispatched. Officers who already have a shift overlapping the next 12 hours are left alone, so
# restarting does not stack shifts.
psql "${DATABASE_URL}" -qv ON_ERROR_STOP=1 <<'SQL'
INSERT INTO turnos (efectivo_id, inicio, fin, unidad, notas, ingreso_at, ingreso_tarde)
SELECT e.id, date_trunc('hour', now()) - interval '1 hour', date_trunc('hour', now()) + interval '11 hours',
       e.unidad, 'turno de demostración',
       CASE WHEN e.id % 3 <> 0 THEN date_trunc('hour', now()) - interval '1 hour' END, false
FROM efectivos e
WHERE e.deleted_at IS NULL AND e.codigo_interno LIKE 'EF-%'
  AND NOT EXISTS (SELECT 1 FROM turnos t WHERE t.efectivo_id = e.id AND t.cancelado_por_licencia IS NULL
                  AND tstzrange(t.inicio, t.fin) && tstzrange(date_trunc('hour', now()) - interval '1 hour',
                                                             date_trunc('hour', now()) + interval '11 hours'));
SQL
# Two comisarías with four cuadrantes each over the same area, loaded once (zones may be edited
# and assigned to supervisors afterwards, so a later start leaves them alone).
$GAD zonas import deploy/demo/zonas.geojson --si-vacio
cat <<TXT

GAD is starting on http://localhost:${PORT}
  Command centre         http://localhost:${PORT}/login   (supervisors and administrators)
  API docs (Swagger UI)  http://localhost:${PORT}/docs
  ReDoc                  http://localhost:${PORT}/redoc
  Health                 http://localhost:${PORT}/api/v1/health   (ready: /api/v1/health/ready)
  Metrics                http://localhost:${PORT}/metrics
  WebSocket              ws://localhost:${PORT}/ws/connect
Demo logins: see the seed output above (admin@gad.local / GadAdmin2026!).
Roster: DUTY_MODE=${DUTY_MODE}; every demo officer has a shift now, two of three clocked in
  (GET /api/v1/turnos/actual). DUTY_MODE=libre scripts/dev.sh to call everyone available.
TXT
exec $GAD serve
