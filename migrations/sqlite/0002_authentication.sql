-- Authentication: MFA state on users, refresh-token families (one per
-- session) and their tokens, recovery codes, API keys.

ALTER TABLE users ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN mfa_secret_enc BLOB;
ALTER TABLE users ADD COLUMN mfa_pending_secret_enc BLOB;
-- The newest TOTP time step accepted: a code is accepted once.
ALTER TABLE users ADD COLUMN mfa_last_step INTEGER;

CREATE TABLE mfa_recovery_codes (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, code_hash)
);

-- A family is the chain of refresh tokens of one session.
CREATE TABLE refresh_families (
    session_id      BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT,
    revoked_reason  TEXT
);
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
    id          BLOB PRIMARY KEY NOT NULL,
    session_id  BLOB NOT NULL REFERENCES refresh_families (session_id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL,
    org_id      BLOB,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id                    BLOB PRIMARY KEY NOT NULL,
    org_id                BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key_id                TEXT NOT NULL,
    name                  TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    secret_hash           TEXT NOT NULL,
    previous_secret_hash  TEXT,
    previous_valid_until  TEXT,
    created_by            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at            TEXT NOT NULL,
    expires_at            TEXT,
    last_used_at          TEXT,
    rotated_at            TEXT,
    revoked_at            TEXT
);
CREATE UNIQUE INDEX api_keys_key_id_key ON api_keys (key_id);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at);
