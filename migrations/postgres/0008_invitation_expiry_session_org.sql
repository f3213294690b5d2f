-- An expired invitation is closed as 'expired' when the organization invites
-- the same email again, so the new one can be pending beside it.
ALTER TABLE invitations DROP CONSTRAINT invitations_status_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_status_check
    CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired'));

-- The organization a refresh token signs into is the session's scope, not
-- the tenant that owns the row (sessions belong to accounts): named so, it
-- is not mistaken for a tenant column that row-level security must guard.
ALTER TABLE refresh_tokens RENAME COLUMN org_id TO session_org;
