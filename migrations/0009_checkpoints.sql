-- Signed checkpoints of the Merkle tree (issue 15 §3): each row is a C2SP signed note whose text
-- is a C2SP tlog-checkpoint (origin, size, base64 root), signed with the log's Ed25519 key. The
-- key lives in a file outside the database; only its id is kept here, to say which key signed.
--
-- Every checkpoint is kept. A row is never changed or removed, and a new one must cover more
-- entries than every earlier one: the table only grows, for its owner too. The signer
-- (server/src/service/checkpoints.rs) checks, before it signs, that the tree it signs extends the
-- latest checkpoint (a consistency proof); this table refuses what the signer would never write.
CREATE TABLE checkpoints (
    size      bigint      PRIMARY KEY CHECK (size > 0),
    root      bytea       NOT NULL CHECK (length(root) = 32),
    key_id    bigint      NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
    note      text        NOT NULL CHECK (length(note) BETWEEN 1 AND 4096),
    signed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION checkpoints_only_grow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'checkpoints are kept forever: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- One signer at a time appends (an advisory lock); this lock (taken as the owner: the
    -- function is SECURITY DEFINER) makes the order check hold for any other writer as well.
    LOCK TABLE public.checkpoints IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM public.checkpoints WHERE size >= NEW.size) THEN
        RAISE EXCEPTION 'checkpoints: a checkpoint of % entries is not newer than the latest', NEW.size
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER checkpoints_only_grow BEFORE INSERT OR UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION checkpoints_only_grow();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();

GRANT SELECT, INSERT ON checkpoints TO trailkeep_writer;
