//! SQLite backend: the embedded default (one file, WAL mode).
//!
//! SQLite has no row-level security; tenant isolation rests on every query
//! filtering by `org_id`, which the contract tests check.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use uuid::Uuid;

use super::hygiene;
use super::{map_sqlx, StoreError, StoreResult};

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

/// The users table as of migration 0011: `password_hash` may be NULL (an
/// account that signs in only through its organization's identity
/// provider).
const USERS_REBUILT: &str = "
CREATE TABLE users_rebuilt (
    id                      BLOB PRIMARY KEY NOT NULL,
    email                   TEXT NOT NULL,
    display_name            TEXT,
    password_hash           TEXT,
    is_super_admin          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    mfa_enabled             BOOLEAN NOT NULL DEFAULT FALSE,
    mfa_secret_enc          BLOB,
    mfa_pending_secret_enc  BLOB,
    mfa_last_step           INTEGER,
    managed_by_org          BLOB
);
INSERT INTO users_rebuilt (id, email, display_name, password_hash, is_super_admin, created_at,
        updated_at, mfa_enabled, mfa_secret_enc, mfa_pending_secret_enc, mfa_last_step, managed_by_org)
    SELECT id, email, display_name, password_hash, is_super_admin, created_at,
        updated_at, mfa_enabled, mfa_secret_enc, mfa_pending_secret_enc, mfa_last_step, managed_by_org
    FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE UNIQUE INDEX users_email_key ON users (email);
";

/// Drops the NOT NULL of `users.password_hash` (once; a no-op after): SQLite's
/// documented table rebuild, with foreign keys off so that dropping the old
/// table cascades to nothing, in one transaction, then checked. The
/// connection is closed afterwards rather than returned to the pool with
/// foreign keys off.
async fn allow_accounts_without_password(pool: &SqlitePool) -> anyhow::Result<()> {
    use sqlx::{Connection as _, Executor as _, Row as _};
    let mut conn = pool.acquire().await?;
    let not_null: bool = sqlx::query(
        "SELECT \"notnull\" FROM pragma_table_info('users') WHERE name = 'password_hash'",
    )
    .fetch_one(&mut *conn)
    .await?
    .try_get::<i64, _>(0)?
        == 1;
    if !not_null {
        return Ok(());
    }
    let mut conn = conn.detach();
    conn.execute("PRAGMA foreign_keys = OFF").await?;
    let mut tx = conn.begin().await?;
    tx.execute(USERS_REBUILT).await?;
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *tx)
        .await?;
    if !broken.is_empty() {
        anyhow::bail!(
            "rebuilding users would break {} foreign keys; nothing was changed",
            broken.len()
        );
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(())
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
        allow_accounts_without_password(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn migrate_only(url: &str) -> anyhow::Result<()> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(url)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        allow_accounts_without_password(&pool).await?;
        pool.close().await;
        Ok(())
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
    /// A read: a deferred transaction (no write lock). SQLite has no
    /// row-level security, so the organization and user only filter.
    pub(crate) async fn read_scope(
        &self,
        _org: Option<Uuid>,
        _user: Option<Uuid>,
    ) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        hygiene::begin(&self.pool, None).await.map_err(err)
    }

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
