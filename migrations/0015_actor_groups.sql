-- The user picker keeps sign-in names that match no account apart (issue 24): an actor all of
-- whose entries are Trailkeep's own records of a refused sign-in for an unknown email (or its
-- per-minute summaries) is a name someone typed at /login, not a person of the platform. Only
-- entries Trailkeep recorded itself count (`source` is set by the server, never by a client),
-- so no ingest key can move an actor into or out of this group.

ALTER TABLE actor_stats ADD COLUMN unknown_sign_ins bigint NOT NULL DEFAULT 0;

CREATE FUNCTION audit_unknown_sign_in(source text, action text, details jsonb)
    RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT source = 'trailkeep' AND action = 'user.login_failed'
           AND details->>'reason' IN ('unknown_user', 'repeated')
$$;

CREATE OR REPLACE FUNCTION audit_entries_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO actor_stats AS s (actor_type, actor_id, actor_name, actor_email, entry_count,
                                  unknown_sign_ins)
        SELECT actor_type, actor_id, actor_name, actor_email, count(*),
               count(*) FILTER (WHERE audit_unknown_sign_in(source, action, details))
        FROM inserted GROUP BY actor_type, actor_id, actor_name, actor_email
    ON CONFLICT ON CONSTRAINT actor_stats_key DO UPDATE
        SET entry_count = s.entry_count + EXCLUDED.entry_count,
            unknown_sign_ins = s.unknown_sign_ins + EXCLUDED.unknown_sign_ins;
    INSERT INTO action_stats AS s (action, entry_count)
        SELECT action, count(*) FROM inserted GROUP BY action
    ON CONFLICT (action) DO UPDATE SET entry_count = s.entry_count + EXCLUDED.entry_count;
    RETURN NULL;
END
$$;

UPDATE actor_stats s SET unknown_sign_ins = c.n
FROM (SELECT actor_type, actor_id, actor_name, actor_email,
             count(*) FILTER (WHERE audit_unknown_sign_in(source, action, details)) AS n
      FROM audit_entries GROUP BY actor_type, actor_id, actor_name, actor_email) c
WHERE s.actor_type = c.actor_type AND s.actor_id = c.actor_id
  AND s.actor_name IS NOT DISTINCT FROM c.actor_name
  AND s.actor_email IS NOT DISTINCT FROM c.actor_email;
