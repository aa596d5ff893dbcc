#!/usr/bin/env bash
# The release build (issue 18): `target/release/gad` plus its CycloneDX SBOM
# `target/release/gad.cdx.json` (cargo-cyclonedx when installed, else scripts/sbom.py from
# `cargo metadata` and the Cargo.lock checksums). Extra arguments go to cargo build (e.g. -q).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p gad-cli "$@"
mkdir -p target/release
if cargo cyclonedx --version >/dev/null 2>&1; then
  cargo cyclonedx --format json --spec-version 1.5 -p gad-cli >/dev/null 2>&1 \
    && mv crates/gad-cli/gad-cli.cdx.json target/release/gad.cdx.json \
    && echo "SBOM: target/release/gad.cdx.json (cargo-cyclonedx)" \
    || python3 scripts/sbom.py target/release/gad.cdx.json
else
  python3 scripts/sbom.py target/release/gad.cdx.json
fi
