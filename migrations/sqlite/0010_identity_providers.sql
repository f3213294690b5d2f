-- Single sign-on: an organization's identity providers. `settings` is the
-- non-secret configuration (JSON); the client secret is sealed with the
-- master key (ChaCha20-Poly1305, bound to the provider's id).
CREATE TABLE identity_providers (
    id             BLOB PRIMARY KEY NOT NULL,
    org_id         BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('oidc', 'github', 'saml')),
    settings       TEXT NOT NULL,
    client_secret  BLOB,
    created_by     BLOB NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX identity_providers_org_name_key ON identity_providers (org_id, name);
