//! The global half of the store: users and their credentials, MFA state,
//! refresh-token families, API keys and signing keys. The queries are the
//! same on both backends (`common.rs`); this file binds them to each one
//! through one macro, so the delegation is written once.

use async_trait::async_trait;
use loki_shared::api::User;
use uuid::Uuid;

use super::audit_store::{AuditBatch, AuditSql};
use super::common::Common;
use super::models::*;
use super::StoreResult;

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
    /// A real (tiny) committed write, for readiness: a database that answers
    /// reads but cannot write (read-only, disk full) is not ready.
    async fn ping_write(&self) -> StoreResult<()>;

    // --- users (global identities; a user may belong to many organizations)
    /// Fails with `Conflict{email_taken}` when the email exists.
    async fn create_user(&self, user: NewUser, audit: &mut AuditBatch) -> StoreResult<User>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The user and their password hash, for sign-in only.
    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    /// Creates the user as super admin, or promotes the existing one; returns it.
    async fn upsert_super_admin(&self, user: NewUser, audit: &mut AuditBatch) -> StoreResult<User>;

    // --- passwords and MFA (global, per user)
    async fn password_hash(&self, user: Uuid) -> StoreResult<Option<String>>;
    async fn set_password(
        &self,
        user: Uuid,
        hash: String,
        audit: &mut AuditBatch,
    ) -> StoreResult<()>;
    async fn mfa_state(&self, user: Uuid) -> StoreResult<Option<MfaState>>;
    /// Stores (or clears) the secret of an enrolment awaiting confirmation.
    async fn set_mfa_pending(
        &self,
        user: Uuid,
        secret_enc: Option<Vec<u8>>,
        audit: &mut AuditBatch,
    ) -> StoreResult<()>;
    /// Turns MFA on with the confirmed secret, the step used to confirm it,
    /// and fresh recovery codes (hashes), replacing any old ones.
    async fn enable_mfa(
        &self,
        user: Uuid,
        secret_enc: Vec<u8>,
        step: i64,
        recovery_hashes: Vec<String>,
        audit: &mut AuditBatch,
    ) -> StoreResult<()>;
    async fn disable_mfa(&self, user: Uuid, audit: &mut AuditBatch) -> StoreResult<()>;
    /// Accepts TOTP time step `step` unless it or a later one was already
    /// used (so a code works once, on every daemon). True when accepted.
    async fn consume_totp_step(&self, user: Uuid, step: i64) -> StoreResult<bool>;
    /// Marks an unused recovery code used; true when it was unused.
    async fn consume_recovery_code(&self, user: Uuid, code_hash: &str) -> StoreResult<bool>;
    async fn unused_recovery_codes(&self, user: Uuid) -> StoreResult<u64>;

    // --- refresh tokens: one family per session
    async fn create_refresh_family(&self, session: Uuid, user: Uuid) -> StoreResult<()>;
    async fn insert_refresh_token(&self, token: NewRefreshToken) -> StoreResult<()>;
    /// Marks the session's unused refresh tokens used, before a new one is
    /// issued: a family has one live token, and an older copy is a reuse.
    async fn retire_refresh_tokens(&self, session: Uuid) -> StoreResult<()>;
    async fn refresh_token_by_hash(&self, hash: &str) -> StoreResult<Option<RefreshTokenRecord>>;
    /// Marks the token used; false when it already was (a reuse).
    async fn use_refresh_token(&self, id: Uuid) -> StoreResult<bool>;
    async fn revoke_refresh_family(&self, session: Uuid, reason: &str) -> StoreResult<()>;
    /// Revokes the user's live families except `keep`; returns their sessions.
    async fn revoke_user_refresh_families(
        &self,
        user: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>>;

    // --- API keys (tenant-owned)
    async fn create_api_key(&self, key: ApiKeyRecord, audit: &mut AuditBatch) -> StoreResult<()>;
    /// Authentication lookup by the public key id, before the tenant is known.
    async fn api_key_by_key_id(&self, key_id: &str) -> StoreResult<Option<ApiKeyRecord>>;
    async fn api_key(&self, org: Uuid, id: Uuid) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self, org: Uuid) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn revoke_api_key(&self, org: Uuid, id: Uuid, audit: &mut AuditBatch) -> StoreResult<()>;
    /// Replaces the secret and the signing secret; the previous ones stay
    /// valid until `previous_valid_until`.
    async fn rotate_api_key(
        &self,
        org: Uuid,
        id: Uuid,
        secret_hash: String,
        previous_valid_until: chrono::DateTime<chrono::Utc>,
        signing_secret_enc: Vec<u8>,
        audit: &mut AuditBatch,
    ) -> StoreResult<()>;
    async fn touch_api_key(&self, org: Uuid, id: Uuid) -> StoreResult<()>;

    // --- the sign-in lockout, durable (survives a kv-store restart)
    /// Counts a failed sign-in of `account` (failures older than
    /// `window_start`, Unix seconds, are forgotten); returns the count.
    async fn count_signin_failure(
        &self,
        account: &str,
        now: i64,
        window_start: i64,
    ) -> StoreResult<i64>;
    async fn lock_signin(&self, account: &str, until: i64) -> StoreResult<()>;
    /// Unix seconds until which the account is locked, if it ever was.
    async fn signin_locked_until(&self, account: &str) -> StoreResult<Option<i64>>;
    async fn clear_signin_failures(&self, account: &str) -> StoreResult<()>;
    /// Forgets failures last counted before `before` whose lock has ended.
    async fn purge_signin_failures(&self, before: i64) -> StoreResult<u64>;

    // --- token signing keys (private halves encrypted by the caller)
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    async fn insert_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()>;
}

