#!/usr/bin/env bash
# Native staging stack, isolated from development (docs/STAGING.md):
#   PostgreSQL 15 + PostGIS cluster on 127.0.0.1:5435 (data in .staging/pg, password auth),
#   Redis with a password on 127.0.0.1:6382 (data in .staging/redis),
#   `gad serve` on 127.0.0.1:8001 with ENVIRONMENT=staging and rate limiting on,
#   Caddy on 127.0.0.1:8081 in front of it: deploy/Caddyfile without TLS (same headers, /metrics
#   hidden, X-Forwarded-For passed); gad trusts exactly the proxy (TRUSTED_PROXY_HOSTS=127.0.0.1/32).
# Secrets are generated on first run into .env.staging (git-ignored, mode 600).
#
# Usage: scripts/staging.sh <command> [args]
#   up                     start PostgreSQL, Redis, apply migrations (release step), gad, Caddy;
#                          wait until /ready answers directly and through the proxy
#   down                   stop Caddy, gad, Redis and PostgreSQL; fail if a port is still listening
#   restart                down + up
#   status                 pids and ports, /ready probed directly (:8001) and through the proxy
#                          (:8081); exit 3 if anything is stopped or unreachable
#   logs [SERVICE] [-f]    last LINES (default 50) lines of api|db|redis|proxy (default: all);
#                          -f follows them
#   shell [SERVICE] [ARG…] db (default): psql on the staging database; redis: redis-cli with the
#                          password; api: bash with the staging environment of gad loaded;
#                          proxy: bash in the proxy's directory ($CADDYFILE, caddy's XDG dirs).
#                          ARGs go to psql / redis-cli / bash (e.g. `shell db -c 'select 1'`)
#   migrate                `gad migrate` against the staging database
#   smoke                  `gad smoke` directly (:8001) and through the proxy (:8081, /metrics
#                          read from :8001 and required hidden at :8081), level-3 token
#   test                   up → smoke → down (exit status of smoke; down always runs)
#   clean [--yes]          down, then delete the staging data directory and .env.staging (secrets)
#                          after typing 'yes' (--yes: no question, for scripts)
#   psql [ARG…]            same as `shell db`
#   help                   this text
# Environment: GAD_BIN (binary to use; default: build target/debug/gad with cargo),
#              STAGING_PROFILE=release to build and use target/release/gad,
#              STAGING_DIR / STAGING_ENV_FILE (default .staging / .env.staging; CI uses a temp dir),
#              LINES (logs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

