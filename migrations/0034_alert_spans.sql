-- An alert's last entry (issue 27, item 5: "from an entry's detail panel, reach the alerts it
-- triggered"). An alert lists its first ten entries (`seqs`); with its last one, every entry
-- it counted is known: from `seqs[1]` to `last_seq`, each entry matching the rule's filter in
-- the alert's group is one of its entries (domain::alerts::machine, property-tested against
-- the log). NULL for an absence that fired (it has no entries) and for alerts decided before
-- this column: those are found by their first ten only.
ALTER TABLE alerts ADD COLUMN last_seq bigint;
ALTER TABLE alerts ADD CONSTRAINT alerts_span_ordered
    CHECK (last_seq IS NULL OR (cardinality(seqs) > 0 AND seqs[1] <= last_seq));
-- From an entry to the alerts whose span holds it.
CREATE INDEX alerts_by_span ON alerts USING gist (int8range(seqs[1], last_seq, '[]'))
    WHERE last_seq IS NOT NULL;
-- The rule's filter and grouping as they were when the alert was decided: a rule whose
-- filter changes starts afresh, and its earlier alerts keep the filter they were decided on
-- (their entries, their console link). NULL for alerts decided before these columns: the
-- rule's current ones stand in.
ALTER TABLE alerts ADD COLUMN filter text;
ALTER TABLE alerts ADD COLUMN group_by text;
