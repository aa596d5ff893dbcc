#!/usr/bin/env bash
# Operations checks for CI (called by scripts/test.sh):
#   1. staging end to end (scripts/staging.sh, in a temporary state directory so a developer's
#      .staging is never touched): up; `gad smoke` directly (:8001) and through the Caddy proxy
#      (:8081), ten checks each; /metrics hidden at the proxy and served directly; the production
#      headers added by the proxy; the rate limiter keyed by the address the proxy forwards
#      (X-Forwarded-For), not by a header the client sends; an Alertmanager test alert through
#      the proxy; every helper command (help, status, logs [service] [-f], shell [service],
#      migrate, restart, down, clean with and without --yes); down leaves 5435, 6382, 8001 and
#      8081 free;
#   2. promtool check config / check rules / test rules on deploy/prometheus.yml and
#      deploy/alerts.yml, amtool check-config and a routing test on deploy/alertmanager.yml
#      (installs the Debian packages `prometheus` / `prometheus-alertmanager` when missing; if
#      that fails, warns and skips only that step);
#   3. two instances behind nginx (scripts/two-instances.sh).
# The Rust side (every smoke check fails on its broken condition, deploy files use only known
# variables, alert rules reference exported series, the webhook reaches level-2 sockets, backup
# round trip) runs with the workspace tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
STAGING_PORTS="5435 6382 8001 8081"
FAILS=0
PASSES=0
pass() { printf 'PASS %s\n' "$*"; PASSES=$((PASSES + 1)); }
fail() { printf 'FAIL %s\n' "$*"; FAILS=$((FAILS + 1)); }
expect() { # description command… — passes when the command succeeds
  local d="$1"; shift
  if "$@" >/tmp/ci-ops.out.$$ 2>&1; then pass "$d"; else fail "$d: $(tail -n 5 /tmp/ci-ops.out.$$)"; fi
}

