-- Live mode: every insert into the log announces, on commit, the highest seq it wrote on one
-- channel. Listeners read the rows themselves by seq: a notification never carries an entry
-- (NOTIFY payloads are limited to 8000 bytes), and a rolled-back insert announces nothing.

CREATE FUNCTION audit_entries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    highest bigint;
BEGIN
    SELECT max(seq) INTO highest FROM inserted;
    IF highest IS NOT NULL THEN
        PERFORM pg_notify('trailkeep_entries', highest::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_entries_notify AFTER INSERT ON audit_entries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_notify();
