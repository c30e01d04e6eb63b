-- Top values of a filter no rollup keeps (a text search), remembered (issue 24: at 10 million
-- entries a common word's Top values took seconds on every read, because each read grouped
-- every matching entry). The log is append-only, so what was counted once below a seq never
-- changes, and only entries appended since need counting again: the same idea as the chart's
-- memo (0036), per UTC day and value instead of per hour.
--
-- A memo holds, for one filter without its time window (its `key`: a SHA-256 the server
-- computes, `domain::query::top_memo::top_memo_key`), for each UTC day, each field no rollup
-- keeps the filter of (numbered by its place in the answer: 0 users, 1 actions, 2 resources,
-- 3 addresses) and each value, how many matching entries with seq < below_seq have it, and the
-- largest label among them (NULL where the label is the value). Top values read the memo's
-- whole days inside their window, plus the partial days at the window's edges and the entries
-- from below_seq to the snapshot's head counted from the log: exact in one snapshot.
--
-- A filter whose matches give more (day, field, value) rows than a memo keeps (resources seen
-- once, say) keeps a memo marked `too_many` without values: its Top values are counted from
-- the log, and no read tries to build it again (until a month is archived).
--
-- It is only valid while no entry below below_seq has left the log: a dropped month
-- (retention) changes the count of archived_months, and a memo of another count is not read.
-- Entries never change (migrations/0010). A change of what a filter matches, or of which
-- fields a rollup keeps, must change the key's version or empty this table.
--
-- Its rows are the server's own cache: the server's role writes them, as it could answer any
-- count it likes; Top values are not evidence (the entries and their proofs are). At most
-- `MemoPolicy::cap` memos and `TopMemoPolicy::rows` rows in all (the sum of `kept_rows`) are
-- kept, the oldest built dropped first.
CREATE TABLE top_memos (
    key        bytea       PRIMARY KEY CHECK (length(key) = 32),
    below_seq  bigint      NOT NULL CHECK (below_seq >= 0),
    archived   bigint      NOT NULL CHECK (archived >= 0),
    too_many   boolean     NOT NULL,
    kept_rows  bigint      NOT NULL CHECK (kept_rows >= 0),
    built_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX top_memos_by_age ON top_memos (built_at);

CREATE TABLE top_memo_values (
    key    bytea       NOT NULL REFERENCES top_memos (key) ON DELETE CASCADE,
    day    timestamptz NOT NULL,
    field  integer     NOT NULL CHECK (field BETWEEN 0 AND 3),
    value  text        NOT NULL,
    label  text,
    n      bigint      NOT NULL CHECK (n > 0),
    PRIMARY KEY (key, day, field, value)
);

REVOKE ALL ON top_memos, top_memo_values FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON top_memos, top_memo_values TO trailkeep_writer;