# Packages whose service must not start (the checks run their own processes or none).
apt_install_no_service() { # package
  local own_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$1" >/dev/null; } || rc=$?
  [ "$own_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  return $rc
}

echo "==> ops: staging (API :8001, proxy :8081, PostGIS :5435, Redis :6382)"
T0=$(date +%s)
for p in $STAGING_PORTS; do
  if port_busy "$p"; then
    echo "==> ops: port $p busy before the test; stopping a previous staging stack"
    bash scripts/staging.sh down || true
    break
  fi
done
if [ -z "${GAD_BIN:-}" ]; then
  cargo build -q -p gad-cli
  export GAD_BIN="$ROOT/target/debug/gad"
fi
STAGING_DIR="$(mktemp -d /tmp/gad-staging.XXXXXX)"
chmod 755 "$STAGING_DIR" # the postgres OS user must reach its cluster inside
export STAGING_DIR STAGING_ENV_FILE="$STAGING_DIR.env"
S=(bash scripts/staging.sh)
staging_cleanup() {
  local rc=$?
  set +e
  if [ -d "$STAGING_DIR" ]; then
    [ $rc -eq 0 ] || { echo "--- staging logs (failure)"; LINES=30 "${S[@]}" logs; }
    "${S[@]}" down >/dev/null 2>&1
  fi
  rm -rf "$STAGING_DIR" "$STAGING_ENV_FILE" /tmp/ci-ops.out.$$
  exit $rc
}
trap staging_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- help
out="$("${S[@]}" help)"
missing=""
for c in up down restart status "logs \[SERVICE\] \[-f\]" "shell \[SERVICE\]" migrate smoke "clean \[--yes\]" help; do
  grep -q "^  $c" <<<"$out" || missing="$missing '$c'"
done
if [ -z "$missing" ]; then pass "help lists every command"; else fail "help lacks:$missing"; fi
rc=0; "${S[@]}" no-such-command >/dev/null 2>&1 || rc=$?
if [ $rc -eq 2 ]; then pass "an unknown command prints the usage and exits 2"; else fail "unknown command exited $rc"; fi

# ---------------------------------------------------------------- up, status, smoke
t=$(date +%s)
"${S[@]}" up
pass "up in $(( $(date +%s) - t )) s"
out="$("${S[@]}" status)" && st=0 || st=$?
echo "$out" | sed 's/^/     /'
if [ $st -eq 0 ] && grep -q '^proxy *running' <<<"$out" && grep -q '^ready *direct .*"status":"ready"' <<<"$out" &&
   grep -q '^ready *proxy .*"status":"ready"' <<<"$out"; then
  pass "status: every component running, /ready answered directly and through the proxy"
else
  fail "status (exit $st) does not show everything running and ready"
fi

"${S[@]}" smoke | tee /tmp/ci-ops.out.$$ && st=0 || st=$?
n_direct=$(grep -c '^smoke: 10/10 passed against http://127.0.0.1:8001$' /tmp/ci-ops.out.$$ || true)
n_proxy=$(grep -c '^smoke: 10/10 passed against http://127.0.0.1:8081$' /tmp/ci-ops.out.$$ || true)
if [ $st -eq 0 ] && [ "$n_direct" = 1 ] && [ "$n_proxy" = 1 ]; then
  pass "gad smoke 10/10 directly and 10/10 through the proxy"
else
  fail "gad smoke (exit $st): direct 10/10 ×$n_direct, proxy 10/10 ×$n_proxy"
fi

# ---------------------------------------------------------------- what the proxy adds and hides
PX=http://127.0.0.1:8081
API=http://127.0.0.1:8001
code() { curl -sS -m 5 -o /dev/null -w '%{http_code}' "$@"; }
c_px=$(code "$PX/metrics"); c_px2=$(code "$PX/api/v1/metrics/x"); c_api=$(code "$API/metrics")
if [[ "$c_px" =~ ^40[34]$ ]] && [[ "$c_px2" =~ ^40[34]$ ]] && [ "$c_api" = 200 ]; then
  pass "/metrics through the proxy $c_px (/api/v1/metrics/* $c_px2), directly $c_api"
else
  fail "/metrics through the proxy $c_px (/api/v1/metrics/* $c_px2), directly $c_api (want 403/404 and 200)"
fi
h_px="$(curl -sS -m 5 -D - -o /dev/null "$PX/api/v1/health")"
h_api="$(curl -sS -m 5 -D - -o /dev/null "$API/api/v1/health")"
if grep -qi '^strict-transport-security: max-age=31536000; includeSubDomains' <<<"$h_px" &&
   ! grep -qi '^server:' <<<"$h_px" && grep -qi '^x-content-type-options: nosniff' <<<"$h_px" &&
   ! grep -qi '^strict-transport-security:' <<<"$h_api"; then
  pass "the proxy adds the production HSTS header and drops Server; gad's own headers pass through"
else
  fail "proxy headers differ from deploy/Caddyfile's: $(tr -d '\r' <<<"$h_px" | tr '\n' ' ')"
fi

# The limiter must key a request through the proxy by the address the proxy forwards in
# X-Forwarded-For. Clients come from distinct loopback addresses (unique per run, so an earlier
# run's window does not interfere); gad trusts X-Forwarded-For from 127.0.0.1 (the proxy) only.
rnd() { echo $(( RANDOM % ${1} + ${2} )); }
C1="127.$(rnd 200 20).$(rnd 250 1).$(rnd 250 1)"
C2="127.$(rnd 200 20).$(rnd 250 1).$(rnd 250 1)"
LIMIT="$(curl -sS -m 5 -D - -o /dev/null --interface "$C2" "$PX/api/v1/users/me" | tr -d '\r' | sed -n 's/^x-ratelimit-limit: //Ip')"
LIMIT="${LIMIT:-100}"
urls=(); for _ in $(seq 1 $((LIMIT + 1))); do urls+=(-o /dev/null "$PX/api/v1/users/me"); done
codes="$(curl -sS -m 30 --interface "$C1" -w '%{http_code}\n' "${urls[@]}" | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')"
spoof=$(code --interface "$C1" -H "X-Forwarded-For: 198.51.100.$(rnd 250 1)" "$PX/api/v1/users/me")
other=$(code --interface "$C2" "$PX/api/v1/users/me")
direct_same=$(code --interface "$C1" "$API/api/v1/users/me")
direct_claim=$(code --interface "$C2" -H "X-Forwarded-For: $C1" "$API/api/v1/users/me")
echo "     client $C1 through the proxy: $codes; spoofed X-Forwarded-For $spoof; client $C2 $other; $C1 directly $direct_same; $C2 directly claiming $C1 $direct_claim"
if [ "$codes" = "401×$LIMIT 429×1 " ] && [ "$spoof" = 429 ] && [ "$other" = 401 ] && [ "$direct_same" = 429 ] && [ "$direct_claim" = 401 ]; then
  pass "through the proxy the limiter keys by the forwarded client address ($LIMIT admitted, then 429; a spoofed X-Forwarded-For does not escape it; another client is unaffected; gad ignores X-Forwarded-For from anyone but the proxy)"
else
  fail "rate limiting through the proxy is not keyed by the forwarded address"
fi

# ---------------------------------------------------------------- Alertmanager webhook through the proxy
# `shell api` has the staging environment (ALERTMANAGER_WEBHOOK_TOKEN) loaded.
wh="$("${S[@]}" shell api -c 'for auth in "Bearer $ALERTMANAGER_WEBHOOK_TOKEN" "Bearer wrong-$ALERTMANAGER_WEBHOOK_TOKEN" ""; do
  curl -sS -m 5 -o /dev/null -w "%{http_code} " -H "Authorization: $auth" -H "Content-Type: application/json" \
    --data @scripts/lib/test_alert.json "$STAGING_PROXY/api/v1/alerts/alertmanager"; done')"
if [ "$wh" = "200 401 401 " ] && grep -q '"alertname":"GadStagingTestAlert"' "$STAGING_DIR/gad.log"; then
  pass "Alertmanager test alert through the proxy: 200 with the secret, 401 with a wrong or no secret; published"
else
  fail "Alertmanager webhook through the proxy: $wh (want 200 401 401)"
fi

# …and reaches a supervisor: a level-2 user's WebSocket, opened through the proxy, gets the `alert`.
if ! python3 -c 'import websockets' >/dev/null 2>&1; then
  echo "==> installing the Python package websockets"
  python3 -m pip install -q websockets >/dev/null 2>&1 ||
    python3 -m pip install -q --break-system-packages websockets >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-websockets >/dev/null; } || true
