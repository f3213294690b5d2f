-- Request signing: each API key gets an HMAC signing secret, sealed with the
-- master key (the server must be able to recompute signatures, so it cannot
-- keep only a hash). Keys created before this have none until rotated.
ALTER TABLE api_keys ADD COLUMN signing_secret_enc BLOB;
ALTER TABLE api_keys ADD COLUMN previous_signing_secret_enc BLOB;
ALTER TABLE api_keys ADD COLUMN require_signature INTEGER NOT NULL DEFAULT 0;
