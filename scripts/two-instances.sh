#!/usr/bin/env bash
# Two gad instances behind a local nginx (Debian package), sharing one PostgreSQL database and
# Redis, prove the two multi-instance promises of the contract (§10, §13):
#   1. the rate limiter is shared: requests alternate between the instances (checked on each
#      instance's own /metrics) and the (limit+1)-th request overall is a 429 with the contract
#      body, answered by BOTH instances once the shared window is full;
#   2. WebSocket events cross instances: a socket opened through nginx on one instance receives,
#      exactly once, an admin broadcast posted directly to the other instance (and vice versa).
# Prints PASS/FAIL lines; exits non-zero if any check fails. Cleans up always: both gad processes,
# nginx, the temporary database, the Redis keys it created and the temp dir.
#
# Needs PostgreSQL (+PostGIS) on 127.0.0.1:5432 and Redis on 127.0.0.1:6379
# (scripts/ensure-services.sh). Installs nginx (Debian) and the Python `websockets` package when
# missing. The system nginx service is never enabled or started: nginx runs as our own process
# with a generated config under a temp prefix.
#
# Environment:
#   GAD_BIN           binary to use (default target/debug/gad; built with cargo when missing)
#   REDIS_DB_B        Redis db index for instance B (default: the same as A, 0). Pointing it at
#                     another index splits the limiter and must make check 1 FAIL — see
#                     docs/OPERATIONS.md ("Two instances behind a proxy").
#   RATE_LIMIT        RATE_LIMIT_GENERAL for both instances (default 20)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

T0=$(date +%s)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
REDIS_DB_A=0
REDIS_DB_B="${REDIS_DB_B:-$REDIS_DB_A}"
LIMIT="${RATE_LIMIT:-20}"
N_REQ=$((LIMIT + 5))

log() { printf '==> two-instances: %s\n' "$*"; }
die() { printf 'error: two-instances: %s\n' "$*" >&2; exit 1; }
FAILS=0
PASSES=0
pass() { printf 'PASS %s\n' "$*"; PASSES=$((PASSES + 1)); }
fail() { printf 'FAIL %s\n' "$*"; FAILS=$((FAILS + 1)); }

# ---------------------------------------------------------------- prerequisites
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  log "installing the Debian package nginx (its service is not started)"
  # Keep the package's postinst from starting the system service.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  rc=0
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null; } || rc=$?
  [ "$own_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "apt-get install nginx failed"
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

if ! python3 -c 'import websockets' >/dev/null 2>&1; then
  log "installing the Python package websockets"
  python3 -m pip install -q websockets >/dev/null 2>&1 ||
    python3 -m pip install -q --break-system-packages websockets >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-websockets >/dev/null; } ||
    die "cannot install the Python package websockets"
fi

redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG || die "Redis is not answering on 127.0.0.1:6379 (run scripts/ensure-services.sh)"
pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || die "PostgreSQL is not answering on 127.0.0.1:5432 (run scripts/ensure-services.sh)"

GAD="${GAD_BIN:-$ROOT/target/debug/gad}"
if [ ! -x "$GAD" ]; then
  log "building gad (cargo build -p gad-cli)"
  cargo build -q -p gad-cli
  GAD="$ROOT/target/debug/gad"
fi

# ---------------------------------------------------------------- scenario state
TMP="$(mktemp -d /tmp/gad-two.XXXXXX)"
RND="$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DB="gad_two_${RND}"
# A client address unique to this run (IPv6 documentation range), sent as X-Forwarded-For:
# every rate-limit key this run creates is gad:rl:<class>:<it>, deleted at the end.
# A second one for the WebSocket part (its ticket requests are general_api too). Canonical form,
# as gad writes it into the key.
read -r CLIENT_IP WS_IP < <(python3 -c 'import ipaddress,sys; r=sys.argv[1]; print(ipaddress.ip_address(f"2001:db8::{r[:4]}:{r[4:]}"), ipaddress.ip_address(f"2001:db8:1::{r[:4]}:{r[4:]}"))' "$RND")
read -r P_NGINX P_A P_B < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
PY
)
PIDS=()
db_created=0

cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$db_created" = 1 ]; then
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
  fi
  for n in $(printf '%s\n' "$REDIS_DB_A" "$REDIS_DB_B" | sort -u); do
    for ip in "$CLIENT_IP" "$WS_IP"; do
      redis-cli -h 127.0.0.1 -p 6379 -n "$n" --scan --pattern "gad:rl:*:${ip}" 2>/dev/null |
        while read -r k; do [ -n "$k" ] && redis-cli -h 127.0.0.1 -p 6379 -n "$n" DEL "$k" >/dev/null; done
    done
  done
  local left=""
  for p in "$P_NGINX" "$P_A" "$P_B"; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && left="$left $p"; done
  [ -z "$left" ] || echo "error: two-instances: still listening after cleanup:$left" >&2
  if [ $rc -ne 0 ] && [ -d "$TMP" ]; then
    for f in "$TMP"/gad-a.log "$TMP"/gad-b.log "$TMP"/nginx-error.log; do
      [ -s "$f" ] && { echo "--- $(basename "$f") (last 15 lines)"; tail -n 15 "$f"; }
    done
  fi
  rm -rf "$TMP"
  [ -z "$left" ] || rc=1
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "database $DB, nginx :$P_NGINX → gad A :$P_A (redis db $REDIS_DB_A), gad B :$P_B (redis db $REDIS_DB_B), client $CLIENT_IP (websocket part: $WS_IP)"

# ---------------------------------------------------------------- database and users
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$DB\"" >/dev/null
db_created=1
JWT="$(head -c 96 /dev/urandom | base64 | tr -d '/+=\n' | head -c 64)"
ADMIN_EMAIL="two-admin-${RND}@test.gad"
USER_EMAIL="two-user-${RND}@test.gad"
ADMIN_PW="Adm-${RND}-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
USER_PW="Usr-${RND}-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# Only variables gad reads (config::KNOWN_ENV_VARS), in an otherwise empty environment.
gad_env() { # port redis_db → fills ENVV
  ENVV=(PATH="$PATH" HOME="${HOME:-/root}"
    ENVIRONMENT=staging HOST=127.0.0.1 PORT="$1"
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" DB_POOL_SIZE=5
    REDIS_URL="redis://127.0.0.1:6379/$2"
    JWT_SECRET_KEY="$JWT"
    RATE_LIMITING_ENABLED=true RATE_LIMIT_GENERAL="$LIMIT"
    TRUSTED_PROXY_HOSTS=127.0.0.1/32 LOG_LEVEL=warn)
}
common_env() { # port redis_db command...
  gad_env "$1" "$2"; shift 2
  env -i "${ENVV[@]}" "$@"
}

common_env "$P_A" "$REDIS_DB_A" "$GAD" migrate >/dev/null
common_env "$P_A" "$REDIS_DB_A" "$GAD" create-admin --email "$ADMIN_EMAIL" --password "$ADMIN_PW" --nombre Two --apellido Admin >/dev/null
common_env "$P_A" "$REDIS_DB_A" "$GAD" create-admin --email "$USER_EMAIL" --password "$USER_PW" --nombre Two --apellido Efectivo >/dev/null
psql -h 127.0.0.1 -U postgres -d "$DB" -qc "UPDATE usuarios SET nivel = 'LEVEL_1' WHERE lower(email) = lower('$USER_EMAIL')" >/dev/null

# ---------------------------------------------------------------- two instances + nginx
# Started as simple commands (env execs gad) so that $! is gad's own pid.
gad_env "$P_A" "$REDIS_DB_A"
env -i "${ENVV[@]}" "$GAD" serve >"$TMP/gad-a.log" 2>&1 </dev/null &
PIDS+=($!)
gad_env "$P_B" "$REDIS_DB_B"
env -i "${ENVV[@]}" "$GAD" serve >"$TMP/gad-b.log" 2>&1 </dev/null &
PIDS+=($!)

mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
cat >"$TMP/nginx/nginx.conf" <<CONF
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/tmp/body;
  proxy_temp_path $TMP/nginx/tmp/proxy;
  fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
  uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
  scgi_temp_path $TMP/nginx/tmp/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream gad {
    # round robin (the default) over both instances
    server 127.0.0.1:$P_A;
    server 127.0.0.1:$P_B;
  }
  server {
    listen 127.0.0.1:$P_NGINX;
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Real-IP \$remote_addr;
    proxy_set_header X-Forwarded-Proto \$scheme;
    location /ws/ {
      proxy_pass http://gad;
      proxy_http_version 1.1;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_read_timeout 120s;
    }
    location / {
      proxy_pass http://gad;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
"$NGINX" -t -q -e "$TMP/nginx-error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>>"$TMP/nginx-error.log" ||
  { cat "$TMP/nginx-error.log" >&2; die "generated nginx config is invalid"; }
"$NGINX" -e "$TMP/nginx-error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>>"$TMP/nginx-error.log" </dev/null &
PIDS+=($!)

A="http://127.0.0.1:$P_A"
B="http://127.0.0.1:$P_B"
PX="http://127.0.0.1:$P_NGINX"
wait_ready() { # base name
  for _ in $(seq 1 120); do
    curl -fsS -m 2 "$1/api/v1/health/ready" >/dev/null 2>&1 && return 0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || die "$2 exited during start-up"; done
    sleep 0.25
  done
  die "$2 not ready within 30 s"
}
wait_ready "$A" "gad A"
wait_ready "$B" "gad B"
wait_ready "$PX" "nginx"
log "both instances and nginx ready after $(( $(date +%s) - T0 )) s"

# ---------------------------------------------------------------- check 0: preconditions
for inst in A B; do
  base="$A"; [ "$inst" = B ] && base="$B"
  detailed="$(curl -sS -m 5 "$base/api/v1/health/detailed")"
  if python3 -c 'import json,sys; d=json.loads(sys.argv[1])["checks"]; sys.exit(0 if d["rate_limiter"]["backend"]=="redis" and d["websocket"]["fanout"]=="redis" else 1)' "$detailed" 2>/dev/null; then
    pass "instance $inst uses Redis for the rate limiter and WebSocket fan-out"
  else
    fail "instance $inst is not on Redis (health/detailed: $detailed)"
  fi
done

# ---------------------------------------------------------------- check 1: shared rate limit
# Sum of the samples of one metric family whose labels contain every given fragment.
metric() { # base name fragment...
  local base="$1" name="$2"; shift 2
  curl -fsS -m 5 "$base/metrics" | python3 -c '
import sys
name, frags = sys.argv[1], sys.argv[2:]
total = 0.0
for line in sys.stdin:
    if line.startswith(name + "{") or line.startswith(name + " "):
        labels, _, value = line.rpartition(" ")
        if all(f in labels for f in frags):
            total += float(value)
print(int(total))' "$name" "$@"
}
ROUTE='route="/api/v1/users/me"'
a401_0=$(metric "$A" http_requests_total "$ROUTE" 'status="401"')
b401_0=$(metric "$B" http_requests_total "$ROUTE" 'status="401"')
a429_0=$(metric "$A" rate_limit_rejected_total 'class="general_api"')
b429_0=$(metric "$B" rate_limit_rejected_total 'class="general_api"')

codes=()
first429=""
for i in $(seq 1 "$N_REQ"); do
  code=$(curl -sS -m 5 -o "$TMP/resp.$i" -D "$TMP/hdr.$i" -w '%{http_code}' \
    -H "X-Forwarded-For: $CLIENT_IP" "$PX/api/v1/users/me")
  codes+=("$code")
  [ -z "$first429" ] && [ "$code" = 429 ] && first429=$i
done
echo "     statuses through nginx: ${codes[*]}"

a401=$(( $(metric "$A" http_requests_total "$ROUTE" 'status="401"') - a401_0 ))
b401=$(( $(metric "$B" http_requests_total "$ROUTE" 'status="401"') - b401_0 ))
a429=$(( $(metric "$A" rate_limit_rejected_total 'class="general_api"') - a429_0 ))
b429=$(( $(metric "$B" rate_limit_rejected_total 'class="general_api"') - b429_0 ))
echo "     per-instance /metrics deltas: A 401=$a401 429=$a429 · B 401=$b401 429=$b429"

ok401=1
for i in $(seq 0 $((LIMIT - 1))); do [ "${codes[$i]}" = 401 ] || ok401=0; done
if [ $ok401 = 1 ]; then pass "requests 1..$LIMIT admitted (401 without token)"; else fail "requests 1..$LIMIT were not all 401"; fi

if [ "$a401" -gt 0 ] && [ "$b401" -gt 0 ] && [ $((a401 + b401)) -eq "$LIMIT" ] &&
   [ "$a401" -le $(( (LIMIT + 1) / 2 + 1 )) ] && [ "$b401" -le $(( (LIMIT + 1) / 2 + 1 )) ]; then
  pass "nginx alternated the admitted requests between the instances (A $a401, B $b401 — neither reached the limit of $LIMIT alone)"
else
  fail "admitted requests were not split between the instances (A $a401, B $b401, expected $LIMIT in total, about half each)"
fi

if [ "$first429" = $((LIMIT + 1)) ]; then
  body="$(cat "$TMP/resp.$first429")"
  if python3 -c '
import json, sys
b = json.loads(sys.argv[1]); limit = int(sys.argv[2])
keys = {"error","message","details","retry_after_seconds","rate_limit","window_seconds","government_service","citizen_support","timestamp"}
assert set(b) == keys, sorted(b)
assert b["error"] == "rate_limit_exceeded" and b["rate_limit"] == limit and b["window_seconds"] == 60
assert b["government_service"] == "GRUPO_GAD" and 1 <= b["retry_after_seconds"] <= 60
' "$body" "$LIMIT" 2>"$TMP/err" && grep -qi '^retry-after:' "$TMP/hdr.$first429" &&
     grep -qi '^x-ratelimit-policy: government_citizen_protection' "$TMP/hdr.$first429"; then
    pass "request $first429 overall got 429 with the contract body and headers"
  else
    fail "request $first429 got 429 but not the contract body/headers: $body $(cat "$TMP/err")"
  fi
else
  fail "request $((LIMIT + 1)) overall should be the first 429 (first 429 at: ${first429:-none})"
fi

all429=1
for i in $(seq "$LIMIT" $((N_REQ - 1))); do [ "${codes[$i]}" = 429 ] || all429=0; done
if [ $all429 = 1 ] && [ "$a429" -gt 0 ] && [ "$b429" -gt 0 ] && [ $((a429 + b429)) -eq $((N_REQ - LIMIT)) ]; then
  pass "requests $((LIMIT + 1))..$N_REQ were rejected by BOTH instances (A $a429, B $b429): one shared window"
else
  fail "rejections were not shared (statuses after the limit: ${codes[*]:$LIMIT}; rejected A $a429, B $b429)"
fi

# ---------------------------------------------------------------- check 2: WebSocket across instances
ws_rc=0
python3 "$ROOT/scripts/lib/ws_probe.py" --proxy "$PX" --a "$A" --b "$B" --client-ip "$WS_IP" \
  --admin "$ADMIN_EMAIL" --admin-password "$ADMIN_PW" --user "$USER_EMAIL" --user-password "$USER_PW" \
  --timeout 5 >"$TMP/ws.out" 2>&1 || ws_rc=$?
cat "$TMP/ws.out"
PASSES=$((PASSES + $(grep -c '^PASS' "$TMP/ws.out" || true)))
FAILS=$((FAILS + $(grep -c '^FAIL' "$TMP/ws.out" || true)))
if [ $ws_rc -ne 0 ] && ! grep -q '^FAIL' "$TMP/ws.out"; then fail "websocket probe exited $ws_rc without a verdict"; fi

# ---------------------------------------------------------------- verdict
for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || fail "process $pid (gad or nginx) died during the test"; done
ELAPSED=$(( $(date +%s) - T0 ))
if [ "$FAILS" -eq 0 ]; then
  log "$PASSES passed, 0 failed in ${ELAPSED} s"
else
  log "$PASSES passed, $FAILS failed in ${ELAPSED} s"
  exit 1
fi
