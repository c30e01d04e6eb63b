-- Retention (issue 26, item 6): a month of the log leaves the database only as a whole
-- partition, only once an archive bundle of exactly its entries was written and read back,
-- and only through audit_entries_drop_month() below, which the server's role may call with
-- the run's id and which refuses anything else.
--
-- What the database checks itself, from what it holds (the writer cannot make it true):
-- the run is an unfiltered bundle of exactly that UTC month; its seq range, count and last
-- chain hash are the partition's own; the month is over by the log's clock (the later of the
-- clock and the last entry's recorded_at, the instant the append path uses); the Merkle tree
-- already holds every leaf of it; the month is older than the retention policy keeps; and the
-- same transaction records a retention.partition_dropped entry (a deferred check at commit).
-- What it takes on the server's word: that the object at the run's location was read back and
-- verified (its SHA-256, every proof, the checkpoint's signature) — only the server reaches
-- the destination. It must pass the SHA-256 it read back, which must be the run's. So whoever
-- holds the server's role can drop a month the policy lets go without a real archive (it
-- writes export_runs and the policy); what it cannot do is drop one unnoticed: the month
-- stays in archived_months and in the log's own entry for ever, and verify names it.
--
-- Afterwards archived_months holds the anchor verify starts the chain from past the month
-- (the chain hash before and after it) and where its entries are; the tree keeps its stored
-- hashes, so proofs and checkpoints still verify across it. Nothing in it changes, ever.

-- The format a run was made in (older runs were all bundles).
ALTER TABLE export_runs
    ADD COLUMN format text CHECK (format IN ('csv', 'json', 'ndjson', 'pdf', 'bundle'));
UPDATE export_runs SET format = 'bundle' WHERE status = 'succeeded';
ALTER TABLE export_runs
    ADD CONSTRAINT export_runs_format CHECK (status <> 'succeeded' OR format IS NOT NULL);

-- The policy: keep the current month and the `keep_months` before it online; older months
-- are archived by the monthly UTC bundle schedule `schedule_id`, then dropped. NULL: keep all.
CREATE TABLE retention_policy (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    keep_months integer     CHECK (keep_months BETWEEN 1 AND 1200),
    schedule_id uuid        REFERENCES export_schedules (id),
    updated_by  text,
    updated_at  timestamptz,
    CONSTRAINT retention_policy_whole CHECK ((keep_months IS NULL) = (schedule_id IS NULL))
);
INSERT INTO retention_policy (singleton) VALUES (true);
REVOKE ALL ON retention_policy FROM PUBLIC;
GRANT SELECT, UPDATE ON retention_policy TO trailkeep_writer;

CREATE TABLE archived_months (
    -- The month's first instant (UTC) and the next month's.
    month             timestamptz PRIMARY KEY,
    month_end         timestamptz NOT NULL,
    -- Its entries: seqs [first_seq, end_seq).
    first_seq         bigint      NOT NULL CHECK (first_seq >= 0),
    end_seq           bigint      NOT NULL,
    -- The chain hash before its first entry and after its last.
    chain_hash_before bytea       NOT NULL CHECK (length(chain_hash_before) = 32),
    chain_hash_after  bytea       NOT NULL CHECK (length(chain_hash_after) = 32),
    -- Where they are: the run, its destination, object key, version, size and SHA-256.
    run_id            uuid        NOT NULL UNIQUE REFERENCES export_runs (id),
    destination       text        NOT NULL,
    location          text        NOT NULL,
    object_version    text,
    bytes             bigint      NOT NULL,
    sha256            bytea       NOT NULL CHECK (length(sha256) = 32),
    -- The earliest and latest occurred_at of its entries: which queries it may answer.
    occurred_from     timestamptz NOT NULL,
    occurred_to       timestamptz NOT NULL,
    -- When, and the log's size then: the retention.partition_dropped entry is at or after it.
    dropped_at        timestamptz NOT NULL,
    logged_from       bigint      NOT NULL,
    CONSTRAINT archived_months_range CHECK (end_seq > first_seq),
    CONSTRAINT archived_months_whole CHECK (month_end = month + interval '1 month')
);
CREATE UNIQUE INDEX archived_months_seqs ON archived_months (first_seq, end_seq);

CREATE FUNCTION archived_months_reject_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'archived_months is kept forever: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER archived_months_no_update BEFORE UPDATE OR DELETE ON archived_months
    FOR EACH ROW EXECUTE FUNCTION archived_months_reject_change();
CREATE TRIGGER archived_months_no_truncate BEFORE TRUNCATE ON archived_months
    FOR EACH STATEMENT EXECUTE FUNCTION archived_months_reject_change();

-- At commit: the drop is recorded in the log, by Trailkeep, naming the run and the month.
CREATE FUNCTION archived_months_recorded() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM public.audit_entries e
        WHERE e.seq >= NEW.logged_from AND e.recorded_at >= NEW.dropped_at
          AND e.action = 'retention.partition_dropped' AND e.source = 'trailkeep'
          AND e.details ->> 'run_id' = NEW.run_id::text
          AND (e.details ->> 'first_seq')::bigint = NEW.first_seq
          AND (e.details ->> 'end_seq')::bigint = NEW.end_seq) THEN
        RAISE EXCEPTION 'the month from % was dropped without a retention.partition_dropped entry recording it in the same transaction', NEW.month
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER archived_months_recorded AFTER INSERT ON archived_months
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION archived_months_recorded();

