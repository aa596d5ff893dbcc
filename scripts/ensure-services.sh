#!/usr/bin/env bash
# Makes sure PostgreSQL 15 + PostGIS and Redis run on 127.0.0.1 (5432, 6379). Idempotent:
# installs only what is missing (Debian 12, as root or with sudo) and starts only what is stopped.
# On a machine where PostgreSQL already runs on 5432 it is used as it is.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PG_VERSION="${PG_VERSION:-15}"
apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

# A package install interrupted earlier on this machine (a stopped session, a killed CI run) leaves
# dpkg half-configured, and then every later `apt-get install` of the test scripts fails with
# "unmet dependencies": finish it first.
if command -v apt-get >/dev/null 2>&1 && ! $SUDO apt-get check -qq >/dev/null 2>&1; then
  echo "==> finishing an interrupted package installation (dpkg --configure -a, apt-get -f install)"
  DEBIAN_FRONTEND=noninteractive $SUDO dpkg --configure -a >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -f install -y -qq >/dev/null 2>&1 || true
fi

# PostgreSQL server
if ! command -v pg_isready >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "==> installing PostgreSQL ${PG_VERSION}"
  apt_install "postgresql-${PG_VERSION}" postgresql-client
  fresh_install=1
fi
# PostGIS for every installed server version (the extension must match the server).
for v in $(ls /usr/lib/postgresql 2>/dev/null); do
  if [ ! -f "/usr/share/postgresql/${v}/extension/postgis.control" ]; then
    echo "==> installing PostGIS for PostgreSQL ${v}"
    apt_install "postgresql-${v}-postgis-3"
  fi
done
if ! pg_ready; then
  echo "==> starting PostgreSQL"
  for v in $(ls /etc/postgresql 2>/dev/null); do
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || $SUDO pg_ctlcluster "$v" main start || true
  done
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
pg_ready || { echo "error: PostgreSQL is not accepting connections on 127.0.0.1:5432" >&2; exit 1; }
# A cluster this script installed gets trust auth on loopback, like the CI machines.
if [ "${fresh_install:-0}" = 1 ]; then
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n1)
  if ! grep -q "gad: loopback trust" "$hba"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust # gad: loopback trust\nhost all all ::1/128 trust # gad: loopback trust' "$hba"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main reload 2>/dev/null || true
  fi
fi

# Redis (optional for GAD itself, required by the Redis tests)
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "==> installing Redis"
    apt_install redis-server redis-tools
  fi
  echo "==> starting Redis"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/gad.log
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || echo "warning: Redis is not running; GAD will use in-process fallbacks" >&2

command -v cargo >/dev/null 2>&1 || { echo "error: cargo (Rust stable, edition 2024) is required" >&2; exit 1; }
echo "==> services ready: PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'show server_version' 2>/dev/null | cut -d' ' -f1) with PostGIS, Redis $(redis-cli -h 127.0.0.1 info server 2>/dev/null | grep redis_version | cut -d: -f2 | tr -d '\r')"
