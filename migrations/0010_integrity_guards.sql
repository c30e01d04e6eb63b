-- The tree and the checkpoints are the database's to check, not the server role's to write
-- (issue 22 §2).
--
-- Before: trailkeep_writer could INSERT and UPDATE tree_hashes, UPDATE tree_state and INSERT
-- into checkpoints; the triggers only required growth. So the server's role could append
-- invented leaves to the tree (which the signer then signed with the real key) or store a
-- checkpoint of 9·10^18 entries that wedged the signer for ever. Now:
--   * the writer has no INSERT or UPDATE on tree_hashes, tree_state or checkpoints;
--   * the tree grows only through tree_extend(target), which runs as the owner and computes
--     every stored hash itself, RFC 6962 over audit_entries.leaf_hash (leaf n's hash, then
--     SHA-256(0x01 || left || right) for each subtree it completes, in Go tlog's stored-hash
--     order), never past the chain head;
--   * a checkpoint is stored only through checkpoint_insert(), which checks that its size is
--     within the tree, its root is the tree's root at that size, and its note states both.
--     (The note's Ed25519 signature cannot be checked in SQL: readers verify it with the key,
--     and use the newest checkpoint that verifies, never merely the newest row.)
--
-- What these guards do not cover, stated plainly (README, "What each role can do"):
--   * the writer may still INSERT an entry whose leaf_hash is not the hash of its own fields
--     (the chain trigger checks the chain, not the canonical JSON, which SQL cannot rebuild
--     byte for byte). The integrator refuses such an entry: the tree stops before it, loudly
--     (/readyz "degraded", trailkeep_integrity_ok 0, `trailkeep verify` names the seq).
--   * whoever owns these tables, or is a superuser, can switch every trigger off, rewrite
--     rows and rewind the head, tree and checkpoints. The database cannot stop its owner:
--     checkpoints saved outside it (the signer's memory file beside the key, a saved
--     checkpoint given to `trailkeep verify --checkpoint`) are what expose it. `trailkeep
--     migrate --owner R` hands the tables to a NOLOGIN role so that no server login owns them.

