-- The Merkle tree over the log (issue 15 §2): RFC 6962 over each entry's leaf hash, leaf index
-- = seq, kept as the tree's stored hashes (see server/src/domain/tree.rs): appending leaf n adds
-- its hash and the roots of the subtrees it completes, so nothing stored ever changes.
--
-- tree_hashes holds them 256 to a row: row `chunk` holds stored hashes 256*chunk onwards,
-- concatenated. A row may only grow (its old bytes stay its prefix), never shrink, change or go.
-- tree_state says how many leaves the stored hashes cover and the root of that tree; its size
-- only grows. One integrator at a time (an advisory lock) extends both in one transaction.
CREATE TABLE tree_hashes (
    chunk  bigint PRIMARY KEY CHECK (chunk >= 0),
    hashes bytea  NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8192 AND length(hashes) % 32 = 0)
);

CREATE TABLE tree_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    size      bigint  NOT NULL CHECK (size >= 0),
    root      bytea   NOT NULL CHECK (length(root) = 32)
);
INSERT INTO tree_state (size, root) VALUES (0, sha256(''));

CREATE FUNCTION tree_hashes_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.chunk <> OLD.chunk OR length(NEW.hashes) < length(OLD.hashes)
       OR substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) <> OLD.hashes THEN
        RAISE EXCEPTION 'tree_hashes only grow: a stored hash never changes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tree_hashes_only_grow BEFORE UPDATE OR DELETE ON tree_hashes
    FOR EACH ROW EXECUTE FUNCTION tree_hashes_only_grow();
CREATE TRIGGER tree_hashes_no_truncate BEFORE TRUNCATE ON tree_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();

CREATE FUNCTION tree_state_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.size < OLD.size OR (NEW.size = OLD.size AND NEW.root <> OLD.root) THEN
        RAISE EXCEPTION 'tree_state only grows' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tree_state_only_grows BEFORE UPDATE OR DELETE ON tree_state
    FOR EACH ROW EXECUTE FUNCTION tree_state_only_grows();
CREATE TRIGGER tree_state_no_truncate BEFORE TRUNCATE ON tree_state
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_reject_change();

GRANT SELECT, INSERT, UPDATE ON tree_hashes TO trailkeep_writer;
GRANT SELECT, UPDATE ON tree_state TO trailkeep_writer;