REVOKE ALL ON archived_months FROM PUBLIC;
GRANT SELECT ON archived_months TO trailkeep_writer;

-- The one way a month leaves the log. Returns what the retention.partition_dropped entry
-- states. Serialised with the partition makers; holds the chain head (appends wait) and
-- waits at most 2 s for the log's lock (DROP of a partition holds ACCESS EXCLUSIVE on
-- audit_entries for a moment): the caller tries again later.
CREATE FUNCTION audit_entries_drop_month(run uuid, reread_sha256 bytea) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    SET TimeZone = 'UTC'
    SET DateStyle = 'ISO, YMD'
    SET lock_timeout = '2s'
    AS $$
DECLARE
    r record;
    p record;
    keep integer;
    policy_schedule uuid;
    clock timestamptz;
    m timestamptz;
    name text;
    n bigint;
    lo bigint;
    hi bigint;
    before bytea;
    after bytea;
    tree_size bigint;
    logged bigint;
    occurred_from timestamptz;
    occurred_to timestamptz;
BEGIN
    LOCK TABLE public.audit_partitions_lock IN EXCLUSIVE MODE;
    -- The chain head before the log, as every append takes them (head, then the table): the
    -- transaction appends its entry after the DROP, so the other order could deadlock.
    PERFORM 1 FROM public.chain_head h WHERE h.singleton FOR UPDATE;
    SELECT * INTO r FROM public.export_runs WHERE id = run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no export run %', run USING ERRCODE = 'no_data_found';
    END IF;
    IF r.status <> 'succeeded' OR r.format IS DISTINCT FROM 'bundle'
       OR r.filter IS DISTINCT FROM '' OR r.first_seq IS NULL OR r.end_seq IS NULL
       OR r.entries IS NULL OR r.sha256 IS NULL OR r.chain_hash_after IS NULL
       OR r.checkpoint_size IS NULL OR r.destination IS NULL OR r.object_key IS NULL THEN
        RAISE EXCEPTION 'run % is not a finished unfiltered archive bundle: only one holding every entry of the month lets it go', run
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF reread_sha256 IS NULL OR reread_sha256 <> r.sha256 THEN
        RAISE EXCEPTION 'the bundle read back is not the one run % wrote (SHA-256 differs): the month stays', run
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    m := date_trunc('month', r.period_start);
    IF r.period_start <> m OR r.period_end <> m + interval '1 month' THEN
        RAISE EXCEPTION 'run % covers % to %, not one whole month in UTC', run, r.period_start, r.period_end
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT keep_months, schedule_id INTO keep, policy_schedule
        FROM public.retention_policy WHERE singleton;
    SELECT greatest(clock_timestamp(), h.last_recorded_at) INTO clock
        FROM public.chain_head h WHERE h.singleton;
    IF keep IS NULL OR r.schedule_id IS DISTINCT FROM policy_schedule
       OR m + interval '1 month' > date_trunc('month', clock) - make_interval(months => keep) THEN
        RAISE EXCEPTION 'the retention policy keeps the month from % online (keep % months, schedule %)', m, keep, policy_schedule
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    name := public.audit_entries_partition_name(m);
    IF NOT public.audit_entries_is_partition(name) THEN
        RAISE EXCEPTION 'the month from % has no partition in the log (archived already?)', m
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The partition as it is, entries no longer arriving (its month is over).
    EXECUTE format('LOCK TABLE public.%I IN SHARE MODE', name);
    EXECUTE format('SELECT count(*), min(seq), max(seq) + 1, min(occurred_at), max(occurred_at) '
                   'FROM public.%I', name) INTO n, lo, hi, occurred_from, occurred_to;
    IF n = 0 THEN
        RAISE EXCEPTION 'the month from % holds no entries: there is nothing to archive, its empty partition stays', m
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lo <> r.first_seq OR hi <> r.end_seq OR n <> hi - lo OR r.entries <> n THEN
        RAISE EXCEPTION 'run % holds seqs % to % (% entries); the month holds % entries from seq %: the bundle is not exactly the month', run, r.first_seq, r.end_seq, r.entries, n, lo
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF r.first_seq = 0 THEN
        before := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    ELSE
        SELECT e.chain_hash INTO before FROM public.audit_entries e WHERE e.seq = r.first_seq - 1;
        IF before IS NULL THEN
            SELECT a.chain_hash_after INTO before FROM public.archived_months a
                WHERE a.end_seq = r.first_seq ORDER BY a.month DESC LIMIT 1;
        END IF;
        IF before IS NULL THEN
            RAISE EXCEPTION 'the chain hash before seq % is neither in the log nor archived', r.first_seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    EXECUTE format('SELECT chain_hash FROM public.%I WHERE seq = $1', name) INTO after USING hi - 1;
    IF r.chain_hash_after IS DISTINCT FROM after THEN
        RAISE EXCEPTION 'run % ends with a chain hash the month does not end with', run
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT t.size INTO tree_size FROM public.tree_state t WHERE t.singleton;
    IF tree_size < r.end_seq OR r.checkpoint_size < r.end_seq
       OR NOT EXISTS (SELECT 1 FROM public.checkpoints c WHERE c.size >= r.end_seq) THEN
        RAISE EXCEPTION 'the Merkle tree (% leaves) or the bundle''s checkpoint (% entries) does not cover seq % yet: try again later', tree_size, r.checkpoint_size, r.end_seq - 1
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT h.next_seq INTO logged FROM public.chain_head h WHERE h.singleton;
    INSERT INTO public.archived_months (month, month_end, first_seq, end_seq, chain_hash_before,
                                        chain_hash_after, run_id, destination, location,
                                        object_version, bytes, sha256, occurred_from,
                                        occurred_to, dropped_at, logged_from)
        VALUES (m, m + interval '1 month', r.first_seq, r.end_seq, before, after, r.id,
                r.destination, r.object_key, r.object_version, r.bytes, r.sha256,
                occurred_from, occurred_to, clock, logged);
    EXECUTE format('DROP TABLE public.%I', name);
    RETURN jsonb_build_object(
        'month', to_char(m, 'YYYY-MM'),
        'month_start', m,
        'month_end', m + interval '1 month',
        'first_seq', r.first_seq,
        'end_seq', r.end_seq,
        'entries', n,
        'chain_hash_before', encode(before, 'hex'),
        'chain_hash_after', encode(after, 'hex'),
        'run_id', r.id,
        'schedule_id', r.schedule_id,
        'destination', r.destination,
        'location', r.object_key,
        'object_version', r.object_version,
        'bytes', r.bytes,
        'sha256', encode(r.sha256, 'hex'),
        'occurred_from', occurred_from,
        'occurred_to', occurred_to,
        'dropped_at', clock);
END
$$;
REVOKE ALL ON FUNCTION audit_entries_drop_month(uuid, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_entries_drop_month(uuid, bytea) TO trailkeep_writer;
