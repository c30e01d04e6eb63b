-- Sign-in attempts: what the lockout and the per-address limit count. Only the server's own
-- /login writes here (ingest cannot), and `at` is the database's clock, never a client's, so
-- no one can lock an account by sending events, or from the future. The email is kept only as
-- the SHA-256 of its trimmed lower-case form: nothing typed is stored here.
CREATE TABLE sign_in_attempts (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    email_key text        NOT NULL CHECK (email_key ~ '^[0-9a-f]{64}$'),
    ip        inet,
    outcome   text        NOT NULL CHECK (outcome IN ('bad_password', 'unknown_user', 'locked_out'))
);
CREATE INDEX sign_in_attempts_email_idx ON sign_in_attempts (email_key, at);
CREATE INDEX sign_in_attempts_ip_idx ON sign_in_attempts (ip, at);
CREATE INDEX sign_in_attempts_at_idx ON sign_in_attempts (at);

-- Attempts count for minutes; the server prunes those older than a day.
GRANT SELECT, INSERT, DELETE ON sign_in_attempts TO trailkeep_writer;
