#!/usr/bin/env bash
# Creates an empty database NAME (dropping any previous one) on the server of $DATABASE_URL and
# prints its URL. With --keep, an existing database is kept as it is. Needs CREATEDB.
#   server/scripts/scratchdb.sh NAME [--keep]
set -euo pipefail
name=$1
keep=${2:-}
url=${DATABASE_URL:?DATABASE_URL must be set}
query=""
case "$url" in *\?*) query="?${url#*\?}"; url=${url%%\?*} ;; esac
base=${url%/*}
admin="$base/postgres$query"
if [ "$keep" = --keep ] && psql "$admin" -qXtAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
  :
else
  psql "$admin" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\"" >&2
fi
echo "$base/$name$query"
