#!/usr/bin/env bash
# Dispatch throughput with the roster deciding who may be called (DUTY_MODE=turnos) against
# everyone available (libre), on the same binary and database, alternated by compare.sh.
#
#   bench/wrk/duty.sh ROUNDS GAD_BINARY
#
# Database: $EMERGENCY_DB (default gad_bench), migrated and seeded with `gad seed --efectivos 100000`.
# Before the runs every officer gets a shift under way (started an hour ago, ends in 11 h) and is
# clocked in, and 1 % of them an approved leave covering now, so in `turnos` mode the supply is
# 99 % of libre's and the difference measured is the cost of the rule itself (shift lookup by
# officer, leave lookup) inside the one dispatch statement. The leave rows are removed at the end.
set -euo pipefail
ROUNDS="${1:?rounds}"
BIN="$(cd "$(dirname "${2:?gad binary}")" && pwd)/$(basename "$2")"
DIR="$(cd "$(dirname "$0")" && pwd)"
export EMERGENCY_DB="${EMERGENCY_DB:-postgres://postgres@127.0.0.1:5432/gad_bench}"
PSQL=(psql "$EMERGENCY_DB" -X -v ON_ERROR_STOP=1 -Atq)

"${PSQL[@]}" <<'SQL'
DELETE FROM licencias WHERE motivo = 'bench duty';
DELETE FROM turnos WHERE notas = 'bench duty';
INSERT INTO turnos (efectivo_id, inicio, fin, unidad, notas, ingreso_at)
SELECT id, now() - interval '1 hour', now() + interval '11 hours', 'Bench', 'bench duty', now() - interval '1 hour'
FROM efectivos WHERE deleted_at IS NULL
ON CONFLICT DO NOTHING;
INSERT INTO licencias (efectivo_id, tipo, desde, hasta, motivo, estado, resuelto_at, vigencia)
SELECT id, 'otra', current_date - 1, current_date + 1, 'bench duty', 'aprobada', now(),
       tstzrange(now() - interval '1 day', now() + interval '1 day')
FROM efectivos WHERE deleted_at IS NULL AND id % 100 = 0;
ANALYZE turnos;
ANALYZE licencias;
SQL
echo "== shifts under way: $("${PSQL[@]}" -c "SELECT count(*) FROM turnos WHERE notas = 'bench duty'"), approved leaves now: $("${PSQL[@]}" -c "SELECT count(*) FROM licencias WHERE motivo = 'bench duty'")"

WRAP="$(mktemp -d)"
trap 'rm -rf "$WRAP"' EXIT
# compare.sh starts each binary with its own environment; a wrapper per mode (exec keeps the
# pid, so the server's CPU time is still read from /proc).
printf '#!/bin/sh\nDUTY_MODE=libre exec "%s" "$@"\n' "$BIN" > "$WRAP/gad-libre"
printf '#!/bin/sh\nDUTY_MODE=turnos DUTY_REQUIRES_CLOCK_IN=true exec "%s" "$@"\n' "$BIN" > "$WRAP/gad-turnos"
chmod +x "$WRAP/gad-libre" "$WRAP/gad-turnos"
bash "$DIR/compare.sh" emergency "$ROUNDS" "$WRAP/gad-libre" "$WRAP/gad-turnos"
"${PSQL[@]}" -c "DELETE FROM licencias WHERE motivo = 'bench duty'"