fi
SUP_EMAIL="supervisor-ci@staging.gad"
SUP_PW="Sup-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"${S[@]}" shell api -c "gad create-admin --email $SUP_EMAIL --password $SUP_PW --nombre Supervisor --apellido Staging" >/dev/null
"${S[@]}" shell db -qc "UPDATE usuarios SET nivel = 'LEVEL_2' WHERE lower(email) = lower('$SUP_EMAIL')" >/dev/null
probe="$("${S[@]}" shell api -c "python3 scripts/lib/alert_probe.py --proxy \"\$STAGING_PROXY\" --user $SUP_EMAIL \
  --password $SUP_PW --secret \"\$ALERTMANAGER_WEBHOOK_TOKEN\" --payload scripts/lib/test_alert.json" 2>&1)" || true
echo "$probe" | grep -v '^PASS\|^FAIL' | sed 's/^/     /' || true
if grep -q '^PASS' <<<"$probe"; then pass "$(grep "^PASS" <<<"$probe" | sed "s/^PASS //")"; else fail "alert to a level-2 WebSocket: $probe"; fi

# ---------------------------------------------------------------- logs
for svc in api db redis proxy; do
  out="$(LINES=3 "${S[@]}" logs "$svc" 2>&1)" && st=0 || st=$?
  if [ $st -eq 0 ] && grep -q '^--- ' <<<"$out" && [ "$(grep -vc '^--- ' <<<"$out")" -ge 1 ]; then
    pass "logs $svc"
  else
    fail "logs $svc (exit $st): $out"
  fi
done
out="$(LINES=1 "${S[@]}" logs)"
if [ "$(grep -c '^--- ' <<<"$out")" -ge 4 ]; then pass "logs (all services)"; else fail "logs without a service: $out"; fi
rc=0; "${S[@]}" logs bogus >/dev/null 2>&1 || rc=$?
if [ $rc -ne 0 ]; then pass "logs with an unknown service fails"; else fail "logs bogus succeeded"; fi
# -f follows: a request made after it started shows up in the proxy's access log it is tailing.
marker="/follow-$(rnd 30000 1)-$$"
LINES=0 "${S[@]}" logs proxy -f >/tmp/ci-ops.follow.$$ 2>&1 &
fpid=$!
sleep 1
code "$PX$marker" >/dev/null || true
for _ in $(seq 1 20); do grep -q "$marker" /tmp/ci-ops.follow.$$ && break; sleep 0.25; done
alive=0; kill -0 "$fpid" 2>/dev/null && alive=1
kill "$fpid" 2>/dev/null || true; wait "$fpid" 2>/dev/null || true
if [ $alive = 1 ] && grep -q "$marker" /tmp/ci-ops.follow.$$; then pass "logs proxy -f follows (a later request appeared)"; else fail "logs proxy -f did not show a later request"; fi
rm -f /tmp/ci-ops.follow.$$

