#!/usr/bin/env bash
# Creates and seeds a positions bench database with a given gad binary's own migrations:
#   bench/positions/seed.sh BIN DBNAME
# e.g. seed.sh /work/bin/gad-before gad_pos_before ; seed.sh target/release/gad gad_pos_after
# Then: 100 000 officers, 10 368 000 history rows over the 12 past days (seed.sql), and an
# administrator bench@gad.local / BenchPositions2026! (level 3) and a supervisor
# benchsup@gad.local (level 2, same password). Needs ~2–3 GB of disk per database plus WAL: check
# `df` first on a shared machine, and drop the databases when done.
set -euo pipefail
BIN="${1:?binary}"; DB="${2:?database name}"
SERVER="${PGSERVER:-postgres://postgres@127.0.0.1:5432}"
DIR="$(cd "$(dirname "$0")" && pwd)"
psql "$SERVER/postgres" -X -q -c "CREATE DATABASE $DB"
export DATABASE_URL="$SERVER/$DB" JWT_SECRET_KEY="bench-bench-bench-bench-bench-bench-bench"
"$BIN" migrate
"$BIN" create-admin --email bench@gad.local --password 'BenchPositions2026!' --dni BENCH0
time psql "$DATABASE_URL" -X -f "$DIR/seed.sql"
# A level-2 supervisor with the same password (the load and the map socket use it).
psql "$DATABASE_URL" -X -q -c "INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
  SELECT 'benchsup@gad.local', 'BENCHSUP', 'Supervisor', 'Bench', 'LEVEL_2', hashed_password, true
  FROM usuarios WHERE email = 'bench@gad.local'"
