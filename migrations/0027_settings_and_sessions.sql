-- Settings and sessions as the Account and Settings pages show them (issue 25, items 5, 6, 8).
--
-- `settings`: at most one row, written by an admin from the Settings page in the transaction
-- of the `settings.updated` entry that records the change. No row: the server's environment
-- gives the values. Every bound is the database's too (app::settings states the same ones,
-- with words that say how to fix a value).
CREATE TABLE settings (
    singleton           boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    site_name           text        NOT NULL
        CHECK (char_length(site_name) BETWEEN 1 AND 80 AND site_name !~ '[[:cntrl:]]'
               AND site_name = btrim(site_name)),
    lockout_failures    integer     NOT NULL CHECK (lockout_failures BETWEEN 3 AND 50),
    lockout_minutes     integer     NOT NULL CHECK (lockout_minutes BETWEEN 1 AND 1440),
    session_hours       integer     NOT NULL CHECK (session_hours BETWEEN 1 AND 720),
    idle_minutes        integer     NOT NULL CHECK (idle_minutes BETWEEN 5 AND 43200),
    invitation_hours    integer     NOT NULL CHECK (invitation_hours BETWEEN 1 AND 720),
    require_two_factor  text        NOT NULL
        CHECK (require_two_factor IN ('nobody', 'admins', 'everyone')),
    late_record_seconds integer     NOT NULL CHECK (late_record_seconds BETWEEN 1 AND 604800),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (idle_minutes <= session_hours * 60)
);
GRANT SELECT, INSERT, UPDATE ON settings TO trailkeep_writer;

-- A session as its owner sees it on the Account page: an id to end it by (never the token's
-- hash), where it was opened from, when it was last used (written at most once a minute per
-- session, so a busy console does not write per request), and when its password was last
-- proven (sign-in, or "confirm your password": sensitive changes need it within 10 minutes).
ALTER TABLE sessions
    ADD COLUMN id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN proven_at    timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN ip           inet,
    ADD COLUMN user_agent   text        CHECK (char_length(user_agent) <= 2048);
CREATE UNIQUE INDEX sessions_id_key ON sessions (id);
-- Sessions open before this migration proved their password when they were opened, not now.
UPDATE sessions SET proven_at = created_at, last_seen_at = created_at;
