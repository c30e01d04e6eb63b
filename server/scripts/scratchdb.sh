#!/usr/bin/env bash
# Creates an empty database NAME (dropping any previous one) on the server of $DATABASE_URL and
# prints its URL. The connecting user needs CREATEDB.
#   server/scripts/scratchdb.sh NAME
set -euo pipefail
name=$1
url=${DATABASE_URL:?DATABASE_URL must be set}
query=""
case "$url" in *\?*) query="?${url#*\?}"; url=${url%%\?*} ;; esac
base=${url%/*}
admin="$base/postgres$query"
psql "$admin" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\"" >&2
echo "$base/$name$query"
