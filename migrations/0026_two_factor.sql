-- Two-factor sign-in (issue 25, item 4). The rules that make a code worth something only once
-- are the database's against any UPDATE, whoever holds the server's role (it may also DELETE
-- these rows, as disabling and an admin's reset do, and INSERT new ones: so these rules stop
-- the server's own mistakes and a replay through it, not a hostile holder of its role, who
-- could insert a session just as well):
-- - a user's TOTP seed is stored sealed (XChaCha20-Poly1305 under a key derived from the log's
--   signing key file, bound to the user's id: domain::sealed): this table never holds it in
--   clear, and a sealed seed copied onto another user does not open;
-- - `last_step`, the time step of the last code accepted, only moves forward: a code is
--   accepted by one conditional UPDATE to a later step, so a replayed code, even in two
--   requests at once, is refused;
-- - a confirmed seed never changes (disabling deletes the row; enrolling again makes a new one);
-- - a recovery code is used once: once `used_at` is set, the row never changes again.
CREATE TABLE totp_credentials (
    user_id      uuid        PRIMARY KEY REFERENCES users (id),
    sealed_seed  bytea       NOT NULL CHECK (octet_length(sealed_seed) BETWEEN 57 AND 256),
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL while enrolment waits for its first code.
    confirmed_at timestamptz,
    last_step    bigint,
    CHECK ((confirmed_at IS NULL) = (last_step IS NULL))
);

CREATE FUNCTION totp_credentials_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.created_at IS DISTINCT FROM OLD.created_at
    THEN
        RAISE EXCEPTION 'a second factor stays with its user' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.confirmed_at IS NOT NULL AND (NEW.sealed_seed IS DISTINCT FROM OLD.sealed_seed
        OR NEW.confirmed_at IS DISTINCT FROM OLD.confirmed_at) THEN
        RAISE EXCEPTION 'a confirmed second factor never changes: disable it and enrol again'
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.last_step IS NOT NULL AND NEW.last_step <= OLD.last_step THEN
        RAISE EXCEPTION 'a code''s time step is accepted once, and only after the last one'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER totp_credentials_guard BEFORE UPDATE ON totp_credentials
    FOR EACH ROW EXECUTE FUNCTION totp_credentials_guard();

CREATE TABLE recovery_codes (
    user_id    uuid        NOT NULL REFERENCES users (id),
    n          smallint    NOT NULL CHECK (n BETWEEN 1 AND 10),
    -- Argon2id (PHC string) of the normalised code; the code itself is shown once.
    code_hash  text        NOT NULL CHECK (code_hash LIKE '$argon2id$%'),
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz,
    PRIMARY KEY (user_id, n)
);

CREATE FUNCTION recovery_codes_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF OLD.used_at IS NOT NULL OR (NEW.user_id, NEW.n, NEW.code_hash, NEW.created_at)
        IS DISTINCT FROM (OLD.user_id, OLD.n, OLD.code_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'a recovery code is used once and never changes'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER recovery_codes_guard BEFORE UPDATE ON recovery_codes
    FOR EACH ROW EXECUTE FUNCTION recovery_codes_guard();

-- The second step of a sign-in: the password was right, a code is owed. Only the SHA-256 of
-- its token (a cookie scoped to /login) is stored; it lives 5 minutes and is deleted by the
-- step that opens the session (one DELETE … RETURNING: it cannot be used twice).
CREATE TABLE sign_in_challenges (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    uuid        NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (expires_at > created_at AND expires_at <= created_at + interval '15 minutes')
);
CREATE INDEX sign_in_challenges_user_idx ON sign_in_challenges (user_id);

-- A wrong code counts against the account like a wrong password.
ALTER TABLE sign_in_attempts DROP CONSTRAINT sign_in_attempts_outcome_check;
ALTER TABLE sign_in_attempts ADD CONSTRAINT sign_in_attempts_outcome_check
    CHECK (outcome IN ('bad_password', 'unknown_user', 'locked_out', 'bad_code'));

GRANT SELECT, INSERT, UPDATE, DELETE ON totp_credentials TO trailkeep_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_codes TO trailkeep_writer;
GRANT SELECT, INSERT, DELETE ON sign_in_challenges TO trailkeep_writer;
