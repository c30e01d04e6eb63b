#!/usr/bin/env bash
# How long migration 0030 (the log partitioned by month) holds the log: N entries spread over
# 300 days are written under migrations 0001-0029 into a scratch database of their own, then
# 0030 is applied and timed. PostgreSQL's own work only (no Trailkeep process involved).
#   DATABASE_URL=… server/scripts/bench-partition-conversion.sh [N]
set -euo pipefail
n=${1:-1000000}
cd "$(dirname "$0")/../.."
url=$(server/scripts/scratchdb.sh trailkeep_bench_conversion)
psql "$url" -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE _sqlx_migrations (version bigint)"
for f in migrations/00[012]*.sql; do
  psql "$url" -1qX -v ON_ERROR_STOP=1 -f "$f" >/dev/null
done
# The chain computed in SQL: leaf hashes are made up (the database checks the chain, not the
# canonical form), so the rows are written at PostgreSQL's speed.
psql "$url" -qX -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE c (seq bigint, leaf bytea, chain bytea);
DO \$\$
DECLARE h bytea := (SELECT head_hash FROM chain_head); l bytea; i bigint;
BEGIN
  FOR i IN 0..$n - 1 LOOP
    l := sha256(int8send(i));
    h := sha256(h || l);
    INSERT INTO c VALUES (i, l, h);
  END LOOP;
END \$\$;
INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name,
                           action, resource_type, resource_id, ip, status, details, leaf_hash,
                           chain_hash, form, source)
SELECT seq, gen_random_uuid(), t, t, 'user', 'u' || (seq % 97), 'Person ' || (seq % 97),
       'document.viewed', 'document', 'doc-' || (seq % 5000), '192.0.2.1', 'success',
       jsonb_build_object('n', seq, 'note', 'changed region'), leaf, chain, 2, 'trailkeep'
FROM (SELECT c.*, now() - interval '300 days' + seq * (interval '300 days' / $n) AS t FROM c) s
ORDER BY seq;
VACUUM ANALYZE audit_entries;
CHECKPOINT;
SQL
size=$(psql "$url" -qXtAc "SELECT pg_size_pretty(pg_total_relation_size('audit_entries'))")
# Baseline: the same log rewritten once into an unpartitioned copy with every index (what any
# conversion must at least do), then dropped.
cols="seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name, actor_email, action,
      resource_type, resource_id, ip, user_agent, status, details, leaf_hash, chain_hash, form, source"
start=$(date +%s.%N)
psql "$url" -1qX -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE TABLE baseline_copy (LIKE audit_entries INCLUDING ALL);
INSERT INTO baseline_copy ($cols) SELECT $cols FROM audit_entries ORDER BY seq;
SQL
end=$(date +%s.%N)
baseline=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
psql "$url" -qX -c "DROP TABLE baseline_copy" -c "CHECKPOINT"
start=$(date +%s.%N)
psql "$url" -1qX -v ON_ERROR_STOP=1 -f migrations/0030_monthly_partitions.sql >/dev/null
end=$(date +%s.%N)
read -r count parts < <(psql "$url" -qXtA -F ' ' -c "SELECT (SELECT count(*) FROM audit_entries), \
  (SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_entries'::regclass)")
took=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
echo "baseline: the log rewritten once into an unpartitioned copy with its indexes: $baseline s"
echo "converted $count entries ($size with indexes) into $parts monthly partitions in $took s" \
  "($(awk "BEGIN { printf \"%.2f\", $took / $baseline }")x the baseline)"
