//! SQLite backend: the embedded default (one file, WAL mode).
//!
//! SQLite has no row-level security; tenant isolation rests on every query
//! filtering by `org_id`, which the contract tests check.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use loki_shared::api::{MyOrganization, Organization};
use loki_shared::Tier;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use uuid::Uuid;

use super::audit_store::{AuditBatch, AuditSql};
use super::hygiene;
use super::models::*;
use super::tenant_sql::Tenant;
use super::{
    expect_row, map_sqlx, settings_to_json, unique_conflict, Backend, Store, StoreError,
    StoreResult,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

/// Creates the database file owner-only (0600) before SQLite opens it, so
/// it is private whatever the umask; SQLite gives its `-wal` and `-shm`
/// files the database file's mode.
fn create_private_file(path: &std::path::Path) -> anyhow::Result<()> {
    let name = path.to_string_lossy();
    if name.is_empty() || name.starts_with(':') || path.exists() {
        return Ok(());
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        open.mode(0o600);
        let file = match open.open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        // `mode` is filtered by the umask; this is not.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = open.open(path);
    Ok(())
}

fn options(url: &str) -> anyhow::Result<SqliteConnectOptions> {
    let opts = SqliteConnectOptions::from_str(url)?;
    create_private_file(opts.get_filename())?;
    Ok(opts
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
            // No connection goes back into service inside a transaction.
            .after_release(|conn, _| Box::pin(hygiene::sqlite_is_clean(conn)))
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

    /// The transaction API-key work runs in (see the PostgreSQL twin). SQLite
    /// has no row-level security: the scope is the filter in each query.
    pub(crate) async fn api_keys_scope(
        &self,
        _org: Option<Uuid>,
        _key_id: Option<&str>,
    ) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        self.write_tx().await.map_err(err)
    }

    /// Every transaction takes SQLite's write lock up front (`BEGIN
    /// IMMEDIATE`): a deferred one that reads and then writes fails at once
    /// (SQLITE_BUSY) when another connection committed in between, while
    /// an immediate one waits its turn (`busy_timeout`). Requests queue
    /// instead of failing; reads are short, so the queue is too. The begin
    /// is cancel-safe (see `hygiene`).
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        hygiene::begin(&self.pool, Some("BEGIN IMMEDIATE")).await
    }

    /// The transaction an invitee's work runs in (see the PostgreSQL twin).
    pub(crate) async fn invitee_scope(
        &self,
        _email: Option<&str>,
        _invitation: Option<Uuid>,
    ) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        self.write_tx().await.map_err(err)
    }

    /// The transaction tenant work runs in. SQLite has no row-level
    /// security: the scope is the `org_id` filter in every statement.
    pub(crate) async fn scope(
        &self,
        _org: Uuid,
    ) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        self.write_tx().await.map_err(err)
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

    async fn create_org(
        &self,
        org: NewOrg,
        creator: Uuid,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let id = org.id;
        let settings = settings_to_json(&Default::default())?;
        let mut tx = self.write_tx().await.map_err(err)?;
        Tenant::<Sqlite>::insert_org(&mut tx, org, creator, settings, "$4").await?;
        AuditSql::<Sqlite>::commit(tx, id, audit).await?;
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

    async fn update_org(
        &self,
        org: Uuid,
        patch: OrgPatch,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let mut tx = self.write_tx().await.map_err(err)?;
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
        .execute(&mut *tx)
        .await
        .map_err(unique_conflict)?;
        expect_row(done.rows_affected(), "organization")?;
        AuditSql::<Sqlite>::commit(tx, org, audit).await?;
        self.org_row(org).await
    }

    async fn set_org_tier(
        &self,
        org: Uuid,
        tier: Tier,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let mut tx = self.write_tx().await.map_err(err)?;
        let done = sqlx::query(
            "UPDATE organizations SET tier = $2, updated_at = $3 WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(tier.as_str())
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        AuditSql::<Sqlite>::commit(tx, org, audit).await?;
        self.org_row(org).await
    }

    async fn soft_delete_org(
        &self,
        org: Uuid,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let mut tx = self.write_tx().await.map_err(err)?;
        let now = Utc::now();
        let done = sqlx::query(
            "UPDATE organizations SET status = 'deleted', deleted_at = $2, updated_at = $2 \
             WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        AuditSql::<Sqlite>::commit(tx, org, audit).await?;
        self.org_row(org).await
    }

    async fn hard_delete_org(&self, org: Uuid, audit: &mut AuditBatch) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(err)?;
        let done = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        // The organization's own chain goes with it: its purge is recorded
        // on the system chain.
        AuditSql::<Sqlite>::commit(tx, Uuid::nil(), audit).await?;
        Ok(())
    }
}
