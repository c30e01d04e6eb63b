-- The volume chart of a filter no rollup keeps (a text search, or two fields of different
-- rollups), remembered (issue 24: the chart within 300 ms p95 at 10 million entries for every
-- filter of the query benchmark). Counting `q=production` over 10M entries takes seconds; the
-- log is append-only, so what was counted once below a seq never changes, and only entries
-- appended since need counting again.
--
-- A memo holds, for one filter without its time window (its `key`: a SHA-256 the server
-- computes, `domain::query::volume::memo_key`), the per-hour counts by status of every
-- matching entry with seq < below_seq, and their first and last occurred_at. A chart reads
-- the memo's hours, plus the entries from below_seq to its snapshot's head counted from the
-- log, plus the partial hours at the window's edges from the log: exact in one snapshot.
--
-- It is only valid while no entry below below_seq has left the log: a dropped month
-- (retention) changes the count of archived_months, and a memo of another count is not read.
-- Entries never change (migrations/0010). A change of what a filter matches (the search
-- text's function, the conditions) must change the key's version or empty this table.
--
-- Its rows are the server's own cache: the server's role writes them, as it could answer any
-- count it likes; the chart is not evidence (the entries and their proofs are). At most
-- `MemoPolicy::cap` memos are kept, the oldest built dropped first.
CREATE TABLE volume_memos (
    key        bytea       PRIMARY KEY CHECK (length(key) = 32),
    below_seq  bigint      NOT NULL CHECK (below_seq >= 0),
    archived   bigint      NOT NULL CHECK (archived >= 0),
    first_at   timestamptz,
    last_at    timestamptz,
    built_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT volume_memos_span CHECK ((first_at IS NULL) = (last_at IS NULL) AND first_at <= last_at)
);
CREATE INDEX volume_memos_by_age ON volume_memos (built_at);

CREATE TABLE volume_memo_hours (
    key     bytea       NOT NULL REFERENCES volume_memos (key) ON DELETE CASCADE,
    hour    timestamptz NOT NULL,
    success bigint      NOT NULL CHECK (success >= 0),
    failure bigint      NOT NULL CHECK (failure >= 0),
    PRIMARY KEY (key, hour)
);

REVOKE ALL ON volume_memos, volume_memo_hours FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON volume_memos, volume_memo_hours TO trailkeep_writer;
