#!/usr/bin/env bash
# Browser tests of the command centre (issue 16): real headless Chromium (Debian's package)
# driven by playwright-core, axe-core for accessibility. Installs what is missing (idempotent),
# builds gad, serves it on a random port against a fresh database seeded with 5,000 officers
# and the demo gazetteer and jurisdictions,
# runs web-tests/, then stops the server and drops the database.
#   UPDATE_SCREENSHOTS=1 scripts/browser-tests.sh   # also refresh docs/img/*.png
#   BROWSER_TESTS=tests/messages.test.js scripts/browser-tests.sh   # only these files
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
bash scripts/ensure-services.sh

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# A font with Latin accents, so screenshots and layout do not depend on what happens to be installed.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# playwright-core never downloads a browser; it drives /usr/bin/chromium.
if [ ! -d web-tests/node_modules/playwright-core ] || [ ! -d web-tests/node_modules/axe-core ] ||
   [ web-tests/package-lock.json -nt web-tests/node_modules/.package-lock.json ]; then
  (cd web-tests && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "==> building gad"
cargo build -q --locked -p gad-cli
# Where cargo put it (CARGO_TARGET_DIR when set).
GAD="${CARGO_TARGET_DIR:-$ROOT/target}/debug/gad"

DB="gad_browser_$$_${RANDOM}"
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export ENVIRONMENT=development HOST=127.0.0.1 PORT
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}"
export JWT_SECRET_KEY="browser-tests-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export RATE_LIMITING_ENABLED=false LOG_LEVEL=warn
# No tile server is reachable here: the map must still show every marker on a plain background.
export MAP_TILE_URL="http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
unset REDIS_URL REDIS_HOST

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"${DB}\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"${DB}\""
"$GAD" migrate >/dev/null
"$GAD" seed --quiet --usuarios 3 --efectivos 5000 --tareas 300
# The demo gazetteer: the intake test takes a call by its address.
"$GAD" lugares import deploy/demo/lugares.geojson --reemplazar >/dev/null
# The demo jurisdictions: the zones test scopes a supervisor to one of them.
"$GAD" zonas import deploy/demo/zonas.geojson >/dev/null
"$GAD" serve > "${TMPDIR:-/tmp}/gad-browser-${DB}.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
    "http://127.0.0.1:${PORT}/api/v1/health/ready" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "${TMPDIR:-/tmp}/gad-browser-${DB}.log"; exit 1; }
  sleep 0.1
done

echo "==> browser tests against http://127.0.0.1:${PORT}"
export GAD_BASE_URL="http://127.0.0.1:${PORT}" GAD_ROOT="$ROOT"
SERVER_LOG="${TMPDIR:-/tmp}/gad-browser-${DB}.log"
# On a failure CI shows what the server said too (the log file does not outlive the machine).
# One file at a time: every file drives the same server and its officers.
# BROWSER_TESTS="tests/messages.test.js tests/alarms.test.js" runs only those files.
FILES="${BROWSER_TESTS:-tests/live-parts.test.js tests/command-centre.test.js tests/incidents.test.js tests/alarms.test.js tests/messages.test.js tests/turnos.test.js tests/zones.test.js}"
# shellcheck disable=SC2086 # a list of file names without spaces
if ! (cd web-tests && node --test --test-concurrency=1 $FILES); then
  echo "==> browser tests failed; the server's log (last 60 lines):"
  tail -n 60 "$SERVER_LOG"
  exit 1
fi
