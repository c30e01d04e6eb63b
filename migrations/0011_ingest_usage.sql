-- What each API key has ingested, per minute and per UTC day (issue 22 §9): the per-key rate
-- limit and daily quota, counted in PostgreSQL so that every server process charges the same
-- rows. A charge is made inside the append's transaction, so a refused or failed batch costs
-- nothing; rows older than two days are pruned as keys ingest.
CREATE TABLE ingest_usage (
    key_id       uuid        NOT NULL REFERENCES api_keys (id),
    period       text        NOT NULL CHECK (period IN ('minute', 'day')),
    period_start timestamptz NOT NULL,
    events       bigint      NOT NULL CHECK (events >= 0),
    PRIMARY KEY (key_id, period, period_start)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON ingest_usage TO trailkeep_writer;
