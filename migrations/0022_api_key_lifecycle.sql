-- API keys managed from the console (issue 25): who created a key, when it expires, when it
-- was last used, and rotation. A rotated key keeps its id (the `source` of everything it
-- ingested, so its entries stay attributed to it) and takes a new secret; the previous secret
-- is still accepted until a grace end at most 7 days after the rotation, then refused. A
-- second rotation ends the first one's grace at once (one previous secret at most).
--
-- The database keeps the rules a page or a hurried admin could get wrong, whoever holds the
-- server's role: a revoked key stays revoked (nothing about it changes again but when it was
-- last seen), a key's identity (id, scopes, creation, creator, expiry) never changes (its name
-- is a label), a grace never outlasts 7 days, and `last_used_at` only moves forward. Last use
-- is written at most once a minute per key (the conditional UPDATE in storage::api_keys::touch),
-- never once per request.

ALTER TABLE api_keys
    ADD COLUMN created_by     text,
    ADD COLUMN expires_at     timestamptz,
    ADD COLUMN last_used_at   timestamptz,
    ADD COLUMN rotated_at     timestamptz,
    ADD COLUMN previous_prefix text,
    ADD COLUMN previous_hash  bytea UNIQUE,
    ADD COLUMN previous_until timestamptz,
    ADD CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    ADD CONSTRAINT api_keys_expiry CHECK (expires_at IS NULL OR expires_at > created_at),
    ADD CONSTRAINT api_keys_previous CHECK (
        (previous_hash IS NULL AND previous_prefix IS NULL AND previous_until IS NULL)
        OR (previous_hash IS NOT NULL AND previous_prefix IS NOT NULL
            AND previous_until IS NOT NULL AND rotated_at IS NOT NULL
            AND previous_until <= rotated_at + interval '7 days'));

CREATE FUNCTION api_keys_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF (NEW.id, NEW.scopes, NEW.created_at, NEW.created_by, NEW.expires_at)
       IS DISTINCT FROM
       (OLD.id, OLD.scopes, OLD.created_at, OLD.created_by, OLD.expires_at) THEN
        RAISE EXCEPTION 'an API key''s id, scopes, creation and expiry never change: create a new key instead'
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.revoked_at IS NOT NULL
       AND (NEW.revoked_at, NEW.key_hash, NEW.prefix, NEW.rotated_at, NEW.previous_prefix,
            NEW.previous_hash, NEW.previous_until)
           IS DISTINCT FROM
           (OLD.revoked_at, OLD.key_hash, OLD.prefix, OLD.rotated_at, OLD.previous_prefix,
            OLD.previous_hash, OLD.previous_until) THEN
        RAISE EXCEPTION 'a revoked API key stays revoked: create a new key instead'
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.last_used_at < OLD.last_used_at OR (OLD.last_used_at IS NOT NULL AND NEW.last_used_at IS NULL) THEN
        RAISE EXCEPTION 'an API key''s last use only moves forward'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER api_keys_guard BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_guard();
