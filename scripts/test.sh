#!/usr/bin/env bash
# The whole test suite: services, formatting, lints, every test (real PostgreSQL+PostGIS, real Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh

# This run's databases carry its own prefix (GAD_TEST_RUN), so the clean-up never drops another
# session's databases on a shared server.
export GAD_TEST_RUN="${GAD_TEST_RUN:-r$(date +%s)$$}"
export FUZZ_DB="${FUZZ_DB:-gad_fuzz_${GAD_TEST_RUN}}"
cleanup_dbs() {
  psql -h 127.0.0.1 -U postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'gad_test_${GAD_TEST_RUN}_%'" 2>/dev/null |
    while read -r db; do [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
}
cleanup_dbs
trap cleanup_dbs EXIT

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> supply chain: cargo deny (licenses bans sources; advisories when reachable), secret scan of the git history"
bash scripts/supply-chain.sh
echo "==> SBOM (CycloneDX, as the release build writes it)"
SBOM="$(mktemp)"; python3 scripts/sbom.py "$SBOM" && rm -f "$SBOM"
echo "==> tests"
LOG="$(mktemp)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$LOG"
  PASSED="$(grep -E 'Summary .* tests run: [0-9]+ passed' "$LOG" | tail -n1 | sed -E 's/.*tests run: ([0-9]+) passed.*/\1/')"
else
  cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$LOG"
  PASSED="$(grep -Eo '[0-9]+ passed' "$LOG" | awk '{s += $1} END {print s + 0}')"
fi
rm -f "$LOG"
echo "==> OpenAPI fuzzing (schemathesis, every check, 0 failures)"
cargo build --locked -p gad-cli
LOG="$(mktemp)"
# Whole output to a file; on failure show schemathesis's FAILURES section (each with its curl
# reproduction and seed), not only the last lines, which are the server log.
if ! bash scripts/fuzz-openapi.sh target/debug/gad "${FUZZ_EXAMPLES:-15}" >"$LOG" 2>&1 ||
  ! grep -Eq '[0-9]+ generated, [0-9]+ passed' "$LOG"; then
  sed -n '/= FAILURES =/,/= SUMMARY =/p' "$LOG" | head -n 300
  grep -E 'generated|Seed:|fuzz:|ERROR|panicked' "$LOG" | tail -n 40
  echo "schemathesis reported failures (whole log above: FAILURES, then the server's errors)" >&2
  exit 1
fi
tail -n 25 "$LOG"
rm -f "$LOG"
echo "==> browser tests (command centre in headless Chromium, axe-core)"
LOG="$(mktemp)"
bash scripts/browser-tests.sh 2>&1 | tee "$LOG"
BROWSER_PASSED="$(grep -E '^# pass [0-9]+' "$LOG" | tail -n1 | awk '{print $3}')"
PASSED="$(( ${PASSED:-0} + ${BROWSER_PASSED:-0} ))"
rm -f "$LOG"
echo "==> operations checks (staging up → smoke → down, promtool)"
bash scripts/ci-ops.sh
echo "tests: ${PASSED:-0} passed, 0 failed"
