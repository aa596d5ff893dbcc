#!/usr/bin/env bash
# Secret scan over the whole git history (issue 18); see scripts/secret-scan.py.
set -euo pipefail
exec python3 "$(dirname "$0")/secret-scan.py" "$@"
