#!/usr/bin/env bash
# What serde_json's `float_roundtrip` feature costs and what it fixes, on location bodies as a
# browser writes them (17 significant digits). Builds one throw-away program twice, without and
# with the feature, outside the workspace (its own target dir under $TMPDIR).
#   bench/json-floats/run.sh [N]    # N bodies (default 200000)
set -euo pipefail
N="${1:-200000}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
node -e 'for (let i = 0; i < Number(process.argv[1]); i++) console.log(String(-58.4 - Math.random() / 100))' "$N" > "$WORK/lngs.txt"
mkdir -p "$WORK/p/src"
cat > "$WORK/p/src/main.rs" <<'RS'
// Reads one longitude per line; parses `{"lat": -34.5, "lng": <it>}` with serde_json and
// compares with the correctly rounded value (str::parse), then times the parse.
fn main() {
    let text = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap();
    let lngs: Vec<&str> = text.lines().collect();
    let bodies: Vec<String> = lngs.iter().map(|l| format!(r#"{{"lat": -34.5, "lng": {l}}}"#)).collect();
    let mut off = 0;
    for (l, b) in lngs.iter().zip(&bodies) {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        if v["lng"].as_f64().unwrap().to_bits() != l.parse::<f64>().unwrap().to_bits() {
            off += 1;
        }
    }
    let t = std::time::Instant::now();
    let mut acc = 0.0;
    for _ in 0..5 {
        for b in &bodies {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            acc += v["lng"].as_f64().unwrap();
        }
    }
    let ns = t.elapsed().as_nanos() as f64 / (5 * bodies.len()) as f64;
    println!("{off} of {} longitudes read differently; {ns:.0} ns per body (checksum {acc:.3})", lngs.len());
}
RS
for features in '' '"float_roundtrip"'; do
  cat > "$WORK/p/Cargo.toml" <<TOML
[package]
name = "json-floats"
version = "0.0.0"
edition = "2024"
publish = false
[workspace]
[dependencies]
serde_json = { version = "1", features = [$features] }
TOML
  printf '%-32s ' "serde_json ${features:-(default)}:"
  (cd "$WORK/p" && cargo run -q --release -- "$WORK/lngs.txt")
done