# ---------------------------------------------------------------- shell (non-interactive)
out="$("${S[@]}" shell db -tAc 'SELECT count(*) FROM usuarios' 2>&1)" || true
if [[ "$out" =~ ^[0-9]+$ ]]; then pass "shell db -c runs psql on the staging database ($out usuarios)"; else fail "shell db -c: $out"; fi
out="$(echo 'SELECT 40 + 2;' | "${S[@]}" shell db -tA 2>&1)" || true
if [ "$out" = 42 ]; then pass "shell db reads SQL from stdin"; else fail "shell db with stdin: $out"; fi
out="$("${S[@]}" shell redis PING 2>&1)" || true
noauth="$(redis-cli -h 127.0.0.1 -p 6382 PING 2>&1)" || true
if [ "$out" = PONG ] && grep -q NOAUTH <<<"$noauth"; then pass "shell redis authenticates (PONG; without the password: NOAUTH)"; else fail "shell redis: $out / $noauth"; fi
out="$("${S[@]}" shell api -c 'echo "$ENVIRONMENT $TRUSTED_PROXY_HOSTS"; gad check-config >/dev/null && echo config-ok' 2>&1)" || true
if [ "$out" = "staging 127.0.0.1/32"$'\n'"config-ok" ]; then pass "shell api has the staging environment and the gad binary"; else fail "shell api: $out"; fi
out="$(echo 'caddy validate --adapter caddyfile --config "$CADDYFILE" 2>&1 | tail -n 1' | "${S[@]}" shell proxy 2>&1)" || true
if [ "$out" = "Valid configuration" ]; then pass "shell proxy (caddy validate of the staging Caddyfile)"; else fail "shell proxy: $out"; fi
rc=0; "${S[@]}" shell bogus </dev/null >/dev/null 2>&1 || rc=$?
if [ $rc -ne 0 ]; then pass "shell with an unknown service fails"; else fail "shell bogus succeeded"; fi

# ---------------------------------------------------------------- migrate, restart
expect "migrate (idempotent on an up-to-date database)" "${S[@]}" migrate
t=$(date +%s)
expect "restart" "${S[@]}" restart
expect "status after restart" "${S[@]}" status
echo "     restart took $(( $(date +%s) - t )) s"

# ---------------------------------------------------------------- down, clean
expect "down" "${S[@]}" down
left=""
for p in $STAGING_PORTS; do port_busy "$p" && left="$left $p"; done
if [ -z "$left" ]; then pass "down left $STAGING_PORTS free"; else fail "after down something still listens on:$left"; fi
rc=0; "${S[@]}" status >/dev/null 2>&1 || rc=$?
if [ $rc -eq 3 ]; then pass "status after down exits 3"; else fail "status after down exited $rc"; fi
rc=0; echo no | "${S[@]}" clean >/dev/null 2>&1 || rc=$?
if [ $rc -ne 0 ] && [ -d "$STAGING_DIR/pg" ] && [ -f "$STAGING_ENV_FILE" ]; then
  pass "clean without confirmation refuses and deletes nothing"
else
  fail "clean answered 'no' exited $rc and/or deleted data"
fi
rc=0; "${S[@]}" clean --yes >/dev/null 2>&1 || rc=$?
if [ $rc -eq 0 ] && [ ! -e "$STAGING_DIR" ] && [ ! -e "$STAGING_ENV_FILE" ]; then
  pass "clean --yes deletes the data directory and the secrets"
else
  fail "clean --yes exited $rc; left: $(ls -d "$STAGING_DIR" "$STAGING_ENV_FILE" 2>/dev/null | tr '\n' ' ')"
fi

echo "==> ops: staging: $PASSES passed, $FAILS failed in $(( $(date +%s) - T0 )) s"
[ "$FAILS" -eq 0 ] || exit 1

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

echo "==> ops: amtool"
if ! command -v amtool >/dev/null 2>&1; then
  echo "==> installing the Debian package 'prometheus-alertmanager' for amtool (its service is not started)"
  apt_install_no_service prometheus-alertmanager ||
    echo "WARNING: could not install amtool (package 'prometheus-alertmanager'); SKIPPING amtool check-config of deploy/alertmanager.yml" >&2
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true; fi
fi
if command -v amtool >/dev/null 2>&1; then
  amtool check-config deploy/alertmanager.yml
  # Every rule's alerts reach the gad webhook receiver, critical ones through their own route.
  for labels in "alertname=GadInstanceDown severity=critical" "alertname=GadRedisDegraded severity=warning"; do
    # shellcheck disable=SC2086
    amtool config routes test --config.file deploy/alertmanager.yml --verify.receivers=gad $labels 2>/dev/null >/dev/null ||
      { echo "error: amtool: $labels does not route to the gad receiver" >&2; exit 1; }
  done
  echo "==> ops: amtool ok"
fi
echo "==> ops: two instances behind nginx (shared rate limit, WebSocket fan-out)"
bash scripts/two-instances.sh
echo "==> ops: all checks passed"
