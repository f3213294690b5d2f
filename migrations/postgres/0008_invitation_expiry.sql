-- An expired invitation is closed as 'expired' when the organization invites
-- the same email again, so the new one can be pending beside it.
ALTER TABLE invitations DROP CONSTRAINT invitations_status_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_status_check
    CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired'));
