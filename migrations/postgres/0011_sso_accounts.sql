-- Single sign-on, part two: accounts may exist without a password (created
-- by an identity provider), and an identity provider's subject stays linked
-- to the account it first signed in as.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;

CREATE TABLE sso_identities (
    idp_id      uuid NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    subject     text NOT NULL,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (idp_id, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);

ALTER TABLE sso_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_identities_tenant ON sso_identities
    USING (org_id = loki_current_org()) WITH CHECK (org_id = loki_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_identities TO loki_app;
