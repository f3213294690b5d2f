-- Foundation: users, organizations, memberships, token signing keys.
--
-- Row-level security: the daemon works as role `loki_app`, which owns no
-- table and is not a superuser, so the policies below bind it. Tenant tables
-- use FORCE ROW LEVEL SECURITY. Each request's transaction sets
-- `app.org_id` (and, to list a user's own organizations, `app.user_id`)
-- with set_config(..., true).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'loki_app') THEN
        CREATE ROLE loki_app NOLOGIN;
    END IF;
EXCEPTION
    -- Another database on the same cluster created it concurrently.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE FUNCTION loki_current_org() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$;

CREATE FUNCTION loki_current_user() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text NOT NULL,
    display_name    text,
    password_hash   text NOT NULL,
    is_super_admin  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL,
    name        text NOT NULL,
    tier        text NOT NULL DEFAULT 'free'
                CHECK (tier IN ('free', 'starter', 'professional', 'enterprise')),
    status      text NOT NULL DEFAULT 'active'
                CHECK (status IN ('trial', 'active', 'suspended', 'deleted')),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);

CREATE TABLE memberships (
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE signing_keys (
    kid              text PRIMARY KEY,
    public_key       bytea NOT NULL,
    private_key_enc  bytea NOT NULL,
    created_at       timestamptz NOT NULL
);

-- Tenant isolation.
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
-- A member row is visible in its organization's scope, or to the user it
-- belongs to (to list "my organizations"); it can only be written in scope.
CREATE POLICY memberships_tenant ON memberships
    USING (org_id = loki_current_org() OR user_id = loki_current_user())
    WITH CHECK (org_id = loki_current_org());

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_tenant ON organizations
    USING (
        id = loki_current_org()
        OR id IN (SELECT m.org_id FROM memberships m WHERE m.user_id = loki_current_user())
    )
    WITH CHECK (id = loki_current_org());

GRANT USAGE ON SCHEMA public TO loki_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, organizations, memberships TO loki_app;
GRANT SELECT, INSERT ON signing_keys TO loki_app;
GRANT EXECUTE ON FUNCTION loki_current_org(), loki_current_user() TO loki_app;
