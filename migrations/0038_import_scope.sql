-- A key may import history (issue 24, item 10): the `import` scope sends events like
-- `ingest`, and its entries being recorded long after they occurred is expected, so the
-- console says "Imported history" plainly instead of warning of a late record. Like every
-- scope it is chosen when the key is made and never changes (api_keys_guard, 0022): what a
-- sender writes in an event can never make its lateness look expected.

ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
    CHECK (scopes <@ ARRAY['ingest', 'read', 'admin', 'import']::text[] AND cardinality(scopes) > 0);
