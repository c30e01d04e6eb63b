-- The Users page (issue 25): when each user last signed in, set by sign-in in the same
-- transaction as the session it opens (storage::users::note_sign_in). Before this migration
-- it was not kept: the newest session a user still has is the best that is known.
ALTER TABLE users ADD COLUMN last_sign_in_at timestamptz;

UPDATE users u SET last_sign_in_at = s.latest
FROM (SELECT user_id, max(created_at) AS latest FROM sessions GROUP BY user_id) s
WHERE s.user_id = u.id;
