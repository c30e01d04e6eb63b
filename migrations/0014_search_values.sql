-- Search across fields (issue 24): the text `q` searches holds each field once, separated by
-- the unit separator (U+001F), which no search term can contain (the filter refuses control
-- characters): a term matches inside one field, never across two, and different terms may
-- match different fields. Details contribute their values (strings unquoted, numbers and
-- booleans as JSON writes them), not their key names: `request` no longer matches every entry
-- that has a `request_id`. `app::filter::search` states the reading; the tests hold the SQL,
-- live matching and an in-memory reference to it.

DROP INDEX audit_entries_search_idx;

CREATE OR REPLACE FUNCTION audit_search_text(
    actor_id text, actor_name text, actor_email text, action text, resource_type text,
    resource_id text, ip inet, user_agent text, details jsonb
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(concat_ws(chr(31), actor_id, actor_name, actor_email, action, resource_type,
                           resource_id, host(ip), user_agent,
                           (SELECT string_agg(v #>> '{}', chr(31))
                              FROM jsonb_path_query(details, 'strict $.**') AS v
                             WHERE jsonb_typeof(v) IN ('string', 'number', 'boolean'))))
$$;

CREATE INDEX audit_entries_search_idx ON audit_entries USING gin (
    audit_search_text(actor_id, actor_name, actor_email, action, resource_type, resource_id,
                      ip, user_agent, details) gin_trgm_ops
);
