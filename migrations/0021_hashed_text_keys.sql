-- Unique keys over an entry's free text hold a hash of each text, not the text. A btree row
-- holds at most 2,704 bytes, and an event may carry an actor id, name and email, a resource
-- type and id of 512 characters each (four bytes each in UTF-8, and incompressible when
-- random): such an event, valid by the API's rules, made the statistics' or a rollup's unique
-- key refuse the append, a 500 (found in review; server/tests/attacks.rs,
-- `the_largest_fields_the_api_accepts_are_appended_and_counted`). SHA-256 keeps the keys exact
-- (no two texts share one in practice, nor by an attacker's choice, unlike MD5).

-- No append while the keys and the functions that name them change.
LOCK TABLE audit_entries IN SHARE MODE;

-- The key of a text: its SHA-256 (NULL for NULL, which the keys treat as one value). UTF-8 is
-- the database's encoding, so the conversion is the identity and the function immutable.
CREATE FUNCTION text_key(t text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN pg_catalog.sha256(pg_catalog.convert_to(t, 'UTF8'));

ALTER TABLE actor_stats DROP CONSTRAINT actor_stats_key;
CREATE UNIQUE INDEX actor_stats_key ON actor_stats
    (actor_type, text_key(actor_id), text_key(actor_name), text_key(actor_email))
    NULLS NOT DISTINCT;

ALTER TABLE volume_actors DROP CONSTRAINT volume_actors_key;
CREATE UNIQUE INDEX volume_actors_key ON volume_actors
    (hour, text_key(actor_id), text_key(actor_name), text_key(actor_email), source, status)
    NULLS NOT DISTINCT;

ALTER TABLE volume_resources DROP CONSTRAINT volume_resources_key;
CREATE UNIQUE INDEX volume_resources_key ON volume_resources
    (hour, text_key(resource_type), text_key(resource_id), source, status)
    NULLS NOT DISTINCT;

-- The same functions as 0015 and 0020, their conflicts now named by the hashed keys.
CREATE OR REPLACE FUNCTION audit_entries_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.actor_stats AS s (actor_type, actor_id, actor_name, actor_email,
                                         entry_count, unknown_sign_ins)
        SELECT actor_type, actor_id, actor_name, actor_email, count(*),
               count(*) FILTER (WHERE public.audit_unknown_sign_in(source, action, details))
        FROM inserted GROUP BY actor_type, actor_id, actor_name, actor_email
    ON CONFLICT (actor_type, public.text_key(actor_id), public.text_key(actor_name),
                 public.text_key(actor_email)) DO UPDATE
        SET entry_count = s.entry_count + EXCLUDED.entry_count,
            unknown_sign_ins = s.unknown_sign_ins + EXCLUDED.unknown_sign_ins;
    INSERT INTO public.action_stats AS s (action, entry_count)
        SELECT action, count(*) FROM inserted GROUP BY action
    ON CONFLICT (action) DO UPDATE SET entry_count = s.entry_count + EXCLUDED.entry_count;
    RETURN NULL;
END
$$;

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
    ON CONFLICT (hour, public.text_key(actor_id), public.text_key(actor_name),
                 public.text_key(actor_email), source, status)
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    INSERT INTO public.volume_resources AS v (hour, resource_type, resource_id, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), resource_type, resource_id, source,
               status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, public.text_key(resource_type), public.text_key(resource_id), source, status)
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    INSERT INTO public.volume_ips AS v (hour, ip, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), ip, source, status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4
    ON CONFLICT ON CONSTRAINT volume_ips_key
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    RETURN NULL;
END
$$;