-- The index of level `level`'s n-th hash among the stored hashes (Go tlog's StoredHashIndex).
CREATE FUNCTION tree_stored_hash_index(level integer, n bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog AS $$
DECLARE
    i bigint := 0;
BEGIN
    FOR l IN 1..level LOOP
        n := 2 * n + 1;
    END LOOP;
    WHILE n > 0 LOOP
        i := i + n;
        n := n >> 1;
    END LOOP;
    RETURN i + level;
END
$$;

-- Stored hash `idx`, or NULL when it is not stored.
CREATE FUNCTION tree_stored_hash(idx bigint) RETURNS bytea
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, public AS $$
    SELECT CASE WHEN length(t.hashes) >= (idx % 256)::int * 32 + 32
                THEN substring(t.hashes FROM (idx % 256)::int * 32 + 1 FOR 32) END
    FROM public.tree_hashes t WHERE t.chunk = idx / 256
$$;

-- The root of the stored tree's first `tree_size` leaves (RFC 6962 MTH; SHA-256('') when empty).
CREATE FUNCTION tree_root_at(tree_size bigint) RETURNS bytea
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, public AS $$
DECLARE
    lo bigint := 0;
    k bigint;
    lvl integer;
    parts bytea[] := '{}';
    n integer := 0;
    h bytea;
BEGIN
    IF tree_size < 0 THEN
        RAISE EXCEPTION 'tree_root_at: a size is never negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tree_size = 0 THEN
        RETURN sha256(''::bytea);
    END IF;
    -- The perfect subtrees, left to right: each is one stored hash.
    WHILE lo < tree_size LOOP
        k := 1;
        lvl := 0;
        WHILE k <= (tree_size - lo) / 2 LOOP
            k := k * 2;
            lvl := lvl + 1;
        END LOOP;
        h := public.tree_stored_hash(public.tree_stored_hash_index(lvl, lo >> lvl));
        IF h IS NULL THEN
            RAISE EXCEPTION 'tree_root_at: the tree does not cover % entries', tree_size
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        n := n + 1;
        parts[n] := h;
        lo := lo + k;
    END LOOP;
    h := parts[n];
    FOR i IN REVERSE n - 1 .. 1 LOOP
        h := sha256('\x01'::bytea || parts[i] || h);
    END LOOP;
    RETURN h;
END
$$;

-- Extends the tree to `target` leaves (at most the chain head) from the entries' leaf_hash
-- column, computing and storing every new hash and the new root. Returns the tree's size.
CREATE FUNCTION tree_extend(target bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    cur bigint;
    head bigint;
    base bigint;
    made bytea[] := '{}';
    made_n integer := 0;
    n bigint;
    h bytea;
    m integer;
    idx bigint;
    sibling bytea;
    written integer := 0;
    pos bigint;
    off integer;
    take integer;
    bytes bytea;
    r record;
BEGIN
    SELECT s.size INTO cur FROM public.tree_state s WHERE s.singleton FOR UPDATE;
    SELECT c.next_seq INTO head FROM public.chain_head c WHERE c.singleton;
    IF target > head THEN
        RAISE EXCEPTION 'tree_extend: the log holds % entries; the tree cannot cover %', head, target
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF target <= cur THEN
        RETURN cur;
    END IF;
    base := public.tree_stored_hash_index(0, cur);
    n := cur;
    FOR r IN SELECT e.seq, e.leaf_hash FROM public.audit_entries e
             WHERE e.seq >= cur AND e.seq < target ORDER BY e.seq LOOP
        IF r.seq <> n OR length(r.leaf_hash) <> 32 THEN
            RAISE EXCEPTION 'tree_extend: entry % is missing or malformed', n
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        h := r.leaf_hash;
        made_n := made_n + 1;
        made[made_n] := h;
        -- Leaf n completes one subtree per trailing one bit of n (trailing zero of n + 1).
        m := 0;
        WHILE ((n + 1) >> m) & 1 = 0 LOOP
            idx := public.tree_stored_hash_index(m, (n >> m) - 1);
            IF idx >= base THEN
                sibling := made[(idx - base + 1)::integer];
            ELSE
                sibling := public.tree_stored_hash(idx);
            END IF;
            IF sibling IS NULL THEN
                RAISE EXCEPTION 'tree_extend: stored hash % is missing', idx
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            h := sha256('\x01'::bytea || sibling || h);
            made_n := made_n + 1;
            made[made_n] := h;
            m := m + 1;
        END LOOP;
        n := n + 1;
    END LOOP;
    IF n <> target THEN
        RAISE EXCEPTION 'tree_extend: entry % is missing', n
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    -- Write them 256 to a row: the row holding `base` grows in place, later rows are new.
    WHILE written < made_n LOOP
        pos := base + written;
        off := (pos % 256)::integer;
        take := least(256 - off, made_n - written);
        SELECT string_agg(x, ''::bytea ORDER BY o) INTO bytes
            FROM unnest(made[written + 1 : written + take]) WITH ORDINALITY AS u(x, o);
        IF off = 0 THEN
            INSERT INTO public.tree_hashes (chunk, hashes) VALUES (pos / 256, bytes);
        ELSE
            UPDATE public.tree_hashes t SET hashes = t.hashes || bytes
                WHERE t.chunk = pos / 256 AND length(t.hashes) = off * 32;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'tree_extend: tree_hashes row % does not end at hash %', pos / 256, pos
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
        END IF;
        written := written + take;
    END LOOP;
    UPDATE public.tree_state SET size = target, root = public.tree_root_at(target) WHERE singleton;
    RETURN target;
END
$$;

-- Stores a signed checkpoint of the tree: its size within the tree, its root the tree's root
-- at that size, and its note stating both (C2SP tlog-checkpoint: origin, size, base64 root).
CREATE FUNCTION checkpoint_insert(cp_size bigint, cp_root bytea, cp_key_id bigint, cp_note text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    tree bigint;
BEGIN
    SELECT s.size INTO tree FROM public.tree_state s WHERE s.singleton;
    IF cp_size > tree THEN
        RAISE EXCEPTION 'checkpoints: % entries is beyond the tree (%)', cp_size, tree
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF public.tree_root_at(cp_size) <> cp_root THEN
        RAISE EXCEPTION 'checkpoints: the root is not the tree''s root at % entries', cp_size
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF split_part(cp_note, E'\n', 2) <> cp_size::text
       OR split_part(cp_note, E'\n', 3) <> encode(cp_root, 'base64') THEN
        RAISE EXCEPTION 'checkpoints: the note does not state this size and root'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    INSERT INTO public.checkpoints (size, root, key_id, note) VALUES (cp_size, cp_root, cp_key_id, cp_note);
END
$$;

REVOKE INSERT, UPDATE ON tree_hashes FROM trailkeep_writer;
REVOKE UPDATE ON tree_state FROM trailkeep_writer;
REVOKE INSERT ON checkpoints FROM trailkeep_writer;
REVOKE ALL ON FUNCTION tree_extend(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION checkpoint_insert(bigint, bytea, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tree_extend(bigint) TO trailkeep_writer;
GRANT EXECUTE ON FUNCTION checkpoint_insert(bigint, bytea, bigint, text) TO trailkeep_writer;