macro_rules! account_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl AccountStore for $store {
    async fn ping(&self) -> StoreResult<()> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).ping().await
    }

    async fn ping_write(&self) -> StoreResult<()> {
        let mut tx = self.scope(Uuid::nil()).await?;
        sqlx::query::<$db>("UPDATE readiness SET checked_at = $1 WHERE id = 1")
            .bind(chrono::Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(super::map_err)?;
        tx.commit().await.map_err(super::map_err)
    }

    async fn count_signin_failure(&self, account: &str, now: i64, window_start: i64) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as::<$db, (i64,)>(
            "INSERT INTO signin_failures (account, failures, locked_until, updated_at) VALUES ($1, 1, NULL, $2) \
             ON CONFLICT (account) DO UPDATE SET \
             failures = CASE WHEN signin_failures.updated_at < $3 THEN 1 ELSE signin_failures.failures + 1 END, \
             updated_at = $2 RETURNING failures",
        )
        .bind(account.to_owned())
        .bind(now)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await
        .map_err(super::map_err)?;
        Ok(n)
    }

    async fn lock_signin(&self, account: &str, until: i64) -> StoreResult<()> {
        sqlx::query::<$db>("UPDATE signin_failures SET locked_until = $2 WHERE account = $1")
            .bind(account.to_owned())
            .bind(until)
            .execute(&self.pool)
            .await
            .map_err(super::map_err)?;
        Ok(())
    }

    async fn signin_locked_until(&self, account: &str) -> StoreResult<Option<i64>> {
        let row: Option<(Option<i64>,)> = sqlx::query_as::<$db, (Option<i64>,)>(
            "SELECT locked_until FROM signin_failures WHERE account = $1",
        )
        .bind(account.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(super::map_err)?;
        Ok(row.and_then(|r| r.0))
    }

    async fn clear_signin_failures(&self, account: &str) -> StoreResult<()> {
        sqlx::query::<$db>("DELETE FROM signin_failures WHERE account = $1")
            .bind(account.to_owned())
            .execute(&self.pool)
            .await
            .map_err(super::map_err)?;
        Ok(())
    }

    async fn purge_signin_failures(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query::<$db>(
            "DELETE FROM signin_failures WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $1)",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(super::map_err)?;
        Ok(done.rows_affected())
    }

    async fn create_user(&self, user: NewUser, audit: &mut AuditBatch) -> StoreResult<User> {
        // A change of the user record commits with its (system chain) event.
        let mut tx = self.scope(Uuid::nil()).await?;
        let r = Common::<$db>(&mut tx).insert_user(user, false).await?;
        AuditSql::<$db>::commit(tx, Uuid::nil(), audit).await?;
        Ok(r)
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).user_where("id", id).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?)
            .user_where("email", email.to_owned())
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).credentials_by_email(email).await
    }

    async fn upsert_super_admin(&self, user: NewUser, audit: &mut AuditBatch) -> StoreResult<User> {
        // A change of the user record commits with its (system chain) event.
        let mut tx = self.scope(Uuid::nil()).await?;
        let r = Common::<$db>(&mut tx).insert_user(user, true).await?;
        AuditSql::<$db>::commit(tx, Uuid::nil(), audit).await?;
        Ok(r)
    }

    async fn password_hash(&self, user: Uuid) -> StoreResult<Option<String>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).password_hash(user).await
    }

    async fn set_password(&self, user: Uuid, hash: String, audit: &mut AuditBatch) -> StoreResult<()> {
        // A change of the user record commits with its (system chain) event.
        let mut tx = self.scope(Uuid::nil()).await?;
        let r = Common::<$db>(&mut tx).set_password(user, hash).await?;
        AuditSql::<$db>::commit(tx, Uuid::nil(), audit).await?;
        Ok(r)
    }

    async fn mfa_state(&self, user: Uuid) -> StoreResult<Option<MfaState>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).mfa_state(user).await
    }

    async fn set_mfa_pending(&self, user: Uuid, secret_enc: Option<Vec<u8>>, audit: &mut AuditBatch) -> StoreResult<()> {
        // A change of the user record commits with its (system chain) event.
        let mut tx = self.scope(Uuid::nil()).await?;
        let r = Common::<$db>(&mut tx).set_mfa_pending(user, secret_enc).await?;
        AuditSql::<$db>::commit(tx, Uuid::nil(), audit).await?;
        Ok(r)
    }

    async fn enable_mfa(
        &self,
        user: Uuid,
        secret_enc: Vec<u8>,
        step: i64,
        recovery_hashes: Vec<String>, audit: &mut AuditBatch) -> StoreResult<()> {
        // A change of the user record commits with its (system chain) event.
        let mut tx = self.scope(Uuid::nil()).await?;
        let r = Common::<$db>(&mut tx)
            .enable_mfa(user, secret_enc, step, recovery_hashes)
            .await?;
        AuditSql::<$db>::commit(tx, Uuid::nil(), audit).await?;
        Ok(r)
    }

    async fn disable_mfa(&self, user: Uuid, audit: &mut AuditBatch) -> StoreResult<()> {
        // A change of the user record commits with its (system chain) event.
        let mut tx = self.scope(Uuid::nil()).await?;
        let r = Common::<$db>(&mut tx).disable_mfa(user).await?;
        AuditSql::<$db>::commit(tx, Uuid::nil(), audit).await?;
        Ok(r)
    }

    async fn consume_totp_step(&self, user: Uuid, step: i64) -> StoreResult<bool> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).consume_totp_step(user, step).await
    }

    async fn consume_recovery_code(&self, user: Uuid, code_hash: &str) -> StoreResult<bool> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?)
            .consume_recovery_code(user, code_hash)
            .await
    }

    async fn unused_recovery_codes(&self, user: Uuid) -> StoreResult<u64> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).unused_recovery_codes(user).await
    }

    async fn create_refresh_family(&self, session: Uuid, user: Uuid) -> StoreResult<()> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?)
            .create_refresh_family(session, user)
            .await
    }

    async fn insert_refresh_token(&self, token: NewRefreshToken) -> StoreResult<()> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).insert_refresh_token(token).await
    }

    async fn retire_refresh_tokens(&self, session: Uuid) -> StoreResult<()> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).retire_refresh_tokens(session).await
    }

    async fn refresh_token_by_hash(&self, hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).refresh_token_by_hash(hash).await
    }

    async fn use_refresh_token(&self, id: Uuid) -> StoreResult<bool> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).use_refresh_token(id).await
    }

    async fn revoke_refresh_family(&self, session: Uuid, reason: &str) -> StoreResult<()> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?)
            .revoke_refresh_family(session, reason)
            .await
    }

    async fn revoke_user_refresh_families(
        &self,
        user: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?)
            .revoke_user_refresh_families(user, keep, reason)
            .await
    }

    async fn create_api_key(&self, key: ApiKeyRecord, audit: &mut AuditBatch) -> StoreResult<()> {
        let org = key.org_id;
        let mut conn = self.api_keys_scope(Some(key.org_id), None).await?;
        Common::<$db>::insert_api_key(&mut conn, key).await?;
        AuditSql::<$db>::commit(conn, org, audit).await
    }

    async fn api_key_by_key_id(&self, key_id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let mut conn = self.api_keys_scope(None, Some(key_id)).await?;
        let found =
            Common::<$db>::fetch_api_keys(&mut conn, "key_id = $1", key_id.to_owned(), None)
                .await?;
        {
            let v = found.into_iter().next();
            conn.commit().await.map_err(super::map_err)?;
            Ok(v)
        }
    }

    async fn api_key(&self, org: Uuid, id: Uuid) -> StoreResult<Option<ApiKeyRecord>> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        let found =
            Common::<$db>::fetch_api_keys(&mut conn, "org_id = $1 AND id = $2", org, Some(id))
                .await?;
        {
            let v = found.into_iter().next();
            conn.commit().await.map_err(super::map_err)?;
            Ok(v)
        }
    }

    async fn list_api_keys(&self, org: Uuid) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        let found = Common::<$db>::fetch_api_keys(&mut conn, "org_id = $1", org, None).await?;
        {
            let v = found;
            conn.commit().await.map_err(super::map_err)?;
            Ok(v)
        }
    }

    async fn revoke_api_key(&self, org: Uuid, id: Uuid, audit: &mut AuditBatch) -> StoreResult<()> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        Common::<$db>::update_api_key(&mut conn, org, id, "revoked_at = $3", None).await?;
        AuditSql::<$db>::commit(conn, org, audit).await
    }

    async fn rotate_api_key(
        &self,
        org: Uuid,
        id: Uuid,
        secret_hash: String,
        previous_valid_until: chrono::DateTime<chrono::Utc>,
        signing_secret_enc: Vec<u8>, audit: &mut AuditBatch) -> StoreResult<()> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        Common::<$db>::update_api_key(
            &mut conn,
            org,
            id,
            "previous_secret_hash = secret_hash, secret_hash = $4, previous_valid_until = $5, rotated_at = $3, \
             previous_signing_secret_enc = signing_secret_enc, signing_secret_enc = $6",
            Some((secret_hash, previous_valid_until, signing_secret_enc)),
        )
        .await?;
        AuditSql::<$db>::commit(conn, org, audit).await
    }

    async fn touch_api_key(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        Common::<$db>::update_api_key(&mut conn, org, id, "last_used_at = $3", None).await?;
        conn.commit().await.map_err(super::map_err)
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).signing_keys().await
    }

    async fn insert_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()> {
        Common::<$db>(&mut *self.pool.acquire().await.map_err(super::map_err)?).insert_signing_key(key).await
    }
        }
    };
}

account_store!(super::sqlite::SqliteStore, sqlx::Sqlite);
account_store!(super::postgres::PgStore, sqlx::Postgres);
