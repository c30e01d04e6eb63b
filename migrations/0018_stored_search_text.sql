-- Search across fields, fast at any size (issue 24): the text `q` searches is stored with the
-- entry instead of recomputed. The index found candidates on the expression, but PostgreSQL
-- recomputed `audit_search_text` (a JSON path walk of the details, about 10 µs) for every
-- candidate it rechecked; a search whose words are each common but rare together (`grace
-- totp`) rechecks tens of thousands of rows, over a second at 10 million entries. The column is
-- generated, so it is always exactly the function of the entry's own fields (nobody can write
-- it, the server's role included), it is not part of the entry's canonical form or hash, and
-- `storage::query::conditions` and the live bridge read it under the same name.
--
-- Adding it rewrites the table once (about a minute per million entries here); the trigram
-- index is rebuilt on the column.

DROP INDEX audit_entries_search_idx;

ALTER TABLE audit_entries ADD COLUMN search_text text NOT NULL GENERATED ALWAYS AS (
    audit_search_text(actor_id, actor_name, actor_email, action, resource_type, resource_id,
                      ip, user_agent, details)
) STORED;

CREATE INDEX audit_entries_search_idx ON audit_entries USING gin (search_text gin_trgm_ops);
