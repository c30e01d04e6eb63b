-- Invitations (issue 25): an admin invites someone by email with a role; the invitee follows a
-- one-time link and chooses a password. Only the SHA-256 of the link's token is stored (32
-- random bytes, shown once). An invitation is accepted by one conditional UPDATE (not yet
-- accepted, not revoked, not expired), so two tabs cannot both use it; a newer invitation for
-- the same email revokes the pending one. Once accepted or revoked it never changes again
-- (the trigger below), whoever holds the server's role.
CREATE TABLE invitations (
    id          uuid        PRIMARY KEY,
    token_hash  bytea       NOT NULL UNIQUE,
    email       text        NOT NULL,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    role        text        NOT NULL CHECK (role IN ('admin', 'compliance', 'member')),
    invited_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    revoked_at  timestamptz,
    -- Set by the acceptance before the user row it names is inserted (same transaction).
    user_id     uuid        REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    CHECK (expires_at > created_at),
    CHECK (accepted_at IS NULL OR revoked_at IS NULL),
    CHECK ((accepted_at IS NULL) = (user_id IS NULL))
);
CREATE INDEX invitations_pending_idx ON invitations (lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE FUNCTION invitations_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF OLD.accepted_at IS NOT NULL OR OLD.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'a used or revoked invitation never changes: invite again'
            USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.id, NEW.token_hash, NEW.email, NEW.name, NEW.role, NEW.invited_by, NEW.created_at,
        NEW.expires_at)
       IS DISTINCT FROM
       (OLD.id, OLD.token_hash, OLD.email, OLD.name, OLD.role, OLD.invited_by, OLD.created_at,
        OLD.expires_at) THEN
        RAISE EXCEPTION 'an invitation''s terms never change: invite again'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER invitations_guard BEFORE UPDATE ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitations_guard();

GRANT SELECT, INSERT, UPDATE ON invitations TO trailkeep_writer;
