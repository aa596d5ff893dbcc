#!/usr/bin/env bash
# Native staging stack, isolated from development:
#   PostgreSQL 15 + PostGIS cluster on 127.0.0.1:5435 (data in .staging/pg, password auth),
#   Redis with a password on 127.0.0.1:6382 (data in .staging/redis),
#   `gad serve` on 127.0.0.1:8001 with ENVIRONMENT=staging and rate limiting on.
# Secrets are generated on first run into .env.staging (git-ignored, mode 600).
#
# Usage: scripts/staging.sh {up|down|restart|status|logs|migrate|smoke|test|psql}
#   up       start PostgreSQL, Redis, apply migrations (release step), start gad, wait for /ready
#   down     stop gad, Redis and PostgreSQL; verify nothing is left listening
#   restart  down + up
#   status   what runs (pid, port) and /api/v1/health/ready
#   logs     tail the gad, Redis and PostgreSQL logs (LINES=n, default 50)
#   migrate  `gad migrate` against the staging database
#   smoke    `gad smoke` against :8001 with a level-3 token (create-admin + login)
#   test     up → smoke → down (exit status of smoke; down always runs)
#   psql     interactive psql on the staging database (extra args are passed on)
# Environment: GAD_BIN (binary to use; default: build target/debug/gad with cargo),
#              STAGING_PROFILE=release to build and use target/release/gad.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

DIR="$ROOT/.staging"
ENV_FILE="$ROOT/.env.staging"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT=5435
R_PORT=6382
GAD_PORT=8001
BASE="http://127.0.0.1:${GAD_PORT}"
PG_DATA="$DIR/pg"
PG_RUN="$DIR/run"
PG_LOG="$DIR/postgres.log"
REDIS_DIR="$DIR/redis"
REDIS_CONF="$DIR/redis.conf"
REDIS_PID="$DIR/redis.pid"
REDIS_LOG="$DIR/redis.log"
GAD_PID="$DIR/gad.pid"
GAD_LOG="$DIR/gad.log"
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
    log "generating secrets into .env.staging (mode 600)"
    ( umask 077
      { echo "# Staging secrets, generated $(date -u +%FT%TZ) by scripts/staging.sh. Never commit."
        echo "JWT_SECRET_KEY=$(gen_secret 64)"
        echo "POSTGRES_PASSWORD=$(gen_secret 32)"
        echo "REDIS_PASSWORD=$(gen_secret 32)"
        echo "SMOKE_ADMIN_PASSWORD=$(gen_secret 24)"
      } > "$ENV_FILE" )
  fi
  chmod 600 "$ENV_FILE"
  # Read as plain shell variables; only variables gad reads are exported
  # (gad_api::config::KNOWN_ENV_VARS — checked by crates/gad-cli/tests/deploy_files.rs).
  . "$ENV_FILE"
  export JWT_SECRET_KEY
  export ENVIRONMENT=staging HOST=127.0.0.1 PORT="$GAD_PORT"
  export DATABASE_URL="postgres://${DB_USER}:${POSTGRES_PASSWORD}@127.0.0.1:${PG_PORT}/${DB_NAME}"
  export REDIS_URL="redis://:${REDIS_PASSWORD}@127.0.0.1:${R_PORT}/0"
  export RATE_LIMITING_ENABLED=true LOG_LEVEL="${LOG_LEVEL:-info}" DB_POOL_SIZE="${DB_POOL_SIZE:-10}"
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
    log "initdb staging cluster in .staging/pg"
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
  pg_up || die "PostgreSQL did not start (see .staging/postgres.log)"
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
  die "Redis did not start (see .staging/redis.log)"
}

wait_ready() {
  for _ in $(seq 1 "${1:-120}"); do
    if curl -fsS -m 2 "$BASE/api/v1/health/ready" >/dev/null 2>&1; then return 0; fi
    pid_alive "$GAD_PID" || { tail -n 20 "$GAD_LOG" >&2; die "gad exited (see .staging/gad.log)"; }
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
  log "staging ready: $BASE (docs $BASE/docs, metrics $BASE/metrics)"
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
  stop_pidfile gad "$GAD_PID"
  stop_pidfile redis "$REDIS_PID"
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  local left=""
  for p in $GAD_PORT $R_PORT $PG_PORT; do port_busy "$p" && left="$left $p"; done
  [ -z "$left" ] || die "still listening after down:$left"
  log "staging stopped (nothing listening on $GAD_PORT, $R_PORT, $PG_PORT)"
}

cmd_status() {
  if [ -f "$ENV_FILE" ]; then . "$ENV_FILE"; fi
  local rc=0
  if pid_alive "$GAD_PID"; then echo "gad        running  pid $(cat "$GAD_PID")  :$GAD_PORT"; else echo "gad        stopped"; rc=3; fi
  if pid_alive "$REDIS_PID"; then echo "redis      running  pid $(cat "$REDIS_PID")  :$R_PORT"; else echo "redis      stopped"; rc=3; fi
  if [ -f "$PG_DATA/postmaster.pid" ] && pg_up; then echo "postgresql running  pid $(head -n1 "$PG_DATA/postmaster.pid")  :$PG_PORT"; else echo "postgresql stopped"; rc=3; fi
  local ready; ready="$(curl -sS -m 2 "$BASE/api/v1/health/ready" 2>/dev/null || true)"
  echo "ready      ${ready:-unreachable}"
  return $rc
}

cmd_logs() {
  local n="${LINES:-50}"
  for f in "$GAD_LOG" "$REDIS_LOG" "$PG_LOG"; do
    [ -f "$f" ] && { echo "--- ${f#$ROOT/}"; tail -n "$n" "$f"; }
  done
  return 0
}

staging_token() {
  local bin="$1"
  "$bin" create-admin --email "$SMOKE_ADMIN" --password "$SMOKE_ADMIN_PASSWORD" --nombre Smoke --apellido Staging >/dev/null
  curl -fsS -m 10 -X POST "$BASE/api/v1/auth/login" \
    --data-urlencode "username=$SMOKE_ADMIN" --data-urlencode "password=$SMOKE_ADMIN_PASSWORD" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

cmd_smoke() {
  ensure_env
  local bin; bin="$(gad_bin)"
  local token; token="$(staging_token "$bin" || true)"
  if [ -z "$token" ]; then
    echo "warning: could not obtain a token (login failed); the websocket check will fail" >&2
    "$bin" smoke --base-url "$BASE" --database-url "$DATABASE_URL"
  else
    "$bin" smoke --base-url "$BASE" --token "$token" --database-url "$DATABASE_URL"
  fi
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

cmd_psql() {
  ensure_env
  PGPASSWORD="$POSTGRES_PASSWORD" exec psql -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" "$@"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  restart) cmd_down; cmd_up ;;
  status) cmd_status ;;
  logs) cmd_logs ;;
  migrate) cmd_migrate ;;
  smoke) cmd_smoke ;;
  test) cmd_test ;;
  psql) shift; cmd_psql "$@" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
