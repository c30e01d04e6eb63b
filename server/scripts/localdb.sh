#!/usr/bin/env bash
# Starts (or reuses) a project-local PostgreSQL cluster and prints its connection URL.
#   server/scripts/localdb.sh DATA_DIR PORT
# Loopback TCP only, trust auth, superuser "trailkeep", database "trailkeep".
# initdb refuses to run as root, so as root the cluster belongs to the postgres system user.
set -euo pipefail
dir=$1
port=$2
user=trailkeep

pg_bin() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
  else
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
  fi
}

bin=$(pg_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "localdb: installing Debian's postgresql package" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bin=$(pg_bin)
  else
    echo "localdb: no PostgreSQL binaries found. Install them with:" >&2
    echo "  sudo apt-get install -y postgresql" >&2
    echo "or set DATABASE_URL to an existing server." >&2
    exit 1
  fi
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  chmod 700 "$dir"
  if ! runuser -u postgres -- test -x "$dir"; then
    echo "localdb: the postgres user cannot reach $dir; make its parent folders world-searchable (chmod o+x)" >&2
    exit 1
  fi
fi

if [ ! -f "$dir/PG_VERSION" ]; then
  as_owner "$bin/initdb" -D "$dir" -A trust -U "$user" -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
    || { cat "$dir.initdb.log" >&2; exit 1; }
fi

if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=on -c max_connections=200" \
    start >&2 || { tail -n 20 "$dir/server.log" >&2; exit 1; }
fi

if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'trailkeep'" | grep -q 1; then
  "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -qc "CREATE DATABASE trailkeep" >&2
fi

echo "postgres://$user@127.0.0.1:$port/trailkeep"
