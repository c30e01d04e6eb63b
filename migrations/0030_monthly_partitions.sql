-- audit_entries becomes partitioned by month of recorded_at (UTC): one partition per month,
-- no DEFAULT partition, each month one contiguous seq range (recorded_at never decreases along
-- seq since 0028). Every guarantee of the unpartitioned table holds on the partitioned one:
--   * seq: the chain trigger still checks every appended row against the chain head (gapless,
--     in order); the primary key must hold the partition key, so it is (seq, recorded_at), and
--     entry_ids below makes seq unique across partitions as well;
--   * id: UNIQUE (id) without the partition key is refused by PostgreSQL, so ids live in the
--     unpartitioned entry_ids (id PRIMARY KEY, seq UNIQUE), filled by the chain trigger in the
--     same statement: a repeated id fails the INSERT as before;
--   * the statement-level triggers (chain, counts, volume, NOTIFY) stay on the parent: an
--     INSERT straight into a partition would skip them, so partitions get no grants at all;
--   * BEFORE UPDATE/DELETE row triggers are cloned to every partition by PostgreSQL;
--     BEFORE TRUNCATE is not, so audit_entries_make_partitions() adds it to each;
--   * generated columns (category, source_key, search_text) are generated in each partition:
--     a partition is made as LIKE the parent INCLUDING GENERATED, then attached.
--
-- Locking (README, "Monthly partitions"): this conversion holds ACCESS EXCLUSIVE on
-- audit_entries while it copies the log into the partitions and rebuilds the indexes, so
-- ingest and reads wait for it. Later partitions are made ahead of time by the server
-- (at start-up and by the scheduler) with ATTACH PARTITION, which takes only SHARE UPDATE
-- EXCLUSIVE on the parent: appends and reads go on.

SET LOCAL TimeZone = 'UTC';
LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE;
ALTER TABLE audit_entries RENAME TO audit_entries_unpartitioned;

