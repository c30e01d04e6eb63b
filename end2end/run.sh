#!/usr/bin/env bash
# The end2end suite: a fresh seeded database, the release server on its own port, Playwright
# driving Debian's Chromium against it. Usage: end2end/run.sh SERVER_BINARY ADDR [COMMAND...]
# (COMMAND, run in end2end/ against the server, defaults to the Playwright suite.) An empty ADDR,
# or port 0, takes a free port of loopback chosen now (another if it is taken by the time the
# server binds it); an explicit ADDR is used as it is.
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
# The binary itself, for the specs that run `trailkeep verify-export` on what they download.
export TRAILKEEP_BIN="$server"
export TRAILKEEP_DEMO_PASSWORD=${TRAILKEEP_DEMO_PASSWORD:-trailkeep-demo}
# A second reader, for what one reader shares with another (saved searches).
printf '%s\n' "$TRAILKEEP_DEMO_PASSWORD" \
  | "$server" user create --email auditor@company.com --name "Sam Auditor" --role compliance >/dev/null
# A member of their own for two-factor sign-in (account.spec.ts): enrolling changes how they sign in.
printf '%s\n' "$TRAILKEEP_DEMO_PASSWORD" \
  | "$server" user create --email tess@company.com --name "Tess Factor" --role member >/dev/null
# A member held to a required second factor (settings.spec.ts).
printf '%s\n' "$TRAILKEEP_DEMO_PASSWORD" \
  | "$server" user create --email rhea@company.com --name "Rhea Required" --role member >/dev/null

log="$root/target/e2e-server.log"
# A fresh log, a fresh key (created by serve); checkpoints each second for the badge's tests.
export TRAILKEEP_KEY_FILE="$root/target/e2e-log.key"
rm -f "$TRAILKEEP_KEY_FILE" "$TRAILKEEP_KEY_FILE.last-checkpoint"
export TRAILKEEP_CHECKPOINT_SECONDS=1
# Scheduled exports write here (exports.spec.ts).
export TRAILKEEP_EXPORT_DIR="$root/target/e2e-exports"
rm -rf "$TRAILKEEP_EXPORT_DIR"
# Alert notifications go to receivers alerts.spec.ts starts on 127.0.0.2 (127.0.0.1 stays
# refused: exports.spec.ts checks the guard with it).
export TRAILKEEP_OUTBOUND_ALLOW=127.0.0.2
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
case "$addr" in
  "") host=127.0.0.1 port=0 ;;
  *) host=${addr%:*} port=${addr##*:} ;;
esac
pid=
trap '[ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }' EXIT
# Up when /healthz answers and the process answering is ours (still running); a chosen port
# taken meanwhile makes serve exit ("cannot listen"), and the next attempt chooses another.
for attempt in 1 2 3 4 5; do
  if [ "$port" = 0 ]; then try="$host:$(free_port)"; else try="$host:$port"; fi
  TRAILKEEP_E2E_URL="http://$try"
  LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_ADDR="$try" LEPTOS_ENV=PROD \
    "$server" serve >"$log" 2>&1 &
  pid=$!
  up=
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      pid=
      break
    fi
    if curl -fsS "$TRAILKEEP_E2E_URL/healthz" >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null; then
      up=1
      break
    fi
    sleep 0.2
  done
  [ -n "$up" ] && break
  if [ -n "$pid" ] || [ "$port" != 0 ] || ! grep -q 'cannot listen' "$log"; then
    cat "$log"
    exit 1
  fi
done
[ -n "$up" ] || { cat "$log"; exit 1; }
export TRAILKEEP_E2E_URL
echo "end2end: server on $TRAILKEEP_E2E_URL" >&2

if [ $# -gt 0 ]; then "$@"; else npx playwright test; fi
