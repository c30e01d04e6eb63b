-- Scheduled exports (issue 26, items 1-4).
--
-- 1. recorded_at never decreases along seq: the append path takes the later of the clock and
--    the last recorded_at (kept in chain_head), and the chain trigger refuses a row recorded
--    before the one it follows. So the entries recorded in a period are one contiguous seq
--    range, found by binary search on the primary key (no index on recorded_at needed), and
--    once an entry recorded at or after a period's end is committed, every entry of the period
--    is committed too (seq commits in order through the chain head's lock).
-- 2. export_schedules: what to export (the shared Filter, canonical), how often (a cadence in
--    an IANA zone), in which format, to which destination. Never deleted, only marked deleted:
--    the runs and bundles that name them stay explained.
-- 3. export_runs: one row per period of a schedule (unique: a period runs once, whichever
--    process plans it) or per manual run; claimed with a lease, so one process runs it and
--    another takes it over when the lease lapses; its result (seq range, count, bytes,
--    SHA-256, checkpoint, object key) or its error.

ALTER TABLE chain_head ADD COLUMN last_recorded_at timestamptz;
UPDATE chain_head SET last_recorded_at =
    (SELECT e.recorded_at FROM audit_entries e ORDER BY e.seq DESC LIMIT 1);

-- The time is taken once the head is locked (a plain SELECT ... FOR UPDATE may compute it
-- before waiting for the lock), and never before the last entry's.
CREATE OR REPLACE FUNCTION chain_head_for_append(OUT next_seq bigint, OUT head_hash bytea, OUT now timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    last timestamptz;
BEGIN
    SELECT h.next_seq, h.head_hash, h.last_recorded_at INTO next_seq, head_hash, last
        FROM public.chain_head h WHERE h.singleton FOR UPDATE;
    now := greatest(clock_timestamp(), last);
END
$$;

CREATE OR REPLACE FUNCTION audit_entries_extend_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
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
    UPDATE public.chain_head SET next_seq = expected, head_hash = head, last_recorded_at = last
        WHERE singleton;
    RETURN NULL;
END
$$;

CREATE TABLE export_schedules (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    cadence     text        NOT NULL CHECK (cadence IN ('daily', 'weekly', 'monthly', 'cron')),
    -- The 5-field expression of a 'cron' cadence (validated by the server with croner).
    cron        text        CHECK (length(cron) BETWEEN 9 AND 100),
    zone        text        NOT NULL CHECK (length(zone) BETWEEN 1 AND 64),
    filter      text        NOT NULL CHECK (length(filter) <= 16384),
    format      text        NOT NULL CHECK (format IN ('csv', 'json', 'ndjson', 'pdf', 'bundle')),
    destination text        NOT NULL CHECK (destination IN ('directory')),
    -- A folder under the server's export directory (relative, no `..`).
    directory   text        NOT NULL CHECK (length(directory) BETWEEN 1 AND 200
                                            AND directory !~ '(^/|(^|/)\.\.?(/|$)|\\|[[:cntrl:]])'),
    enabled     boolean     NOT NULL DEFAULT true,
    -- Periods that end after this instant are run (the one in progress when it was created,
    -- and every later one).
    starts_at   timestamptz NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    CONSTRAINT export_schedules_cron_iff CHECK ((cadence = 'cron') = (cron IS NOT NULL))
);

CREATE TABLE export_runs (
    id              uuid        PRIMARY KEY,
    schedule_id     uuid        NOT NULL REFERENCES export_schedules (id),
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL,
    -- Asked for by a person ("run now"), not planned by the scheduler.
    manual          boolean     NOT NULL,
    requested_by    text,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    lease_owner     uuid,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz,
    -- The result: the seq range [first_seq, end_seq) of the period, how many entries the
    -- filter kept, the object's size, SHA-256 and key, and the checkpoint it is cut against.
    first_seq       bigint,
    end_seq         bigint,
    entries         bigint,
    bytes           bigint,
    sha256          bytea       CHECK (length(sha256) = 32),
    object_key      text,
    checkpoint_size bigint,
    -- The chain hash the period ends with (an unfiltered bundle's last entry's), which the next
    -- period's bundle starts from.
    chain_hash_after bytea      CHECK (length(chain_hash_after) = 32),
    duration_ms     bigint,
    error           text        CHECK (length(error) <= 2000),
    CONSTRAINT export_runs_period CHECK (period_end > period_start),
    CONSTRAINT export_runs_done CHECK ((status = 'succeeded') = (finished_at IS NOT NULL AND error IS NULL AND sha256 IS NOT NULL)
                                       OR status = 'failed')
);
-- A period of a schedule is planned once, by whichever process gets there first.
CREATE UNIQUE INDEX export_runs_one_per_period ON export_runs (schedule_id, period_start) WHERE NOT manual;
CREATE INDEX export_runs_due ON export_runs (next_attempt_at) WHERE status IN ('pending', 'running');
CREATE INDEX export_runs_history ON export_runs (created_at DESC, period_start DESC, id DESC);

GRANT SELECT, INSERT, UPDATE ON export_schedules TO trailkeep_writer;
GRANT SELECT, INSERT, UPDATE ON export_runs TO trailkeep_writer;
