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

-- A sign-in screen names its organization by slug before anyone is signed
-- in: the id behind a slug (of a live organization), nothing else.
CREATE FUNCTION loki_org_id_by_slug(p_slug text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT id FROM organizations WHERE slug = p_slug AND status <> 'deleted' $$;
REVOKE ALL ON FUNCTION loki_org_id_by_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loki_org_id_by_slug(text) TO loki_app;
