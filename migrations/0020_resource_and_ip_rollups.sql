-- Two more hourly rollups beside those of 0017, so that the volume chart of a resource or an
-- address, and Top values of resources and IPs, read a few rows per value and hour instead of
-- every entry (issue 24: Top values without a filter grouped 778,000 entries of a week at 10M,
-- 14-27 s; `resource=cfg_7`'s chart read the log, 326 ms p95):
-- - `volume_resources`: per hour, status and source, by resource (type and id);
-- - `volume_ips`: the same by address.
-- Same rules as 0017: the log's trigger keeps them in the appending transaction, so a snapshot
-- sees exactly the entries it sees counted; the columns carry the log's names, so the one place
-- a filter becomes SQL (storage::query::conditions) serves them too; only the owner writes
-- them, the server's role may read them.
--
-- Size: a row per distinct value and hour. Addresses repeat (about 100 rows an hour for 4,600
-- entries of the demo history); resources repeat less (about 1,400 rows an hour), and a
-- platform whose every entry names a new resource gets a row per entry, still narrower than
-- the log's. BENCHMARKS.md has the figures.
-- No append may commit between the backfill below and the new trigger function: one that ran
-- the old function would be counted by neither. SHARE waits for appends in flight and holds
-- new ones until this migration commits.
LOCK TABLE audit_entries IN SHARE MODE;

CREATE TABLE volume_resources (
    hour          timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    resource_type text,
    resource_id   text,
    source        text,
    status        text        NOT NULL,
    entries       bigint      NOT NULL CHECK (entries > 0),
    CONSTRAINT volume_resources_key UNIQUE NULLS NOT DISTINCT
        (hour, resource_type, resource_id, source, status)
);
-- One resource's hours (`resource=cfg_7`) without reading every resource of the window.
CREATE INDEX volume_resources_by_id ON volume_resources (resource_id, hour);

CREATE TABLE volume_ips (
    hour    timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    ip      inet,
    source  text,
    status  text        NOT NULL,
    entries bigint      NOT NULL CHECK (entries > 0),
    CONSTRAINT volume_ips_key UNIQUE NULLS NOT DISTINCT (hour, ip, source, status)
);

-- Tables named by schema and the temporary schema searched last (0019).
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
    INSERT INTO public.volume_resources AS v (hour, resource_type, resource_id, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), resource_type, resource_id, source,
               status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT ON CONSTRAINT volume_resources_key
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    INSERT INTO public.volume_ips AS v (hour, ip, source, status, entries)
        SELECT date_trunc('hour', occurred_at, 'UTC'), ip, source, status, count(*)
        FROM inserted GROUP BY 1, 2, 3, 4
    ON CONFLICT ON CONSTRAINT volume_ips_key
        DO UPDATE SET entries = v.entries + EXCLUDED.entries;
    RETURN NULL;
END
$$;

-- The log's entries so far; the trigger counts every later one.
INSERT INTO volume_resources (hour, resource_type, resource_id, source, status, entries)
    SELECT date_trunc('hour', occurred_at, 'UTC'), resource_type, resource_id, source, status,
           count(*)
    FROM audit_entries GROUP BY 1, 2, 3, 4, 5;
INSERT INTO volume_ips (hour, ip, source, status, entries)
    SELECT date_trunc('hour', occurred_at, 'UTC'), ip, source, status, count(*)
    FROM audit_entries GROUP BY 1, 2, 3, 4;

GRANT SELECT ON volume_resources, volume_ips TO trailkeep_writer;
