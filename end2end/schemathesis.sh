#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with schemathesis (PyPI, installed by `make py`)
# against the seeded end2end server: run by end2end/run.sh, which sets TRAILKEEP_E2E_URL and
# TRAILKEEP_E2E_KEY. Every check: no 5xx, status codes, content types and bodies as documented,
# and no request the document allows refused. The hooks tell schemathesis the three rules the
# document can only state in prose (schemathesis_hooks.py says which, and why).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
doc=$(mktemp --suffix .json)
trap 'rm -f "$doc"' EXIT
export SCHEMATHESIS_HOOKS="$root/end2end/schemathesis_hooks.py"
curl -fsS -H "Authorization: Bearer $TRAILKEEP_E2E_KEY" "$TRAILKEEP_E2E_URL/api/v1/openapi.json" >"$doc"
"$root/target/py/bin/schemathesis" --config-file "$root/end2end/schemathesis.toml" run "$doc" \
  --url "$TRAILKEEP_E2E_URL" \
  -H "Authorization: Bearer $TRAILKEEP_E2E_KEY" \
  --checks all \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" \
  --seed 1 \
  --workers 1 \
  --request-timeout 60 \
  --no-color \
  --report junit --report-dir "$root/target/schemathesis" \
  "$@"
