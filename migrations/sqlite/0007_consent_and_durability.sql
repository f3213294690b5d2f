-- Invitations (membership needs the member's consent), accounts an
-- organization manages, the account lockout kept durably, and the row the
-- readiness probe writes.

-- The organization whose invitation created the account, while it belongs
-- to no other organization (cleared for good when it joins another one).
ALTER TABLE users ADD COLUMN managed_by_org BLOB;

CREATE TABLE invitations (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    roles        TEXT NOT NULL,
    invited_by   BLOB NOT NULL,
    token_hash   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    decided_at   TEXT,
    user_id      BLOB
);
CREATE UNIQUE INDEX invitations_pending_key ON invitations (org_id, email) WHERE status = 'pending';
CREATE INDEX invitations_email_idx ON invitations (email, status);

-- Failed sign-ins per account (SHA-256 of the normalised email, also for
-- unknown ones) and the lock they caused.
CREATE TABLE signin_failures (
    account       TEXT PRIMARY KEY NOT NULL,
    failures      INTEGER NOT NULL,
    -- Unix seconds.
    locked_until  INTEGER,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE readiness (
    id          INTEGER PRIMARY KEY NOT NULL,
    checked_at  TEXT NOT NULL
);
INSERT INTO readiness (id, checked_at) VALUES (1, '1970-01-01T00:00:00Z');
