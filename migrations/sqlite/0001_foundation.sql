-- Foundation: users, organizations, memberships, token signing keys.
-- UUIDs are stored as 16-byte BLOBs, times as RFC 3339 text (sqlx's native
-- SQLite encodings).

CREATE TABLE users (
    id              BLOB PRIMARY KEY NOT NULL,
    email           TEXT NOT NULL,
    display_name    TEXT,
    password_hash   TEXT NOT NULL,
    is_super_admin  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    tier        TEXT NOT NULL DEFAULT 'free'
                CHECK (tier IN ('free', 'starter', 'professional', 'enterprise')),
    status      TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('trial', 'active', 'suspended', 'deleted')),
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);

CREATE TABLE memberships (
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE signing_keys (
    kid              TEXT PRIMARY KEY NOT NULL,
    public_key       BLOB NOT NULL,
    private_key_enc  BLOB NOT NULL,
    created_at       TEXT NOT NULL
);
