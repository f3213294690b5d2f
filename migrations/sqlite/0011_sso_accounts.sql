-- Single sign-on, part two: an identity provider's subject stays linked to
-- the account it first signed in as.
--
-- Accounts may also exist without a password now. SQLite cannot drop the
-- NOT NULL of users.password_hash in place, and the table rebuild that
-- takes needs foreign keys off, which cannot be switched inside the
-- transaction sqlx runs every migration in: the store does that rebuild
-- right after the migrations (`SqliteStore::allow_accounts_without_password`).
CREATE TABLE sso_identities (
    idp_id      BLOB NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    subject     TEXT NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (idp_id, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);
