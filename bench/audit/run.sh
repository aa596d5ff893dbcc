#!/usr/bin/env bash
# Audited insert + commit under pgbench: the old chain (head row lock in the insert trigger),
# no chain at all (`audit_plain`: the same columns, defaults and indexes, no trigger), and the
# sealer (content hash at insert, `audit_seal` every
# 500 ms in a side loop, as `gad serve` runs it). Two scratch databases, migrated from this
# checkout: one without the sealer migration (old chain), one with it.
#   bench/audit/run.sh [seconds=10] [rounds=3] [clients="1 8 32"]
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-10}; ROUNDS=${2:-3}; CLIENTS=${3:-"1 8 32"}
PG="psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q"
OLD=gad_audit_bench_old; NEW=gad_audit_bench_new
for db in $OLD $NEW; do
  $PG -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
done
for f in migrations/*.sql; do
  case "$f" in *20261208050001_audit_chain_sealer.sql) ;; *) $PG -d $OLD -f "$f" >/dev/null ;; esac
  $PG -d $NEW -f "$f" >/dev/null
done
$PG -d $NEW -c "CREATE TABLE audit_plain (LIKE audit_logs INCLUDING DEFAULTS INCLUDING INDEXES)"
bench() { # db clients label [script]
  local out
  out=$(pgbench -h 127.0.0.1 -U postgres -n -f "bench/audit/${4:-insert.sql}" -c "$2" -j 2 -T "$T" "$1" 2>&1)
  printf '%-10s c=%-3s %s tps, lat %s ms\n' "$3" "$2" \
    "$(grep -oP 'tps = \K[0-9.]+' <<<"$out" | head -1)" "$(grep -oP 'latency average = \K[0-9.]+' <<<"$out")"
}
sealer_loop() { # runs audit_seal every 500 ms until killed
  while true; do psql -h 127.0.0.1 -U postgres -d $NEW -Atqc "SELECT audit_seal(10000)" >/dev/null; sleep 0.5; done
}
for r in $(seq "$ROUNDS"); do
  for c in $CLIENTS; do
    bench $OLD "$c" chained
    bench $NEW "$c" unchained insert_plain.sql
    sealer_loop & SL=$!
    bench $NEW "$c" sealer
    kill $SL; wait $SL 2>/dev/null || true
    # The backlog at the end of the run, then everything sealed and the chain checked.
    left=$(psql -h 127.0.0.1 -U postgres -d $NEW -Atqc "SELECT count(*) FROM audit_logs WHERE chain_seq IS NULL")
    # (a pass of the killed loop may still hold the lock: NULL = busy, try again)
    until [ -n "$(psql -h 127.0.0.1 -U postgres -d $NEW -Atqc "SELECT audit_seal(1000000)")" ]; do sleep 0.1; done
    echo "           unsealed at the end of the run: $left"
  done
done
