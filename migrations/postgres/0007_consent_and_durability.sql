-- Invitations (membership needs the member's consent), accounts an
-- organization manages, the account lockout kept durably, and the row the
-- readiness probe writes.

-- The organization whose invitation created the account, while it belongs
-- to no other organization (cleared for good when it joins another one).
ALTER TABLE users ADD COLUMN managed_by_org uuid;

CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        text NOT NULL,
    roles        text NOT NULL,
    invited_by   uuid NOT NULL,
    token_hash   text NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    decided_at   timestamptz,
    user_id      uuid
);
CREATE UNIQUE INDEX invitations_pending_key ON invitations (org_id, email) WHERE status = 'pending';
CREATE INDEX invitations_email_idx ON invitations (email, status);

-- An invitation is visible in its organization's scope, to the invitee
-- (app.email: their own invitations) and by id (app.invitation_id: the one
-- being accepted or declined); it is written only in its organization's scope.
CREATE FUNCTION loki_current_email() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.email', true), '') $$;
CREATE FUNCTION loki_current_invitation() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.invitation_id', true), '')::uuid $$;

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant ON invitations
    USING (org_id = loki_current_org() OR email = loki_current_email() OR id = loki_current_invitation())
    WITH CHECK (org_id = loki_current_org());

CREATE TABLE signin_failures (
    account       text PRIMARY KEY,
    failures      bigint NOT NULL,
    -- Unix seconds.
    locked_until  bigint,
    updated_at    bigint NOT NULL
);

CREATE TABLE readiness (
    id          integer PRIMARY KEY,
    checked_at  timestamptz NOT NULL
);
INSERT INTO readiness (id, checked_at) VALUES (1, 'epoch');

GRANT SELECT, INSERT, UPDATE, DELETE ON invitations, signin_failures TO loki_app;
GRANT SELECT, UPDATE ON readiness TO loki_app;
GRANT EXECUTE ON FUNCTION loki_current_email(), loki_current_invitation() TO loki_app;

-- The invitee reads the name of an organization that invited them.
CREATE POLICY organizations_invited ON organizations FOR SELECT
    USING (id IN (SELECT i.org_id FROM invitations i
                  WHERE i.email = loki_current_email() OR i.id = loki_current_invitation()));
