-- The volume chart's rollups (issue 24): entries per UTC hour of occurred_at, by status and
-- source, and either by action (`volume_actions`) or by actor (`volume_actors`). One table per
-- field keeps each small (a few rows per action or actor per hour, however many entries): one
-- table over every field would hold nearly a row per entry. The log's own trigger keeps both in
-- the appending transaction, so any snapshot sees exactly the entries it sees counted here.
-- The chart reads whole hours from the one that keeps every field its filter names, and only
-- the partial hours at its window's edges from the log (storage::query::volume); the columns
-- carry the log's names, so that the one place a filter becomes SQL serves all three.
--
-- Only the trigger writes them, as their owner (SECURITY DEFINER): the server's role may read
-- them and nothing else, so it cannot make the chart disagree with the log.
CREATE TABLE volume_actions (
    hour     timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    action   text        NOT NULL,
    category text        NOT NULL GENERATED ALWAYS AS (split_part(action, '.', 1)) STORED,
    source   text,
    status   text        NOT NULL,
    entries  bigint      NOT NULL CHECK (entries > 0),
    CONSTRAINT volume_actions_key UNIQUE NULLS NOT DISTINCT (hour, action, source, status)
);

CREATE TABLE volume_actors (
    hour        timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    actor_id    text        NOT NULL,
    actor_name  text,
    actor_email text,
    source      text,
    status      text        NOT NULL,
    entries     bigint      NOT NULL CHECK (entries > 0),
    CONSTRAINT volume_actors_key UNIQUE NULLS NOT DISTINCT
        (hour, actor_id, actor_name, actor_email, source, status)
);

CREATE FUNCTION volume_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO volume_actions AS v (hour, action, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), action, source, status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4
    ON CONFLICT ON CONSTRAINT volume_actions_key
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    INSERT INTO volume_actors AS v (hour, actor_id, actor_name, actor_email, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), actor_id, actor_name, actor_email,
               source, status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT ON CONSTRAINT volume_actors_key
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    RETURN NULL;
END
$$;

CREATE TRIGGER volume_count AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION volume_count();

INSERT INTO volume_actions (hour, action, source, status, entries)
    SELECT date_trunc('hour', occurred_at, 'UTC'), action, source, status, count(*)
    FROM audit_entries GROUP BY 1, 2, 3, 4;
INSERT INTO volume_actors (hour, actor_id, actor_name, actor_email, source, status, entries)
    SELECT date_trunc('hour', occurred_at, 'UTC'), actor_id, actor_name, actor_email,
           source, status, count(*)
    FROM audit_entries GROUP BY 1, 2, 3, 4, 5, 6;

REVOKE ALL ON FUNCTION volume_count() FROM PUBLIC;
GRANT SELECT ON volume_actions, volume_actors TO trailkeep_writer;
