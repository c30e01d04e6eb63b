#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with schemathesis (PyPI, installed by `make py`)
# against the seeded end2end server: run by end2end/run.sh, which sets TRAILKEEP_E2E_URL and
# TRAILKEEP_E2E_KEY. Every check: no 5xx, status codes, content types and bodies as documented.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
doc=$(mktemp --suffix .json)
trap 'rm -f "$doc"' EXIT
curl -fsS -H "Authorization: Bearer $TRAILKEEP_E2E_KEY" "$TRAILKEEP_E2E_URL/api/v1/openapi.json" >"$doc"
"$root/target/py/bin/schemathesis" run "$doc" \
  --url "$TRAILKEEP_E2E_URL" \
  -H "Authorization: Bearer $TRAILKEEP_E2E_KEY" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" \
  --seed 1 \
  --workers 1 \
  --request-timeout 60 \
  --no-color \
  --report junit --report-dir "$root/target/schemathesis" \
  "$@"