DIR="${STAGING_DIR:-$ROOT/.staging}"
ENV_FILE="${STAGING_ENV_FILE:-$ROOT/.env.staging}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT=5435
R_PORT=6382
GAD_PORT=8001
PROXY_PORT=8081
BASE="http://127.0.0.1:${GAD_PORT}"
PROXY="http://127.0.0.1:${PROXY_PORT}"
# The proxy reaches gad from this address; gad trusts X-Forwarded-For from it and nothing else.
PROXY_SOURCE=127.0.0.1/32
PG_DATA="$DIR/pg"
PG_RUN="$DIR/run"
PG_LOG="$DIR/postgres.log"
REDIS_DIR="$DIR/redis"
REDIS_CONF="$DIR/redis.conf"
REDIS_PID="$DIR/redis.pid"
REDIS_LOG="$DIR/redis.log"
GAD_PID="$DIR/gad.pid"
GAD_LOG="$DIR/gad.log"
CADDY_DIR="$DIR/caddy"
CADDYFILE="$CADDY_DIR/Caddyfile"
CADDY_PID="$DIR/caddy.pid"
CADDY_LOG="$DIR/caddy.log"
CADDY_ACCESS_LOG="$DIR/caddy-access.log"
DB_NAME=gad_staging
DB_USER=gad
SMOKE_ADMIN=smoke-admin@staging.gad

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` OS user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

gen_secret() { head -c 64 /dev/urandom | base64 | tr -d '/+=\n' | head -c "$1"; }

ensure_env() {
  if [ ! -f "$ENV_FILE" ]; then
    log "generating secrets into ${ENV_FILE#$ROOT/} (mode 600)"
    ( umask 077
      { echo "# Staging secrets, generated $(date -u +%FT%TZ) by scripts/staging.sh. Never commit."
        echo "JWT_SECRET_KEY=$(gen_secret 64)"
        echo "POSTGRES_PASSWORD=$(gen_secret 32)"
        echo "REDIS_PASSWORD=$(gen_secret 32)"
        echo "SMOKE_ADMIN_PASSWORD=$(gen_secret 24)"
        echo "ALERTMANAGER_WEBHOOK_TOKEN=$(gen_secret 48)"
      } > "$ENV_FILE" )
  fi
  chmod 600 "$ENV_FILE"
  # Secrets added by later versions of this script are appended to an existing file.
  if ! grep -q '^ALERTMANAGER_WEBHOOK_TOKEN=' "$ENV_FILE"; then
    echo "ALERTMANAGER_WEBHOOK_TOKEN=$(gen_secret 48)" >> "$ENV_FILE"
  fi
  # Read as plain shell variables; only variables gad reads are exported
  # (gad_api::config::KNOWN_ENV_VARS — checked by crates/gad-cli/tests/deploy_files.rs).
  . "$ENV_FILE"
  export JWT_SECRET_KEY ALERTMANAGER_WEBHOOK_TOKEN
  export ENVIRONMENT=staging HOST=127.0.0.1 PORT="$GAD_PORT"
  export DATABASE_URL="postgres://${DB_USER}:${POSTGRES_PASSWORD}@127.0.0.1:${PG_PORT}/${DB_NAME}"
  export REDIS_URL="redis://:${REDIS_PASSWORD}@127.0.0.1:${R_PORT}/0"
  export RATE_LIMITING_ENABLED=true LOG_LEVEL="${LOG_LEVEL:-info}" DB_POOL_SIZE="${DB_POOL_SIZE:-10}"
  # As deploy/docker-compose.staging.yml: administrators must enrol a second factor.
  export TOTP_REQUIRED_LEVEL=3
  export TRUSTED_PROXY_HOSTS="$PROXY_SOURCE"
  export -n POSTGRES_PASSWORD REDIS_PASSWORD SMOKE_ADMIN_PASSWORD 2>/dev/null || true
  unset POSTGRES_SERVER POSTGRES_USER POSTGRES_DB POSTGRES_PORT REDIS_HOST REDIS_PORT REDIS_DB SECRET_KEY
}

gad_bin() {
  if [ -n "${GAD_BIN:-}" ]; then echo "$GAD_BIN"; return; fi
  if [ "${STAGING_PROFILE:-debug}" = release ]; then
    cargo build --release -q -p gad-cli >&2 && echo "$ROOT/target/release/gad"
  else
    cargo build -q -p gad-cli >&2 && echo "$ROOT/target/debug/gad"
  fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pg_up() { "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; }
redis_up() { REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$R_PORT" ping 2>/dev/null | grep -q PONG; }

start_pg() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 server binaries not found in $PG_BIN (run scripts/ensure-services.sh)"
  mkdir -p "$DIR" "$PG_RUN"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_RUN"; fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initdb staging cluster in ${PG_DATA#$ROOT/}"
    mkdir -p "$PG_DATA"
    local pw="$DIR/.pgpw"
    ( umask 077; printf '%s\n' "$POSTGRES_PASSWORD" > "$pw" )
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$PG_DATA" "$pw"; fi
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$DB_USER" --pwfile="$pw" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { rm -f "$pw"; cat "$DIR/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pw"
  fi
  if pg_up; then return; fi
  port_busy "$PG_PORT" && die "port $PG_PORT is taken by another process"
  log "starting PostgreSQL on :$PG_PORT"
  touch "$PG_LOG"; if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_LOG"; fi
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_RUN" start >/dev/null
  pg_up || die "PostgreSQL did not start (see $PG_LOG)"
  if ! PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1; then
    PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d postgres -qc "CREATE DATABASE $DB_NAME" >/dev/null
  fi
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  ( umask 077
    cat > "$REDIS_CONF" <<CONF
bind 127.0.0.1
port $R_PORT
requirepass $REDIS_PASSWORD
dir $REDIS_DIR
pidfile $REDIS_PID
logfile $REDIS_LOG
daemonize yes
save 60 100
appendonly no
CONF
  )
  if redis_up; then return; fi
  port_busy "$R_PORT" && die "port $R_PORT is taken by another process"
  log "starting Redis (password) on :$R_PORT"
  redis-server "$REDIS_CONF"
  for _ in $(seq 1 40); do redis_up && return; sleep 0.25; done
  die "Redis did not start (see $REDIS_LOG)"
}

wait_ready() {
  for _ in $(seq 1 "${1:-120}"); do
    if curl -fsS -m 2 "$BASE/api/v1/health/ready" >/dev/null 2>&1; then return 0; fi
    pid_alive "$GAD_PID" || { tail -n 20 "$GAD_LOG" >&2; die "gad exited (see $GAD_LOG)"; }
    sleep 0.5
  done
  die "gad did not become ready on $BASE within 60 s"
}

start_gad() {
  local bin="$1"
  if pid_alive "$GAD_PID"; then log "gad already running (pid $(cat "$GAD_PID"))"; return; fi
  port_busy "$GAD_PORT" && die "port $GAD_PORT is taken by another process"
  log "starting gad serve on :$GAD_PORT (ENVIRONMENT=staging)"
  "$bin" check-config
  nohup "$bin" serve >>"$GAD_LOG" 2>&1 </dev/null &
  echo $! > "$GAD_PID"
  wait_ready
}

# ---------------------------------------------------------------- the proxy (Caddy)

# Debian's caddy package; its systemd service is never what serves staging: the policy-rc.d
# guard keeps the package from starting it, and Caddy runs below as our own process.
ensure_caddy() {
  command -v caddy >/dev/null 2>&1 && return
  log "installing the Debian package caddy (its service is not started)"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local own_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends caddy >/dev/null; } || rc=$?
  [ "$own_policy" = 1 ] && $sudo rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "apt-get install caddy failed"
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now caddy >/dev/null 2>&1 || true; fi
}

# The staging Caddyfile is derived from the production one (deploy/Caddyfile) so the headers,
# the /metrics block and the proxy settings are the ones production runs; only the global
# options (no admin API, no automatic HTTPS), the site address (plain HTTP on 127.0.0.1:8081),
# an access log and the upstream (the one staging instance) change. If deploy/Caddyfile changes
# shape, this fails loudly instead of serving something else.
write_caddyfile() {
  mkdir -p "$CADDY_DIR"
  awk -v site="http://127.0.0.1:${PROXY_PORT}" -v up="127.0.0.1:${GAD_PORT}" -v logf="$CADDY_ACCESS_LOG" '
    NR == 1 { print "# Generated by scripts/staging.sh from deploy/Caddyfile; do not edit." }
    /^\{$/ && !g { print "{"; print "\tadmin off"; print "\tauto_https off"; print "\tgrace_period 5s"; g = 1; inglobal = 1; next }
    inglobal && /^\}/ { print; inglobal = 0; next }
    inglobal { next }
    /^\{\$GAD_DOMAIN:localhost\} \{$/ { print site " {"; print "\tlog {"; print "\t\toutput file " logf; print "\t}"; site_n++; next }
    /^\treverse_proxy gad1:8000 gad2:8000 \{$/ { print "\treverse_proxy " up " {"; up_n++; next }
    { print }
    END { if (g != 1 || site_n != 1 || up_n != 1) exit 3 }' "$ROOT/deploy/Caddyfile" > "$CADDYFILE.tmp" ||
    die "deploy/Caddyfile no longer has the global block, the {\$GAD_DOMAIN:localhost} site and 'reverse_proxy gad1:8000 gad2:8000' that write_caddyfile rewrites"
  mv "$CADDYFILE.tmp" "$CADDYFILE"
}

caddy_env() { # command… with Caddy's state under the staging directory
  XDG_DATA_HOME="$CADDY_DIR/data" XDG_CONFIG_HOME="$CADDY_DIR/config" "$@"
}

proxy_ready() { curl -fsS -m 2 "$PROXY/api/v1/health/ready" >/dev/null 2>&1; }

start_proxy() {
  ensure_caddy
  write_caddyfile
  caddy_env caddy validate --adapter caddyfile --config "$CADDYFILE" >"$CADDY_DIR/validate.log" 2>&1 ||
    { cat "$CADDY_DIR/validate.log" >&2; die "the staging Caddyfile is invalid ($CADDYFILE)"; }
  if pid_alive "$CADDY_PID"; then log "caddy already running (pid $(cat "$CADDY_PID"))"; else
    port_busy "$PROXY_PORT" && die "port $PROXY_PORT is taken by another process"
    log "starting caddy on :$PROXY_PORT → :$GAD_PORT"
    # A simple command (not the caddy_env function) so that $! is caddy's own pid.
    XDG_DATA_HOME="$CADDY_DIR/data" XDG_CONFIG_HOME="$CADDY_DIR/config" \
      nohup caddy run --adapter caddyfile --config "$CADDYFILE" >>"$CADDY_LOG" 2>&1 </dev/null &
    echo $! > "$CADDY_PID"
  fi
  for _ in $(seq 1 60); do
    proxy_ready && return 0
    pid_alive "$CADDY_PID" || { tail -n 20 "$CADDY_LOG" >&2; die "caddy exited (see $CADDY_LOG)"; }
    sleep 0.25
  done
  die "the proxy did not answer /api/v1/health/ready on $PROXY within 15 s"
}

cmd_migrate() { ensure_env; "$(gad_bin)" migrate; }

cmd_up() {
  ensure_env
  local bin; bin="$(gad_bin)"
  start_pg
  start_redis
  # Migrations are a release step: applied (advisory-locked) before the new version serves.
  log "gad migrate"
  "$bin" migrate
  start_gad "$bin"
  start_proxy
  log "staging ready: $PROXY through the proxy, $BASE directly (docs $BASE/docs, metrics $BASE/metrics)"
}

stop_pidfile() { # name pidfile
  if pid_alive "$2"; then
    local pid; pid="$(head -n1 "$2")"
    log "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && { log "$1 did not stop in 10 s, killing"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$2"
}

cmd_down() {
  if [ -f "$ENV_FILE" ]; then . "$ENV_FILE"; fi
  stop_pidfile caddy "$CADDY_PID"
  stop_pidfile gad "$GAD_PID"
  stop_pidfile redis "$REDIS_PID"
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  local left=""
  for p in $PROXY_PORT $GAD_PORT $R_PORT $PG_PORT; do port_busy "$p" && left="$left $p"; done
  [ -z "$left" ] || die "still listening after down:$left"
  log "staging stopped (nothing listening on $PROXY_PORT, $GAD_PORT, $R_PORT, $PG_PORT)"
}

cmd_status() {
  if [ -f "$ENV_FILE" ]; then . "$ENV_FILE"; fi
  local rc=0
  if pid_alive "$GAD_PID"; then echo "gad        running  pid $(cat "$GAD_PID")  :$GAD_PORT"; else echo "gad        stopped"; rc=3; fi
  if pid_alive "$REDIS_PID"; then echo "redis      running  pid $(cat "$REDIS_PID")  :$R_PORT"; else echo "redis      stopped"; rc=3; fi
  if [ -f "$PG_DATA/postmaster.pid" ] && pg_up; then echo "postgresql running  pid $(head -n1 "$PG_DATA/postmaster.pid")  :$PG_PORT"; else echo "postgresql stopped"; rc=3; fi
  if pid_alive "$CADDY_PID"; then echo "proxy      running  pid $(cat "$CADDY_PID")  :$PROXY_PORT → :$GAD_PORT"; else echo "proxy      stopped"; rc=3; fi
  local direct proxied
  direct="$(curl -fsS -m 2 "$BASE/api/v1/health/ready" 2>/dev/null)" || { direct=""; rc=3; }
  proxied="$(curl -fsS -m 2 "$PROXY/api/v1/health/ready" 2>/dev/null)" || { proxied=""; rc=3; }
  echo "ready      direct  :$GAD_PORT  ${direct:-unreachable}"
  echo "ready      proxy   :$PROXY_PORT  ${proxied:-unreachable}"
  return $rc
}

log_files() { # service → its log files
  case "$1" in
    api) echo "$GAD_LOG" ;;
    db) echo "$PG_LOG" ;;
    redis) echo "$REDIS_LOG" ;;
    proxy) echo "$CADDY_LOG $CADDY_ACCESS_LOG" ;;
    all) echo "$GAD_LOG $REDIS_LOG $PG_LOG $CADDY_LOG $CADDY_ACCESS_LOG" ;;
    *) die "unknown service '$1' (api, db, redis or proxy)" ;;
  esac
}

cmd_logs() {
  local svc=all follow=0
  for a in "$@"; do
    case "$a" in
      -f|--follow) follow=1 ;;
      api|db|redis|proxy) svc="$a" ;;
      *) die "logs: unknown argument '$a' (usage: logs [api|db|redis|proxy] [-f])" ;;
    esac
  done
  local n="${LINES:-50}" files=() f
  for f in $(log_files "$svc"); do [ -f "$f" ] && files+=("$f"); done
  [ ${#files[@]} -gt 0 ] || die "no $svc log yet in $DIR (is staging up?)"
  if [ $follow = 1 ]; then exec tail -n "$n" -F "${files[@]}"; fi
  for f in "${files[@]}"; do echo "--- ${f#$ROOT/}"; tail -n "$n" "$f"; done
  return 0
}

staging_token() {
  local bin="$1"
  "$bin" create-admin --email "$SMOKE_ADMIN" --password "$SMOKE_ADMIN_PASSWORD" --nombre Smoke --apellido Staging >/dev/null
  # The smoke only opens a WebSocket: a supervisor suffices, and is below TOTP_REQUIRED_LEVEL=3
  # (an administrator without a second factor would get a session limited to its enrolment).
  PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" -qc \
    "UPDATE usuarios SET nivel = 'LEVEL_2' WHERE lower(email) = lower('$SMOKE_ADMIN')" >/dev/null
  curl -fsS -m 10 -X POST "$BASE/api/v1/auth/login" \
    --data-urlencode "username=$SMOKE_ADMIN" --data-urlencode "password=$SMOKE_ADMIN_PASSWORD" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

cmd_smoke() {
  ensure_env
  local bin; bin="$(gad_bin)"
  local token; token="$(staging_token "$bin" || true)"
  local auth=()
  if [ -n "$token" ]; then auth=(--token "$token"); else
    echo "warning: could not obtain a token (login failed); the websocket check will fail" >&2
  fi
  local rc=0
  log "gad smoke directly on :$GAD_PORT"
  "$bin" smoke --base-url "$BASE" "${auth[@]}" --database-url "$DATABASE_URL" || rc=1
  log "gad smoke through the proxy on :$PROXY_PORT (/metrics must be hidden there)"
  "$bin" smoke --base-url "$PROXY" "${auth[@]}" --database-url "$DATABASE_URL" --metrics-url "$BASE/metrics" || rc=1
  return $rc
}

cmd_test() {
  # Each step in its own process so `set -e` and `die` keep their meaning and down always runs.
  local rc=0
  bash "$0" up || rc=$?
  if [ $rc -eq 0 ]; then bash "$0" smoke || rc=$?; fi
  [ $rc -eq 0 ] || { echo "--- staging logs (failure)"; LINES=30 cmd_logs; }
  if ! bash "$0" down; then [ $rc -ne 0 ] || rc=1; fi
  if [ $rc -eq 0 ]; then log "staging test passed"; else echo "staging test FAILED (exit $rc)" >&2; fi
  return $rc
}

cmd_shell() {
  local svc="${1:-db}"
  [ $# -eq 0 ] || shift
  case "$svc" in
    db|redis|api|proxy) ;;
    *) die "shell: unknown service '$svc' (api, db, redis or proxy)" ;;
  esac
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE yet: run 'scripts/staging.sh up' first"
  ensure_env
  case "$svc" in
    db) PGPASSWORD="$POSTGRES_PASSWORD" exec psql -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" "$@" ;;
    redis) REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli -h 127.0.0.1 -p "$R_PORT" "$@" ;;
    api)
      # gad's staging environment (the exports of ensure_env) and the staging binary on PATH.
      local bin; bin="$(gad_bin)"
      cd "$ROOT"
      PATH="$(dirname "$bin"):$PATH" STAGING_BASE="$BASE" STAGING_PROXY="$PROXY" exec bash "$@" ;;
    proxy)
      mkdir -p "$CADDY_DIR"
      cd "$CADDY_DIR"
      exec env XDG_DATA_HOME="$CADDY_DIR/data" XDG_CONFIG_HOME="$CADDY_DIR/config" CADDYFILE="$CADDYFILE" \
        CADDY_LOG="$CADDY_LOG" CADDY_ACCESS_LOG="$CADDY_ACCESS_LOG" STAGING_PROXY="$PROXY" bash "$@" ;;
  esac
}

cmd_clean() {
  local yes=0
  for a in "$@"; do
    case "$a" in
      -y|--yes) yes=1 ;;
      *) die "clean: unknown argument '$a' (usage: clean [--yes])" ;;
    esac
  done
  if [ $yes = 0 ]; then
    printf 'This stops staging and DELETES %s (database, Redis data, logs) and %s (secrets).\nType yes to continue: ' \
      "$DIR" "$ENV_FILE" >&2
    local answer=""
    read -r answer || true
    [ "$answer" = yes ] || { echo "clean: aborted, nothing was deleted" >&2; exit 1; }
  fi
  cmd_down
  rm -rf "$DIR" "$ENV_FILE"
  log "deleted $DIR and $ENV_FILE; the next 'up' starts from scratch with new secrets"
}

usage() { sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  restart) cmd_down; cmd_up ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  shell) shift; cmd_shell "$@" ;;
  migrate) cmd_migrate ;;
  smoke) cmd_smoke ;;
  test) cmd_test ;;
  clean) shift; cmd_clean "$@" ;;
  psql) shift; cmd_shell db "$@" ;;
  help|-h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