CREATE TABLE audit_entries (
    seq bigint NOT NULL,
    id uuid NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    recorded_at timestamp with time zone NOT NULL,
    actor_type text NOT NULL,
    actor_id text NOT NULL,
    actor_name text,
    actor_email text,
    action text NOT NULL,
    category text GENERATED ALWAYS AS (split_part(action, '.'::text, 1)) STORED NOT NULL,
    resource_type text,
    resource_id text,
    ip inet,
    user_agent text,
    status text NOT NULL,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    leaf_hash bytea NOT NULL,
    chain_hash bytea NOT NULL,
    form smallint NOT NULL,
    source text,
    source_key uuid GENERATED ALWAYS AS (
        CASE WHEN (source <> 'trailkeep'::text) THEN (source)::uuid ELSE NULL::uuid END) STORED,
    search_text text GENERATED ALWAYS AS (public.audit_search_text(actor_id, actor_name,
        actor_email, action, resource_type, resource_id, ip, user_agent, details)) STORED NOT NULL,
    CONSTRAINT audit_entries_action_check CHECK (((action ~ '^[a-z0-9_]+(\.[a-z0-9_]+)+$'::text) AND (length(action) <= 128))),
    CONSTRAINT audit_entries_actor_id_check CHECK ((actor_id <> ''::text)),
    CONSTRAINT audit_entries_actor_type_check CHECK ((actor_type = ANY (ARRAY['user'::text, 'api_key'::text, 'system'::text]))),
    CONSTRAINT audit_entries_chain_hash_check CHECK ((length(chain_hash) = 32)),
    CONSTRAINT audit_entries_details_check CHECK ((jsonb_typeof(details) = 'object'::text)),
    CONSTRAINT audit_entries_leaf_hash_check CHECK ((length(leaf_hash) = 32)),
    CONSTRAINT audit_entries_resource_pair CHECK (((resource_type IS NULL) = (resource_id IS NULL))),
    CONSTRAINT audit_entries_seq_nonnegative CHECK ((seq >= 0)),
    CONSTRAINT audit_entries_source_check CHECK (((source = 'trailkeep'::text) OR (source ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'::text))),
    CONSTRAINT audit_entries_status_check CHECK ((status = ANY (ARRAY['success'::text, 'failure'::text])))
) PARTITION BY RANGE (recorded_at);

-- Provenance: its bound is the log's size when 0006 ran (older entries are form 1), so the
-- constraint is carried over exactly as that migration wrote it.
DO $$
BEGIN
    EXECUTE format('ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_provenance %s',
                   (SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
                    WHERE c.conrelid = 'audit_entries_unpartitioned'::regclass
                      AND c.conname = 'audit_entries_provenance'));
END
$$;

-- Ids (and seqs) across partitions. Written only by the chain trigger; never changed.
CREATE TABLE entry_ids (
    id uuid PRIMARY KEY,
    seq bigint NOT NULL UNIQUE CHECK (seq >= 0)
);
CREATE TRIGGER entry_ids_no_update BEFORE UPDATE ON entry_ids
    FOR EACH ROW EXECUTE FUNCTION audit_entries_reject_change();
CREATE TRIGGER entry_ids_no_delete BEFORE DELETE ON entry_ids
    FOR EACH ROW EXECUTE FUNCTION audit_entries_reject_change();
CREATE TRIGGER entry_ids_no_truncate BEFORE TRUNCATE ON entry_ids
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();

-- The partition of the month holding `at` (UTC), and its name: audit_entries_YYYYmMM.
CREATE FUNCTION audit_entries_partition_name(at timestamptz) RETURNS text
    LANGUAGE sql STABLE
    RETURN 'audit_entries_' || to_char(at AT TIME ZONE 'UTC', 'YYYY"m"MM');

-- Whether the table `name` is a partition of the log. A name alone proves nothing: a table of
-- that name that is not attached would make the keeper skip its month.
CREATE FUNCTION audit_entries_is_partition(name text) RETURNS boolean
    LANGUAGE sql STABLE
    BEGIN ATOMIC
        SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                       JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = 'public.audit_entries'::regclass
                         AND c.relnamespace = 'public'::regnamespace AND c.relname = name);
    END;

-- What serialises the partition makers: a table only the owner can lock (an advisory lock
-- could be taken, and held, by any role).
CREATE TABLE audit_partitions_lock ();
REVOKE ALL ON audit_partitions_lock FROM PUBLIC;

-- Makes the missing partitions of the months from the one holding `from_month` through the one
-- holding `through_month` (UTC); returns how many it made. The one way partitions come to
-- exist, run as the owner only: by this migration, and by audit_entries_make_partitions()
-- below. Serialised across server processes; waits at most 5 s for a lock (a long read holding
-- the parent, or a transaction holding api_keys, which ATTACH locks to clone the foreign key),
-- so it never queues every reader behind it: the caller tries again later, with months of
-- margin. A partition is made as a table LIKE the parent (generated columns generated) and
-- then attached, which takes SHARE UPDATE EXCLUSIVE on the parent: appends and reads go on.
-- Bounds are written as ISO text in UTC whatever the caller's DateStyle.
CREATE FUNCTION audit_entries_add_partitions(from_month timestamptz, through_month timestamptz)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    SET TimeZone = 'UTC'
    SET DateStyle = 'ISO, YMD'
    SET lock_timeout = '5s'
    AS $$
DECLARE
    m timestamptz := date_trunc('month', from_month);
    name text;
    made integer := 0;
BEGIN
    IF from_month IS NULL OR through_month IS NULL
       OR through_month > now() + interval '25 months' THEN
        RAISE EXCEPTION 'audit_entries_add_partitions: give two months, the last at most two years ahead (not % to %)', from_month, through_month
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOCK TABLE public.audit_partitions_lock IN EXCLUSIVE MODE;
    WHILE m <= through_month LOOP
        name := public.audit_entries_partition_name(m);
        IF NOT public.audit_entries_is_partition(name) THEN
            IF to_regclass('public.' || quote_ident(name)) IS NOT NULL THEN
                RAISE EXCEPTION 'public.% exists but is not a partition of audit_entries: as the owner, rename or drop it; the server then makes the partition', name
                    USING ERRCODE = 'duplicate_table';
            END IF;
            EXECUTE format('CREATE TABLE public.%I (LIKE public.audit_entries '
                           'INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)', name);
            EXECUTE format('ALTER TABLE public.audit_entries ATTACH PARTITION public.%I '
                           'FOR VALUES FROM (%L) TO (%L)', name,
                           to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
                           to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
            EXECUTE format('CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON public.%I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION public.audit_entries_reject_change()',
                           name);
            EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', name);
            made := made + 1;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN made;
END
$$;
REVOKE ALL ON FUNCTION audit_entries_add_partitions(timestamptz, timestamptz) FROM PUBLIC;

-- What the server may ask for: the partitions of the current month (UTC) through `ahead`
-- (1 to 24) months after it.
CREATE FUNCTION audit_entries_make_partitions(ahead integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    SET TimeZone = 'UTC'
    SET DateStyle = 'ISO, YMD'
    AS $$
BEGIN
    IF ahead IS NULL OR ahead < 1 OR ahead > 24 THEN
        RAISE EXCEPTION 'audit_entries_make_partitions: ahead must be 1 to 24 months, not %', ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN public.audit_entries_add_partitions(now(), date_trunc('month', now())
                                                      + make_interval(months => ahead));
END
$$;
REVOKE ALL ON FUNCTION audit_entries_make_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_entries_make_partitions(integer) TO trailkeep_writer;

-- How many whole months after the current one (UTC) have their partition, counted without a
-- gap (at most 24): what /readyz reads. 0 means an append next month would fail; -1 that the
-- current month has none (appends fail now).
CREATE FUNCTION audit_entries_months_ahead() RETURNS integer
    LANGUAGE sql STABLE
    SET TimeZone = 'UTC'
    BEGIN ATOMIC
        SELECT coalesce(min(n) - 1, 24)::integer
        FROM generate_series(0, 25) AS n
        WHERE NOT public.audit_entries_is_partition(public.audit_entries_partition_name(
                  date_trunc('month', now()) + make_interval(months => n)));
    END;

-- No one but the owner creates anything in the schema (databases made before PostgreSQL 15
-- let every role; a table named like next month's partition would be one way to stall it).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The months the log already covers, the current one and two ahead; then the log itself.
SELECT audit_entries_add_partitions(
    least(now(), (SELECT min(recorded_at) FROM audit_entries_unpartitioned)),
    greatest(date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 months',
             (SELECT max(recorded_at) FROM audit_entries_unpartitioned)));

INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name,
                           actor_email, action, resource_type, resource_id, ip, user_agent,
                           status, details, leaf_hash, chain_hash, form, source)
    SELECT seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name, actor_email,
           action, resource_type, resource_id, ip, user_agent, status, details, leaf_hash,
           chain_hash, form, source
    FROM audit_entries_unpartitioned ORDER BY seq;
INSERT INTO entry_ids (id, seq) SELECT id, seq FROM audit_entries_unpartitioned;

DROP TABLE audit_entries_unpartitioned;

ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_pkey PRIMARY KEY (seq, recorded_at);
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_source_key_fkey
    FOREIGN KEY (source_key) REFERENCES api_keys(id);
CREATE INDEX audit_entries_action_idx ON audit_entries USING btree (action, occurred_at, seq);
CREATE INDEX audit_entries_actor_idx ON audit_entries USING btree (actor_id, occurred_at, seq);
CREATE INDEX audit_entries_category_idx ON audit_entries USING btree (category, occurred_at, seq);
CREATE INDEX audit_entries_email_idx ON audit_entries USING btree (lower(actor_email), occurred_at, seq)
    WHERE (actor_email IS NOT NULL);
CREATE INDEX audit_entries_failure_idx ON audit_entries USING btree (occurred_at, seq)
    WHERE (status = 'failure'::text);
CREATE INDEX audit_entries_ip_idx ON audit_entries USING btree (ip) WHERE (ip IS NOT NULL);
CREATE INDEX audit_entries_name_idx ON audit_entries USING btree (actor_name, occurred_at, seq)
    WHERE (actor_name IS NOT NULL);
CREATE INDEX audit_entries_resource_idx ON audit_entries USING btree (resource_id, occurred_at, seq)
    WHERE (resource_id IS NOT NULL);
CREATE INDEX audit_entries_search_idx ON audit_entries USING gin (search_text public.gin_trgm_ops);
CREATE INDEX audit_entries_source_idx ON audit_entries USING btree (source, occurred_at, seq);
CREATE INDEX audit_entries_time_idx ON audit_entries USING btree (occurred_at, seq);

-- The chain trigger also records each id (and seq) in entry_ids.
CREATE OR REPLACE FUNCTION audit_entries_extend_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
DECLARE
    expected bigint;
    head bytea;
    last timestamptz;
    r record;
BEGIN
    SELECT h.next_seq, h.head_hash, h.last_recorded_at INTO expected, head, last
        FROM public.chain_head h WHERE h.singleton FOR UPDATE;
    FOR r IN SELECT seq, leaf_hash, chain_hash, recorded_at FROM inserted ORDER BY seq LOOP
        IF r.seq <> expected THEN
            RAISE EXCEPTION 'audit_entries: seq % is not the next one (%): entries are appended in order, without gaps', r.seq, expected
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        head := sha256(head || r.leaf_hash);
        IF r.chain_hash <> head THEN
            RAISE EXCEPTION 'audit_entries: chain_hash of seq % does not extend the chain head', r.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF last IS NOT NULL AND r.recorded_at < last THEN
            RAISE EXCEPTION 'audit_entries: seq % is recorded at %, before the entry it follows (%): recorded_at never decreases', r.seq, r.recorded_at, last
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        last := r.recorded_at;
        expected := expected + 1;
    END LOOP;
    INSERT INTO public.entry_ids (id, seq) SELECT id, seq FROM inserted;
    UPDATE public.chain_head SET next_seq = expected, head_hash = head, last_recorded_at = last
        WHERE singleton;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit_entries_extend_chain() FROM PUBLIC;

CREATE TRIGGER audit_entries_count AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_count();
CREATE TRIGGER audit_entries_extend_chain AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_extend_chain();
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_reject_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_reject_change();
CREATE TRIGGER audit_entries_notify AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_notify();
CREATE TRIGGER volume_count AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION volume_count();

REVOKE ALL ON audit_entries FROM PUBLIC;
GRANT SELECT, INSERT ON audit_entries TO trailkeep_writer;
REVOKE ALL ON entry_ids FROM PUBLIC;
GRANT SELECT ON entry_ids TO trailkeep_writer;

-- The planner's statistics of the new table (autovacuum never analyses a partitioned parent).
ANALYZE audit_entries;
