-- A function that runs as the log's owner never resolves a name in the caller's temporary
-- schema. When `pg_temp` is missing from a function's search_path, PostgreSQL searches it
-- first for tables and types: the server's role could create `TEMP TABLE volume_actions`
-- with a trigger of its own and append an entry, so that `volume_count()` (0017, which named
-- its tables without `public.`) wrote there and ran the role's code as the owner, who may
-- switch the log's guards off. Now every SECURITY DEFINER function names its tables by schema
-- and lists `pg_temp` last, where nothing it names can be found
-- (server/tests/attacks.rs, `a_temporary_table_cannot_shadow_what_the_owner_writes`).

CREATE OR REPLACE FUNCTION volume_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO public.volume_actions AS v (hour, action, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), action, source, status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4
    ON CONFLICT ON CONSTRAINT volume_actions_key
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    INSERT INTO public.volume_actors AS v (hour, actor_id, actor_name, actor_email, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), actor_id, actor_name, actor_email,
               source, status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT ON CONSTRAINT volume_actors_key
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    RETURN NULL;
END
$$;

ALTER FUNCTION chain_head_for_append() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION audit_entries_extend_chain() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION checkpoints_only_grow() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION tree_extend(bigint) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION checkpoint_insert(bigint, bytea, bigint, text) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION tree_stored_hash(bigint) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION tree_root_at(bigint) SET search_path = pg_catalog, public, pg_temp;
