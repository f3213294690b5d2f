//! SQLite backend: the embedded default (one file, WAL mode).
//!
//! SQLite has no row-level security; tenant isolation rests on every query
//! filtering by `org_id`, which the contract tests check.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use loki_shared::api::{MyOrganization, Organization, User};
use loki_shared::Tier;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use uuid::Uuid;

use super::common::Common;
use super::models::*;
use super::tenant_sql::Tenant;
use super::{
    expect_row, map_sqlx, settings_to_json, unique_conflict, Backend, Store, StoreError,
    StoreResult,
};
use super::{ApiKeyRecord, MfaState, NewRefreshToken, RefreshTokenRecord};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

fn options(url: &str) -> anyhow::Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10)))
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options(url)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn migrate_only(url: &str) -> anyhow::Result<()> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(url)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        pool.close().await;
        Ok(())
    }

    async fn org_row(&self, org: Uuid) -> StoreResult<Organization> {
        self.org_by_id(org)
            .await?
            .ok_or(StoreError::NotFound("organization"))
    }

    /// SQLite has no RLS: the scope is only the filter in each query.
    async fn api_keys_scope(
        &self,
        _org: Option<Uuid>,
        _key_id: Option<&str>,
    ) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        self.pool.acquire().await.map_err(err)
    }

    /// The transaction tenant work runs in. SQLite has no row-level
    /// security: the scope is the `org_id` filter in every statement.
    pub(crate) async fn scope(
        &self,
        _org: Uuid,
    ) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        self.pool.begin().await.map_err(err)
    }
}

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        Common(&self.pool).ping().await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        Common(&self.pool).insert_user(user, false).await
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        Common(&self.pool).user_where("id", id).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Common(&self.pool)
            .user_where("email", email.to_owned())
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        Common(&self.pool).credentials_by_email(email).await
    }

    async fn upsert_super_admin(&self, user: NewUser) -> StoreResult<User> {
        Common(&self.pool).insert_user(user, true).await
    }

    async fn create_org(&self, org: NewOrg, creator: Uuid) -> StoreResult<Organization> {
        let id = org.id;
        let settings = settings_to_json(&Default::default())?;
        let mut tx = self.pool.begin().await.map_err(err)?;
        Tenant::<Sqlite>::insert_org(&mut tx, org, creator, settings, "$4").await?;
        tx.commit().await.map_err(err)?;
        self.org_row(id).await
    }

    async fn org_by_id(&self, org: Uuid) -> StoreResult<Option<Organization>> {
        let row: Option<OrgRow> = sqlx::query_as(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1"
        ))
        .bind(org)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        row.map(Organization::try_from).transpose()
    }

    async fn orgs_of_user(&self, user: Uuid) -> StoreResult<Vec<MyOrganization>> {
        let mut conn = self.pool.acquire().await.map_err(err)?;
        let rows: Vec<OrgRow> = sqlx::query_as(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations o \
             JOIN memberships m ON m.org_id = o.id \
             WHERE m.user_id = $1 AND o.status <> 'deleted' ORDER BY o.created_at, o.id"
        ))
        .bind(user)
        .fetch_all(&mut *conn)
        .await
        .map_err(err)?;
        let roles = Tenant::<Sqlite>::roles_of_user(&mut conn, user).await?;
        my_orgs(rows, &roles)
    }

    async fn update_org(&self, org: Uuid, patch: OrgPatch) -> StoreResult<Organization> {
        let settings = patch.settings.as_ref().map(settings_to_json).transpose()?;
        let done = sqlx::query(
            "UPDATE organizations SET name = COALESCE($2, name), slug = COALESCE($3, slug), \
             settings = COALESCE($4, settings), updated_at = $5 \
             WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(&patch.name)
        .bind(&patch.slug)
        .bind(settings)
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(unique_conflict)?;
        expect_row(done.rows_affected(), "organization")?;
        self.org_row(org).await
    }

    async fn set_org_tier(&self, org: Uuid, tier: Tier) -> StoreResult<Organization> {
        let done = sqlx::query(
            "UPDATE organizations SET tier = $2, updated_at = $3 WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(tier.as_str())
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        self.org_row(org).await
    }

    async fn soft_delete_org(&self, org: Uuid) -> StoreResult<Organization> {
        let now = Utc::now();
        let done = sqlx::query(
            "UPDATE organizations SET status = 'deleted', deleted_at = $2, updated_at = $2 \
             WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        self.org_row(org).await
    }

    async fn hard_delete_org(&self, org: Uuid) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        Ok(())
    }

    async fn password_hash(&self, user: Uuid) -> StoreResult<Option<String>> {
        Common(&self.pool).password_hash(user).await
    }

    async fn set_password(&self, user: Uuid, hash: String) -> StoreResult<()> {
        Common(&self.pool).set_password(user, hash).await
    }

    async fn mfa_state(&self, user: Uuid) -> StoreResult<Option<MfaState>> {
        Common(&self.pool).mfa_state(user).await
    }

    async fn set_mfa_pending(&self, user: Uuid, secret_enc: Option<Vec<u8>>) -> StoreResult<()> {
        Common(&self.pool).set_mfa_pending(user, secret_enc).await
    }

    async fn enable_mfa(
        &self,
        user: Uuid,
        secret_enc: Vec<u8>,
        step: i64,
        recovery_hashes: Vec<String>,
    ) -> StoreResult<()> {
        Common(&self.pool)
            .enable_mfa(user, secret_enc, step, recovery_hashes)
            .await
    }

    async fn disable_mfa(&self, user: Uuid) -> StoreResult<()> {
        Common(&self.pool).disable_mfa(user).await
    }

    async fn consume_totp_step(&self, user: Uuid, step: i64) -> StoreResult<bool> {
        Common(&self.pool).consume_totp_step(user, step).await
    }

    async fn consume_recovery_code(&self, user: Uuid, code_hash: &str) -> StoreResult<bool> {
        Common(&self.pool)
            .consume_recovery_code(user, code_hash)
            .await
    }

    async fn unused_recovery_codes(&self, user: Uuid) -> StoreResult<u64> {
        Common(&self.pool).unused_recovery_codes(user).await
    }

    async fn create_refresh_family(&self, session: Uuid, user: Uuid) -> StoreResult<()> {
        Common(&self.pool)
            .create_refresh_family(session, user)
            .await
    }

    async fn insert_refresh_token(&self, token: NewRefreshToken) -> StoreResult<()> {
        Common(&self.pool).insert_refresh_token(token).await
    }

    async fn retire_refresh_tokens(&self, session: Uuid) -> StoreResult<()> {
        Common(&self.pool).retire_refresh_tokens(session).await
    }

    async fn refresh_token_by_hash(&self, hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        Common(&self.pool).refresh_token_by_hash(hash).await
    }

    async fn use_refresh_token(&self, id: Uuid) -> StoreResult<bool> {
        Common(&self.pool).use_refresh_token(id).await
    }

    async fn revoke_refresh_family(&self, session: Uuid, reason: &str) -> StoreResult<()> {
        Common(&self.pool)
            .revoke_refresh_family(session, reason)
            .await
    }

    async fn revoke_user_refresh_families(
        &self,
        user: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>> {
        Common(&self.pool)
            .revoke_user_refresh_families(user, keep, reason)
            .await
    }

    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()> {
        let mut conn = self.api_keys_scope(Some(key.org_id), None).await?;
        Common::<Sqlite>::insert_api_key(&mut conn, key).await?;
        Ok(())
    }

    async fn api_key_by_key_id(&self, key_id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let mut conn = self.api_keys_scope(None, Some(key_id)).await?;
        let found =
            Common::<Sqlite>::fetch_api_keys(&mut conn, "key_id = $1", key_id.to_owned(), None)
                .await?;
        Ok(found.into_iter().next())
    }

    async fn api_key(&self, org: Uuid, id: Uuid) -> StoreResult<Option<ApiKeyRecord>> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        let found =
            Common::<Sqlite>::fetch_api_keys(&mut conn, "org_id = $1 AND id = $2", org, Some(id))
                .await?;
        Ok(found.into_iter().next())
    }

    async fn list_api_keys(&self, org: Uuid) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        let found = Common::<Sqlite>::fetch_api_keys(&mut conn, "org_id = $1", org, None).await?;
        Ok(found)
    }

    async fn revoke_api_key(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        Common::<Sqlite>::update_api_key(&mut conn, org, id, "revoked_at = $3", None).await?;
        Ok(())
    }

    async fn rotate_api_key(
        &self,
        org: Uuid,
        id: Uuid,
        secret_hash: String,
        previous_valid_until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        Common::<Sqlite>::update_api_key(
            &mut conn,
            org,
            id,
            "previous_secret_hash = secret_hash, secret_hash = $4, previous_valid_until = $5, rotated_at = $3",
            Some((secret_hash, previous_valid_until)),
        )
        .await?;
        Ok(())
    }

    async fn touch_api_key(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        let mut conn = self.api_keys_scope(Some(org), None).await?;
        Common::<Sqlite>::update_api_key(&mut conn, org, id, "last_used_at = $3", None).await?;
        Ok(())
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        Common(&self.pool).signing_keys().await
    }

    async fn insert_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()> {
        Common(&self.pool).insert_signing_key(key).await
    }
}
