-- Single sign-on: an organization's identity providers. `settings` is the
-- non-secret configuration (JSON); the client secret is sealed with the
-- master key (ChaCha20-Poly1305, bound to the provider's id).
CREATE TABLE identity_providers (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('oidc', 'github', 'saml')),
    settings       text NOT NULL,
    client_secret  bytea,
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX identity_providers_org_name_key ON identity_providers (org_id, name);

ALTER TABLE identity_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity_providers FORCE ROW LEVEL SECURITY;
CREATE POLICY identity_providers_tenant ON identity_providers
    USING (org_id = loki_current_org()) WITH CHECK (org_id = loki_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON identity_providers TO loki_app;
