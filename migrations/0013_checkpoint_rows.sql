-- A checkpoint row the server's role stores without the key cannot block the signer (issue 22
-- §2, found in review): checkpoint_insert() keeps such a row within the tree with the tree's
-- root, but SQL cannot check its signature, and a row that claimed the tree's size used to
-- make the signer's real checkpoint of that size "not newer". Now a size may be stored again
-- (readers take the newest row that verifies under the key; unverifiable rows are an alarm),
-- and a new row must still cover at least as many entries as every earlier one.
ALTER TABLE checkpoints DROP CONSTRAINT checkpoints_pkey;
ALTER TABLE checkpoints ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX checkpoints_size_idx ON checkpoints (size, id);

CREATE OR REPLACE FUNCTION checkpoints_only_grow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'checkpoints are kept forever: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    LOCK TABLE public.checkpoints IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM public.checkpoints WHERE size > NEW.size) THEN
        RAISE EXCEPTION 'checkpoints: a checkpoint of % entries is older than the latest', NEW.size
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
