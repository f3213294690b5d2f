-- Authentication: MFA state on users, refresh-token families (one per
-- session) and their tokens, recovery codes, API keys.

ALTER TABLE users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN mfa_secret_enc bytea;
ALTER TABLE users ADD COLUMN mfa_pending_secret_enc bytea;
-- The newest TOTP time step accepted: a code is accepted once.
ALTER TABLE users ADD COLUMN mfa_last_step bigint;

CREATE TABLE mfa_recovery_codes (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  text NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A family is the chain of refresh tokens of one session.
CREATE TABLE refresh_families (
    session_id      uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES refresh_families (session_id) ON DELETE CASCADE,
    token_hash  text NOT NULL,
    org_id      uuid,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id                    uuid PRIMARY KEY,
    org_id                uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key_id                text NOT NULL,
    name                  text NOT NULL,
    scopes                text NOT NULL,
    secret_hash           text NOT NULL,
    previous_secret_hash  text,
    previous_valid_until  timestamptz,
    created_by            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at            timestamptz NOT NULL,
    expires_at            timestamptz,
    last_used_at          timestamptz,
    rotated_at            timestamptz,
    revoked_at            timestamptz
);
CREATE UNIQUE INDEX api_keys_key_id_key ON api_keys (key_id);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at);

-- API keys are tenant-owned. Authentication must find a key before it knows
-- the tenant: the presented key id (app.api_key_id) opens exactly that row.
CREATE FUNCTION loki_current_api_key() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.api_key_id', true), '') $$;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant ON api_keys
    USING (org_id = loki_current_org() OR key_id = loki_current_api_key())
    WITH CHECK (org_id = loki_current_org());

GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_recovery_codes, refresh_families, refresh_tokens, api_keys TO loki_app;
GRANT EXECUTE ON FUNCTION loki_current_api_key() TO loki_app;
