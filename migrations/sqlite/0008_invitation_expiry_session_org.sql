-- An expired invitation is closed as 'expired' when the organization invites
-- the same email again, so the new one can be pending beside it. SQLite
-- cannot alter a CHECK constraint: the table is rebuilt.
CREATE TABLE invitations_new (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    roles        TEXT NOT NULL,
    invited_by   BLOB NOT NULL,
    token_hash   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    decided_at   TEXT,
    user_id      BLOB
);
INSERT INTO invitations_new SELECT * FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;
CREATE UNIQUE INDEX invitations_pending_key ON invitations (org_id, email) WHERE status = 'pending';
CREATE INDEX invitations_email_idx ON invitations (email, status);

-- The organization a refresh token signs into is the session's scope, not
-- the tenant that owns the row (sessions belong to accounts): named so, it
-- is not mistaken for a tenant column that row-level security must guard.
ALTER TABLE refresh_tokens RENAME COLUMN org_id TO session_org;
