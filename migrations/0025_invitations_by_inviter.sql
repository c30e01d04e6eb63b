-- Invitations name their inviter by id (found in review): an invitation must not outlive the
-- admin who made it. Deactivating or demoting an admin revokes the invitations they left
-- pending, in the same transaction (service::users), and accepting one made by someone who is
-- no longer an active admin is refused (service::invitations). At most one invitation per
-- email is pending: two admins inviting the same address at the same moment cannot leave two
-- usable links (the second is refused and told to reload).
ALTER TABLE invitations ADD COLUMN invited_by_id uuid REFERENCES users (id);

DROP INDEX invitations_pending_idx;
CREATE UNIQUE INDEX invitations_pending_key ON invitations (lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
