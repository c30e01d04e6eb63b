-- Refused sign-ins are summarised in the log (issue 22 §9): from one address block, the first
-- refused attempt of each minute is recorded as its own `user.login_failed` entry; the others
-- are kept here unlogged, and a summariser records them after their minute as one entry per
-- block and minute, with their count, so an outsider cannot grow the log by guessing.
ALTER TABLE sign_in_attempts ADD COLUMN logged boolean NOT NULL DEFAULT true;
CREATE INDEX sign_in_attempts_unlogged_idx ON sign_in_attempts (at) WHERE NOT logged;

GRANT UPDATE ON sign_in_attempts TO trailkeep_writer;
