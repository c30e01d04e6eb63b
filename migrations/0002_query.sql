-- The query engine: free-text search, indexes matching the filter's ordered scans, derived
-- counts for the facets, and the key that signs pagination cursors.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The text `q` searches: actor, action, resource, address, user agent and the JSON text of
-- details, lower-cased. An index expression, not a column: entries keep exactly their fields.
CREATE FUNCTION audit_search_text(
    actor_id text, actor_name text, actor_email text, action text, resource_type text,
    resource_id text, ip inet, user_agent text, details jsonb
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(concat_ws(' ', actor_id, actor_name, actor_email, action, resource_type,
                           resource_id, host(ip), user_agent, details::text))
$$;

CREATE INDEX audit_entries_search_idx ON audit_entries USING gin (
    audit_search_text(actor_id, actor_name, actor_email, action, resource_type, resource_id,
                      ip, user_agent, details) gin_trgm_ops
);

-- A bare resource id is the common question ("everything touching cfg_7"): order by time after it.
DROP INDEX audit_entries_resource_idx;
CREATE INDEX audit_entries_resource_idx ON audit_entries (resource_id, occurred_at, seq) WHERE resource_id IS NOT NULL;
CREATE INDEX audit_entries_name_idx ON audit_entries (actor_name, occurred_at, seq) WHERE actor_name IS NOT NULL;
CREATE INDEX audit_entries_ip_idx ON audit_entries (ip) WHERE ip IS NOT NULL;

-- Derived counts for the user and action pickers, kept exact by the database itself in the
-- inserting transaction. They are an index of the log, not part of it.
CREATE TABLE actor_stats (
    actor_type  text   NOT NULL,
    actor_id    text   NOT NULL,
    actor_name  text,
    actor_email text,
    entry_count bigint NOT NULL,
    CONSTRAINT actor_stats_key UNIQUE NULLS NOT DISTINCT (actor_type, actor_id, actor_name, actor_email)
);
CREATE INDEX actor_stats_email_idx ON actor_stats (lower(actor_email));
CREATE INDEX actor_stats_name_idx ON actor_stats (actor_name);

CREATE TABLE action_stats (
    action      text   PRIMARY KEY,
    entry_count bigint NOT NULL
);

CREATE FUNCTION audit_entries_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO actor_stats AS s (actor_type, actor_id, actor_name, actor_email, entry_count)
        SELECT actor_type, actor_id, actor_name, actor_email, count(*)
        FROM inserted GROUP BY actor_type, actor_id, actor_name, actor_email
    ON CONFLICT ON CONSTRAINT actor_stats_key DO UPDATE SET entry_count = s.entry_count + EXCLUDED.entry_count;
    INSERT INTO action_stats AS s (action, entry_count)
        SELECT action, count(*) FROM inserted GROUP BY action
    ON CONFLICT (action) DO UPDATE SET entry_count = s.entry_count + EXCLUDED.entry_count;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_entries_count AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_count();

INSERT INTO actor_stats (actor_type, actor_id, actor_name, actor_email, entry_count)
    SELECT actor_type, actor_id, actor_name, actor_email, count(*) FROM audit_entries
    GROUP BY actor_type, actor_id, actor_name, actor_email;
INSERT INTO action_stats (action, entry_count)
    SELECT action, count(*) FROM audit_entries GROUP BY action;

-- Signs pagination cursors; shared by every server process through the database.
CREATE TABLE server_secret (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cursor_key bytea NOT NULL CHECK (length(cursor_key) = 32)
);
INSERT INTO server_secret (cursor_key)
    VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

GRANT SELECT, INSERT, UPDATE ON actor_stats, action_stats TO trailkeep_writer;
GRANT SELECT ON server_secret TO trailkeep_writer;
