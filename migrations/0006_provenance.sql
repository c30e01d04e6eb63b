-- Provenance: every entry says who recorded it, and the leaf hash covers it (README, "Tamper
-- evidence: the exact encoding"). `source` is 'trailkeep' for what the server records itself
-- (sign-ins, account and key changes, exports) or the id of the API key that ingested it; the
-- server sets it from the caller's credentials, never from the event. `form` is the version of
-- the canonical form the leaf hash covers.
--
-- Entries already stored were hashed under form 1, which has no source: they keep form 1 and
-- no source, and keep verifying under it. Every entry from here on is form 2 with a source;
-- the check below admits form 1 only below the seq where this migration ran.
ALTER TABLE audit_entries ADD COLUMN form smallint NOT NULL DEFAULT 1;
ALTER TABLE audit_entries ALTER COLUMN form DROP DEFAULT;
ALTER TABLE audit_entries ADD COLUMN source text
    CHECK (source = 'trailkeep'
           OR source ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
-- The key, for its name and so that a source names a key that exists (keys are never deleted).
ALTER TABLE audit_entries ADD COLUMN source_key uuid
    GENERATED ALWAYS AS (CASE WHEN source <> 'trailkeep' THEN source::uuid END) STORED
    REFERENCES api_keys (id);

-- The ALTERs above hold audit_entries exclusively, so no append moves the head meanwhile.
DO $$
DECLARE
    boundary bigint;
BEGIN
    SELECT next_seq INTO boundary FROM chain_head WHERE singleton;
    EXECUTE format(
        'ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_provenance CHECK ('
        '(form = 1 AND source IS NULL AND seq < %s) OR (form = 2 AND source IS NOT NULL))',
        boundary);
END
$$;

CREATE INDEX audit_entries_source_idx ON audit_entries (source, occurred_at, seq);
