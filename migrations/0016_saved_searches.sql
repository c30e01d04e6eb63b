-- Saved searches (issue 24): a reader's named filters, private or shared with every reader.
-- The filter is kept in its canonical query-string form and parsed again whenever it is used,
-- like any URL, so a stored one gains nothing over a typed one. A name is unique per owner.
CREATE TABLE saved_searches (
    id         uuid        PRIMARY KEY,
    owner      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100
                                           AND name !~ '[[:cntrl:]]' AND name = btrim(name)),
    filter     text        NOT NULL CHECK (char_length(filter) <= 32768),
    shared     boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT saved_searches_name UNIQUE (owner, name)
);

CREATE INDEX saved_searches_shared_idx ON saved_searches (created_at) WHERE shared;

GRANT SELECT, INSERT, DELETE ON saved_searches TO trailkeep_writer;
