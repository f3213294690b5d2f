//! Queries on the global (non-tenant) tables — users, MFA, refresh tokens,
//! signing keys — and API-key rows. Written once and generated for both
//! backends by a macro, like the rest of `store/`.

use chrono::{DateTime, Utc};
use loki_shared::api::User;
use sqlx::{Database, Encode, Type};
use uuid::Uuid;

use super::models::{
    ApiKeyRecord, CredentialsRow, MfaState, NewRefreshToken, NewUser, RefreshTokenRecord,
    SigningKeyRecord, UserCredentials, UserRow, API_KEY_COLUMNS, USER_COLUMNS,
};
use super::{expect_row, map_sqlx, unique_conflict, StoreResult};

/// Queries on one connection (a pooled one, or a transaction's).
pub(crate) struct Common<'a, DB: Database>(pub &'a mut DB::Connection);

fn err(e: sqlx::Error) -> super::StoreError {
    map_sqlx(e, None)
}

macro_rules! common_sql {
    ($db:ty) => {
        impl Common<'_, $db> {
    pub async fn ping(&mut self) -> StoreResult<()> {
        sqlx::query::<$db>("SELECT 1")
            .execute(&mut *self.0)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Inserts a user; `super_admin` promotes an existing one instead of
    /// conflicting (and resets its password).
    pub async fn insert_user(&mut self, user: NewUser, super_admin: bool) -> StoreResult<User> {
        let on_conflict = if super_admin {
            "ON CONFLICT (email) DO UPDATE SET is_super_admin = TRUE, managed_by_org = NULL, \
             password_hash = excluded.password_hash, updated_at = excluded.updated_at"
        } else {
            ""
        };
        let flag = if super_admin { "TRUE" } else { "FALSE" };
        let sql = format!(
            "INSERT INTO users (id, email, display_name, password_hash, is_super_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, {flag}, $5, $5) {on_conflict} RETURNING {USER_COLUMNS}"
        );
        let row: UserRow = sqlx::query_as::<$db, UserRow>(&sql)
            .bind(user.id)
            .bind(user.email)
            .bind(user.display_name)
            .bind(user.password_hash)
            .bind(Utc::now())
            .fetch_one(&mut *self.0)
            .await
            .map_err(unique_conflict)?;
        Ok(row.into())
    }

    /// The user whose `column` (`id` or `email`) equals `value`.
    pub async fn user_where<V>(
        &mut self,
        column: &'static str,
        value: V,
    ) -> StoreResult<Option<User>>
    where
        for<'q> V: Encode<'q, $db> + Type<$db> + Send + 'q,
    {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        let row = sqlx::query_as::<$db, UserRow>(&sql)
            .bind(value)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(err)?;
        Ok(row.map(User::from))
    }

    pub async fn credentials_by_email(
        &mut self,
        email: &str,
    ) -> StoreResult<Option<UserCredentials>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1");
        let row = sqlx::query_as::<$db, CredentialsRow>(&sql)
            .bind(email.to_owned())
            .fetch_optional(&mut *self.0)
            .await
            .map_err(err)?;
        Ok(row.map(|r| UserCredentials {
            user: r.user.into(),
            password_hash: r.password_hash,
        }))
    }

    pub async fn signing_keys(&mut self) -> StoreResult<Vec<SigningKeyRecord>> {
        sqlx::query_as::<$db, SigningKeyRecord>(
            "SELECT kid, public_key, private_key_enc, created_at FROM signing_keys ORDER BY created_at",
        )
        .fetch_all(&mut *self.0)
        .await
        .map_err(err)
    }

    pub async fn insert_signing_key(&mut self, key: SigningKeyRecord) -> StoreResult<()> {
        sqlx::query::<$db>(
            "INSERT INTO signing_keys (kid, public_key, private_key_enc, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(key.kid)
        .bind(key.public_key)
        .bind(key.private_key_enc)
        .bind(key.created_at)
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(())
    }

    // --- passwords and MFA

    pub async fn password_hash(&mut self, user: Uuid) -> StoreResult<Option<String>> {
        let row = sqlx::query_as::<$db, (Option<String>,)>(
            "SELECT password_hash FROM users WHERE id = $1",
        )
        .bind(user)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(row.and_then(|r| r.0))
    }

    pub async fn set_password(&mut self, user: Uuid, hash: String) -> StoreResult<()> {
        let done =
            sqlx::query::<$db>("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(user)
                .bind(hash)
                .bind(Utc::now())
                .execute(&mut *self.0)
                .await
                .map_err(err)?;
        expect_row(rows(&done), "user")
    }

    pub async fn mfa_state(&mut self, user: Uuid) -> StoreResult<Option<MfaState>> {
        sqlx::query_as::<$db, MfaState>(
            "SELECT mfa_enabled, mfa_secret_enc, mfa_pending_secret_enc, mfa_last_step FROM users WHERE id = $1",
        )
        .bind(user)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(err)
    }

    pub async fn set_mfa_pending(
        &mut self,
        user: Uuid,
        secret: Option<Vec<u8>>,
    ) -> StoreResult<()> {
        let done = sqlx::query::<$db>("UPDATE users SET mfa_pending_secret_enc = $2 WHERE id = $1")
            .bind(user)
            .bind(secret)
            .execute(&mut *self.0)
            .await
            .map_err(err)?;
        expect_row(rows(&done), "user")
    }

    pub async fn enable_mfa(
        &mut self,
        user: Uuid,
        secret: Vec<u8>,
        step: i64,
        recovery: Vec<String>,
    ) -> StoreResult<()> {
        let mut tx = sqlx::Connection::begin(&mut *self.0).await.map_err(err)?;
        sqlx::query::<$db>(
            "UPDATE users SET mfa_enabled = TRUE, mfa_secret_enc = $2, mfa_pending_secret_enc = NULL, \
             mfa_last_step = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(user)
        .bind(secret)
        .bind(step)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        sqlx::query::<$db>("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        for hash in recovery {
            sqlx::query::<$db>(
                "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
            )
            .bind(user)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    pub async fn disable_mfa(&mut self, user: Uuid) -> StoreResult<()> {
        let mut tx = sqlx::Connection::begin(&mut *self.0).await.map_err(err)?;
        sqlx::query::<$db>(
            "UPDATE users SET mfa_enabled = FALSE, mfa_secret_enc = NULL, mfa_pending_secret_enc = NULL, \
             updated_at = $2 WHERE id = $1",
        )
        .bind(user)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        sqlx::query::<$db>("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    pub async fn consume_totp_step(&mut self, user: Uuid, step: i64) -> StoreResult<bool> {
        let done = sqlx::query::<$db>(
            "UPDATE users SET mfa_last_step = $2 WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
        )
        .bind(user)
        .bind(step)
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(rows(&done) == 1)
    }

    pub async fn consume_recovery_code(&mut self, user: Uuid, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query::<$db>(
            "UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user)
        .bind(hash.to_owned())
        .bind(Utc::now())
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(rows(&done) == 1)
    }

    pub async fn unused_recovery_codes(&mut self, user: Uuid) -> StoreResult<u64> {
        let (n,) = sqlx::query_as::<$db, (i64,)>(
            "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user)
        .fetch_one(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    // --- refresh tokens

    pub async fn create_refresh_family(&mut self, session: Uuid, user: Uuid) -> StoreResult<()> {
        sqlx::query::<$db>(
            "INSERT INTO refresh_families (session_id, user_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(session)
        .bind(user)
        .bind(Utc::now())
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub async fn insert_refresh_token(&mut self, t: NewRefreshToken) -> StoreResult<()> {
        sqlx::query::<$db>(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, session_org, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t.id)
        .bind(t.session_id)
        .bind(t.token_hash)
        .bind(t.org_id)
        .bind(Utc::now())
        .bind(t.expires_at)
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub async fn retire_refresh_tokens(&mut self, session: Uuid) -> StoreResult<()> {
        sqlx::query::<$db>(
            "UPDATE refresh_tokens SET used_at = $2 WHERE session_id = $1 AND used_at IS NULL",
        )
        .bind(session)
        .bind(Utc::now())
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub async fn refresh_token_by_hash(
        &mut self,
        hash: &str,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        sqlx::query_as::<$db, RefreshTokenRecord>(
            "SELECT t.id, t.session_id, f.user_id, t.session_org AS org_id, t.expires_at, t.used_at, \
             f.revoked_at AS family_revoked_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.session_id = t.session_id \
             WHERE t.token_hash = $1",
        )
        .bind(hash.to_owned())
        .fetch_optional(&mut *self.0)
        .await
        .map_err(err)
    }

    pub async fn use_refresh_token(&mut self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query::<$db>(
            "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
        )
        .bind(id)
        .bind(Utc::now())
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(rows(&done) == 1)
    }

    pub async fn revoke_refresh_family(&mut self, session: Uuid, reason: &str) -> StoreResult<()> {
        sqlx::query::<$db>(
            "UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3 \
             WHERE session_id = $1 AND revoked_at IS NULL",
        )
        .bind(session)
        .bind(Utc::now())
        .bind(reason.to_owned())
        .execute(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub async fn revoke_user_refresh_families(
        &mut self,
        user: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query_as::<$db, (Uuid,)>(
            "UPDATE refresh_families SET revoked_at = $3, revoked_reason = $4 \
             WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR session_id <> $2) \
             RETURNING session_id",
        )
        .bind(user)
        .bind(keep)
        .bind(Utc::now())
        .bind(reason.to_owned())
        .fetch_all(&mut *self.0)
        .await
        .map_err(err)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    // --- API keys, on a connection the backend has scoped

    pub async fn insert_api_key(conn: &mut <$db as sqlx::Database>::Connection, k: ApiKeyRecord) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        );
        sqlx::query::<$db>(&sql)
            .bind(k.id)
            .bind(k.org_id)
            .bind(k.key_id)
            .bind(k.name)
            .bind(k.scopes)
            .bind(k.secret_hash)
            .bind(k.previous_secret_hash)
            .bind(k.previous_valid_until)
            .bind(k.created_by)
            .bind(k.created_at)
            .bind(k.expires_at)
            .bind(k.last_used_at)
            .bind(k.rotated_at)
            .bind(k.revoked_at)
            .bind(k.signing_secret_enc)
            .bind(k.previous_signing_secret_enc)
            .bind(k.require_signature)
            .execute(conn)
            .await
            .map_err(unique_conflict)?;
        Ok(())
    }

    /// `filter` is a WHERE clause over `$1` (and `$2`).
    pub async fn fetch_api_keys<V>(
        conn: &mut <$db as sqlx::Database>::Connection,
        filter: &str,
        first: V,
        second: Option<Uuid>,
    ) -> StoreResult<Vec<ApiKeyRecord>>
    where
        for<'q> V: Encode<'q, $db> + Type<$db> + 'q,
    {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE {filter} ORDER BY created_at, id"
        );
        let mut q = sqlx::query_as::<$db, ApiKeyRecord>(&sql).bind(first);
        if let Some(s) = second {
            q = q.bind(s);
        }
        q.fetch_all(conn).await.map_err(err)
    }

    /// Runs an UPDATE on one key of one organization (`$1` org, `$2` id,
    /// `$3` now, then `extra`); NotFound when no live key matched.
    pub async fn update_api_key(
        conn: &mut <$db as sqlx::Database>::Connection,
        org: Uuid,
        id: Uuid,
        set: &str,
        extra: Option<(String, DateTime<Utc>, Vec<u8>)>,
    ) -> StoreResult<()> {
        let sql = format!(
            "UPDATE api_keys SET {set} WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL"
        );
        let mut q = sqlx::query::<$db>(&sql).bind(org).bind(id).bind(Utc::now());
        if let Some((hash, until, signing)) = extra {
            q = q.bind(hash).bind(until).bind(signing);
        }
        let done = q.execute(conn).await.map_err(err)?;
        expect_row(rows(&done), "API key")
    }
        }
    };
}

common_sql!(sqlx::Sqlite);
common_sql!(sqlx::Postgres);

/// Rows a statement touched, for any backend.
fn rows<R: RowsAffected>(done: &R) -> u64 {
    done.rows()
}

/// `QueryResult` has no common trait across backends; this bridges the two
/// we support.
pub(crate) trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}
