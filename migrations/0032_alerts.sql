-- Alerts (issue 27): rules over the shared Filter, one evaluator that reads the log in seq
-- order, and the notifications it decides, written in the same transaction as its progress.
--
-- 1. alert_rules: a name, a severity, the Filter (canonical, its time window unused), a
--    condition (every match, threshold, absence) with its numbers, the channels it notifies,
--    mute and enable. `state` is the decision machine's memory between runs
--    (domain::alerts::machine::MachineState, JSON); `version` grows with every change of the
--    rule, so the evaluator knows to start its machine afresh. Never deleted, only marked:
--    the alerts that name a rule stay explained.
-- 2. alert_evaluator: the one row that says how far the log has been evaluated (`cursor`:
--    every entry with seq < cursor was seen) and which process evaluates (a lease: another
--    takes over when it lapses). Progress, rule states and alerts commit together under that
--    row's lock, only by the lease's owner and only from the cursor and generation its memory
--    was built at: nothing is evaluated twice or skipped.
-- 3. alerts: what the evaluator decided: fired, resolved, or an every-match batch, at the
--    instant the machine computed, with the entries (their seqs: the first ones; the count says
--    how many) and whether the rule was muted then.

CREATE TABLE alert_rules (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    severity      text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    filter        text        NOT NULL CHECK (length(filter) <= 16384),
    condition     text        NOT NULL CHECK (condition IN ('every_match', 'threshold', 'absence')),
    -- every_match: batch_secs. threshold: at_least, window_secs, group_by, pending_secs,
    -- cooldown_secs. absence: window_secs. Bounds: domain::alerts::rule.
    batch_secs    integer     CHECK (batch_secs BETWEEN 0 AND 300),
    at_least      integer     CHECK (at_least BETWEEN 1 AND 10000),
    window_secs   integer     CHECK (window_secs BETWEEN 60 AND 604800),
    group_by      text        CHECK (group_by IN ('actor', 'ip', 'resource', 'source')),
    pending_secs  integer     CHECK (pending_secs BETWEEN 0 AND 604800),
    cooldown_secs integer     CHECK (cooldown_secs BETWEEN 0 AND 604800),
    muted_until   timestamptz,
    enabled       boolean     NOT NULL DEFAULT true,
    state         jsonb       NOT NULL,
    version       bigint      NOT NULL DEFAULT 1,
    -- The seq of the entry that recorded the rule's creation (or the change that made it start
    -- afresh): only later entries are the rule's, whenever the evaluator reads them.
    watch_seq     bigint      NOT NULL,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    CONSTRAINT alert_rules_numbers CHECK (
        (condition = 'every_match' AND batch_secs IS NOT NULL
            AND num_nonnulls(at_least, window_secs, group_by, pending_secs, cooldown_secs) = 0)
        OR (condition = 'threshold' AND batch_secs IS NULL
            AND num_nulls(at_least, window_secs, pending_secs, cooldown_secs) = 0)
        OR (condition = 'absence' AND window_secs IS NOT NULL
            AND num_nonnulls(batch_secs, at_least, group_by, pending_secs, cooldown_secs) = 0))
);

CREATE TABLE alert_evaluator (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    cursor      bigint      NOT NULL CHECK (cursor >= 0),
    -- Grows with every step committed: a process that finds another number than the one its
    -- memory was built at rebuilds (another evaluated meanwhile, if only the clock).
    generation  bigint      NOT NULL DEFAULT 0,
    lease_owner uuid,
    lease_until timestamptz
);
-- Alerting starts with the log as it is: entries recorded before it are not evaluated.
INSERT INTO alert_evaluator (cursor) SELECT next_seq FROM chain_head;

CREATE TABLE alerts (
    id        uuid        PRIMARY KEY,
    rule_id   uuid        NOT NULL REFERENCES alert_rules (id),
    kind      text        NOT NULL CHECK (kind IN ('fired', 'resolved', 'batch')),
    -- The group's value ('' when the rule is not grouped or the entry has none): at most a
    -- resource's type and id (512 characters each) and a colon.
    group_key text        NOT NULL CHECK (length(group_key) <= 2048),
    at        timestamptz NOT NULL,
    -- Fired: when the condition began to hold (the silence began, for absence); resolved:
    -- when it fired; batch: its first entry.
    since     timestamptz NOT NULL,
    count     bigint      NOT NULL CHECK (count >= 0),
    seqs      bigint[]    NOT NULL CHECK (cardinality(seqs) <= 10),
    overflow  bigint      NOT NULL DEFAULT 0 CHECK (overflow >= 0),
    muted     boolean     NOT NULL,
    -- The evaluator's cursor when it decided (the entries it had seen).
    decided_through bigint NOT NULL
);
CREATE INDEX alerts_by_rule ON alerts (rule_id, at DESC);
CREATE INDEX alerts_by_time ON alerts (at DESC, id);
-- From an entry to the alerts it is listed in.
CREATE INDEX alerts_by_seq ON alerts USING gin (seqs);

GRANT SELECT, INSERT, UPDATE ON alert_rules TO trailkeep_writer;
GRANT SELECT, UPDATE ON alert_evaluator TO trailkeep_writer;
GRANT SELECT, INSERT ON alerts TO trailkeep_writer;
