#!/usr/bin/env bash
# Operations checks for CI (called by scripts/test.sh):
#   1. staging end to end: scripts/staging.sh test (up → gad smoke, all ten checks → down), then
#      proves `down` left nothing listening on 5435, 6382 or 8001;
#   2. promtool check config / check rules on deploy/prometheus.yml and deploy/alerts.yml
#      (installs the Debian package `prometheus` when promtool is missing; if that fails, warns
#      and skips only this step).
# The Rust side (every smoke check fails on its broken condition, deploy files use only known
# variables, alert rules reference exported series, backup round trip) runs with the workspace
# tests in crates/gad-cli/tests/.
set -euo pipefail
cd "$(dirname "$0")/.."

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

echo "==> ops: staging up → smoke → down"
for p in 5435 6382 8001; do
  if port_busy "$p"; then
    echo "==> ops: port $p busy before the test; stopping a previous staging stack"
    bash scripts/staging.sh down || true
    break
  fi
done
bash scripts/staging.sh test
left=""
for p in 5435 6382 8001; do port_busy "$p" && left="$left $p"; done
if [ -n "$left" ]; then
  echo "error: after staging down something still listens on:$left" >&2
  exit 1
fi
if bash scripts/staging.sh status >/dev/null 2>&1; then
  echo "error: staging status reports running components after down" >&2
  exit 1
fi
echo "==> ops: staging down left nothing running"

echo "==> ops: promtool"
if ! command -v promtool >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "==> installing the Debian package 'prometheus' for promtool (~100 MB, once)"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
    echo "WARNING: could not install promtool (package 'prometheus'); SKIPPING the promtool checks of deploy/prometheus.yml and deploy/alerts.yml" >&2
  fi
  # The package starts a Prometheus server on :9090 where systemd is absent it does not; stop it if it did.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi
if command -v promtool >/dev/null 2>&1; then
  promtool check config deploy/prometheus.yml
  promtool check rules deploy/alerts.yml
  promtool test rules deploy/alerts_test.yml
  echo "==> ops: promtool ok"
fi
echo "==> ops: two instances behind nginx (shared rate limit, WebSocket fan-out)"
bash scripts/two-instances.sh
echo "==> ops: all checks passed"
