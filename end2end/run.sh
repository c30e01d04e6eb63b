#!/usr/bin/env bash
# The end2end suite: a fresh seeded database, the release server on its own port, Playwright
# driving Debian's Chromium against it. Usage: end2end/run.sh SERVER_BINARY ADDR [COMMAND...]
# (COMMAND, run in end2end/ against the server, defaults to the Playwright suite.)
set -euo pipefail
server=$(realpath "$1")
addr=$2
shift 2
cd "$(dirname "$0")"
root=$(cd .. && pwd)

DATABASE_URL=$("$root/server/scripts/scratchdb.sh" trailkeep_e2e)
export DATABASE_URL
"$server" migrate
"$server" seed --demo --count "${E2E_ENTRIES:-3000}"
TRAILKEEP_E2E_KEY=$("$server" key create --name e2e --scope ingest,read)
export TRAILKEEP_E2E_KEY
export TRAILKEEP_E2E_URL="http://$addr"
export TRAILKEEP_DEMO_PASSWORD=${TRAILKEEP_DEMO_PASSWORD:-trailkeep-demo}

log="$root/target/e2e-server.log"
# A fresh log, a fresh key (created by serve); checkpoints each second for the badge's tests.
export TRAILKEEP_KEY_FILE="$root/target/e2e-log.key"
rm -f "$TRAILKEEP_KEY_FILE" "$TRAILKEEP_KEY_FILE.last-checkpoint"
export TRAILKEEP_CHECKPOINT_SECONDS=1
LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_ADDR="$addr" LEPTOS_ENV=PROD \
  "$server" serve >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  curl -fsS "$TRAILKEEP_E2E_URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.2
done

if [ $# -gt 0 ]; then "$@"; else npx playwright test; fi
