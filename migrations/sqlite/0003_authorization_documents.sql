-- Authorization: members hold several roles; custom roles; resource grants.
-- Evidence documents: versions, tags, content-addressed blobs, storage use.

CREATE TABLE member_roles (
    org_id      BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    role        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id, role),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_roles_role_idx ON member_roles (org_id, role);
CREATE INDEX member_roles_user_idx ON member_roles (user_id);
INSERT INTO member_roles (org_id, user_id, role, created_at)
    SELECT org_id, user_id, role, created_at FROM memberships;
ALTER TABLE memberships DROP COLUMN role;

CREATE TABLE roles (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    permissions  TEXT NOT NULL,
    parent       TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX roles_org_name_key ON roles (org_id, name);

CREATE TABLE grants (
    id             BLOB PRIMARY KEY NOT NULL,
    org_id         BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    resource_type  TEXT NOT NULL,
    resource_id    BLOB NOT NULL,
    subject_type   TEXT NOT NULL CHECK (subject_type IN ('user', 'role')),
    subject        TEXT NOT NULL,
    permission     TEXT NOT NULL,
    created_by     BLOB NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX grants_unique_key ON grants (org_id, resource_type, resource_id, subject_type, subject, permission);

ALTER TABLE organizations ADD COLUMN storage_used_bytes INTEGER NOT NULL DEFAULT 0;

CREATE TABLE blobs (
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    content     BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, sha256)
);

CREATE TABLE documents (
    id               BLOB PRIMARY KEY NOT NULL,
    org_id           BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    content_type     TEXT NOT NULL,
    size             INTEGER NOT NULL,
    sha256           TEXT NOT NULL,
    version          INTEGER NOT NULL,
    frameworks       TEXT NOT NULL,
    controls         TEXT NOT NULL,
    created_by       BLOB NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX documents_org_idx ON documents (org_id, id);

CREATE TABLE document_versions (
    document_id   BLOB NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    org_id        BLOB NOT NULL,
    version       INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    created_by    BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (document_id, version)
);
CREATE INDEX document_versions_blob_idx ON document_versions (org_id, sha256);

CREATE TABLE document_tags (
    document_id  BLOB NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    org_id       BLOB NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('framework', 'control')),
    value        TEXT NOT NULL,
    PRIMARY KEY (document_id, kind, value)
);
CREATE INDEX document_tags_lookup_idx ON document_tags (org_id, kind, value);
