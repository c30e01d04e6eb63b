-- One append path that the server's role cannot bend (issue 15, §1).
--
-- Before: trailkeep_writer could INSERT any row (any seq, any chain_hash) and UPDATE chain_head
-- to anything moving forward, so it could break every later append (a row at next_seq + 1) or
-- the chain itself (a made-up head_hash). Now:
--   * chain_head is moved only by audit_entries_extend_chain, a trigger that runs after every
--     INSERT statement on audit_entries, as the table's owner (SECURITY DEFINER): it takes the
--     head's row lock, checks that the new rows are exactly next_seq, next_seq + 1, ... and that
--     each chain_hash is SHA-256(previous chain hash || leaf_hash), then moves the head. A
--     statement that breaks either rule is refused whole, whoever runs it (the owner too; only
--     a superuser can switch triggers off).
--   * trailkeep_writer loses UPDATE on chain_head. It reads and locks the head through
--     chain_head_for_append() (SELECT ... FOR UPDATE needs UPDATE rights, which it no longer has).
--   * The leaf hash itself is not recomputed here (that needs the canonical JSON of the row):
--     the Merkle integrator recomputes it from the stored fields before a leaf enters the tree.

CREATE FUNCTION chain_head_for_append(OUT next_seq bigint, OUT head_hash bytea, OUT now timestamptz)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT h.next_seq, h.head_hash, clock_timestamp() FROM public.chain_head h WHERE h.singleton FOR UPDATE
$$;

CREATE FUNCTION audit_entries_extend_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    expected bigint;
    head bytea;
    r record;
BEGIN
    SELECT h.next_seq, h.head_hash INTO expected, head FROM public.chain_head h WHERE h.singleton FOR UPDATE;
    FOR r IN SELECT seq, leaf_hash, chain_hash FROM inserted ORDER BY seq LOOP
        IF r.seq <> expected THEN
            RAISE EXCEPTION 'audit_entries: seq % is not the next one (%): entries are appended in order, without gaps', r.seq, expected
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        head := sha256(head || r.leaf_hash);
        IF r.chain_hash <> head THEN
            RAISE EXCEPTION 'audit_entries: chain_hash of seq % does not extend the chain head', r.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        expected := expected + 1;
    END LOOP;
    UPDATE public.chain_head SET next_seq = expected, head_hash = head WHERE singleton;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_entries_extend_chain AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_extend_chain();

REVOKE UPDATE ON chain_head FROM trailkeep_writer;
REVOKE ALL ON FUNCTION chain_head_for_append() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_entries_extend_chain() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chain_head_for_append() TO trailkeep_writer;
