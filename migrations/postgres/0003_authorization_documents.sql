-- Authorization: members hold several roles; custom roles; resource grants.
-- Evidence documents: versions, tags, content-addressed blobs, storage use.

CREATE TABLE member_roles (
    org_id      uuid NOT NULL,
    user_id     uuid NOT NULL,
    role        text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id, role),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_roles_role_idx ON member_roles (org_id, role);
CREATE INDEX member_roles_user_idx ON member_roles (user_id);
INSERT INTO member_roles (org_id, user_id, role, created_at)
    SELECT org_id, user_id, role, created_at FROM memberships;
ALTER TABLE memberships DROP COLUMN role;

CREATE TABLE roles (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    permissions  text NOT NULL,
    parent       text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX roles_org_name_key ON roles (org_id, name);

CREATE TABLE grants (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    resource_type  text NOT NULL,
    resource_id    uuid NOT NULL,
    subject_type   text NOT NULL CHECK (subject_type IN ('user', 'role')),
    subject        text NOT NULL,
    permission     text NOT NULL,
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX grants_unique_key ON grants (org_id, resource_type, resource_id, subject_type, subject, permission);

ALTER TABLE organizations ADD COLUMN storage_used_bytes bigint NOT NULL DEFAULT 0;

CREATE TABLE blobs (
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sha256      text NOT NULL,
    size        bigint NOT NULL,
    content     bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, sha256)
);

CREATE TABLE documents (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    content_type     text NOT NULL,
    size             bigint NOT NULL,
    sha256           text NOT NULL,
    version          bigint NOT NULL,
    frameworks       text NOT NULL,
    controls         text NOT NULL,
    created_by       uuid NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX documents_org_idx ON documents (org_id, id);

CREATE TABLE document_versions (
    document_id   uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL,
    version       bigint NOT NULL,
    sha256        text NOT NULL,
    size          bigint NOT NULL,
    content_type  text NOT NULL,
    created_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (document_id, version)
);
CREATE INDEX document_versions_blob_idx ON document_versions (org_id, sha256);

CREATE TABLE document_tags (
    document_id  uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    org_id       uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('framework', 'control')),
    value        text NOT NULL,
    PRIMARY KEY (document_id, kind, value)
);
CREATE INDEX document_tags_lookup_idx ON document_tags (org_id, kind, value);

-- Tenant isolation for the new tables.
ALTER TABLE member_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY member_roles_tenant ON member_roles
    USING (org_id = loki_current_org() OR user_id = loki_current_user())
    WITH CHECK (org_id = loki_current_org());

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roles', 'grants', 'blobs', 'documents', 'document_versions', 'document_tags'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (org_id = loki_current_org()) WITH CHECK (org_id = loki_current_org())', t || '_tenant', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON member_roles, roles, grants, blobs, documents, document_versions, document_tags TO loki_app;
