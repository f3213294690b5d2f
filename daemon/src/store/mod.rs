//! Durable storage: one `Store` trait (one method per use case) with a SQLite
//! and a PostgreSQL implementation, picked from the database URL.
//!
//! Every tenant-owned row carries `org_id` and every tenant method takes the
//! organization it works in. On PostgreSQL, row-level security is a second
//! wall: each tenant method runs in a transaction that first sets
//! `app.org_id` (and `app.user_id` for the "my organizations" queries).

mod account_store;
mod audit_append;
pub mod audit_store;
mod common;
mod conflicts;
mod documents_sql;
pub mod group_commit;
mod hygiene;
pub mod invitation_store;
mod models;
mod org_store;
pub mod postgres;
mod roles_sql;
pub mod sqlite;
mod sso_sql;
mod tenant_sql;
pub mod tenant_store;
#[cfg(test)]
mod unit_of_work_tests;

use std::sync::Arc;

use async_trait::async_trait;
use loki_shared::api::{MyOrganization, OrgSettings, Organization};
use loki_shared::Tier;
use uuid::Uuid;

pub use account_store::AccountStore;
pub use audit_store::{AuditBatch, AuditFilter, AuditStore, CheckpointRecord};
pub use invitation_store::{Accepting, InvitationRecord, InvitationStore};
pub use models::{
    ApiKeyRecord, AuditKeyRecord, DocumentFilter, DocumentPatch, DocumentRecord, GrantRecord,
    IdpRecord, MfaState, NewContent, NewOrg, NewRefreshToken, NewUser, OrgPatch,
    RefreshTokenRecord, RolePatch, RoleRecord, SigningKeyRecord, SsoLink, SsoProvision,
    UserCredentials, VersionRecord,
};
pub use tenant_store::TenantStore;

/// Errors a store method can return; the HTTP layer maps each to one status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (email, slug, membership) already exists.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The row to change does not exist (or is not visible to this tenant).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A tier limit would be exceeded.
    #[error("{0}")]
    LimitReached(String),
    /// The database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("unsupported database URL scheme (expected sqlite: or postgres://)")
        }
    }
}

#[async_trait]
pub trait Store:
    AccountStore + AuditStore + InvitationStore + TenantStore + Send + Sync + 'static
{
    fn backend(&self) -> Backend;

    // --- organizations
    /// Creates the organization and makes `creator` its admin, atomically.
    async fn create_org(
        &self,
        org: NewOrg,
        creator: Uuid,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization>;
    /// Includes soft-deleted organizations (status `deleted`).
    async fn org_by_id(&self, org: Uuid) -> StoreResult<Option<Organization>>;
    /// The id of the live organization with this slug (for a sign-in
    /// screen, before anyone is signed in).
    async fn org_id_by_slug(&self, slug: &str) -> StoreResult<Option<Uuid>>;
    /// Organizations the user is a member of (not deleted), with their role.
    async fn orgs_of_user(&self, user: Uuid) -> StoreResult<Vec<MyOrganization>>;
    async fn update_org(
        &self,
        org: Uuid,
        patch: OrgPatch,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization>;
    async fn set_org_tier(
        &self,
        org: Uuid,
        tier: Tier,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization>;
    async fn soft_delete_org(&self, org: Uuid, audit: &mut AuditBatch)
        -> StoreResult<Organization>;
    /// Removes the organization and everything it owns.
    async fn hard_delete_org(&self, org: Uuid, audit: &mut AuditBatch) -> StoreResult<()>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens (and migrates) the store a URL names.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DynStore> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url, max_connections).await?),
        Backend::Postgres => Arc::new(postgres::PgStore::connect(url, max_connections).await?),
    })
}

/// Runs the migrations of the backend a URL names, and nothing else.
pub async fn migrate(url: &str) -> anyhow::Result<()> {
    match Backend::from_url(url)? {
        Backend::Sqlite => sqlite::SqliteStore::migrate_only(url).await,
        Backend::Postgres => postgres::PgStore::migrate_only(url).await,
    }
}

pub(crate) fn settings_to_json(s: &OrgSettings) -> StoreResult<String> {
    serde_json::to_string(s).map_err(|e| StoreError::Other(e.into()))
}

/// Maps driver errors: unique violations become conflicts; connection
/// problems and storage faults (busy past the timeout, read-only, disk
/// full, I/O errors) become `Unavailable` — the daemon answers 503
/// `storage_unavailable` and serves again once the fault clears. The rest
/// stay opaque.
pub(crate) fn map_sqlx(e: sqlx::Error, conflict: Option<(&'static str, &str)>) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let (code, what) = conflict
                .or_else(|| conflicts::known(db.as_ref()))
                .unwrap_or(("conflict", "a unique value already exists"));
            StoreError::Conflict {
                code,
                message: what.to_owned(),
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) if is_storage_fault(db.as_ref()) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.into()),
    }
}

/// Database errors that say the storage, not the request, is at fault.
fn is_storage_fault(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    // SQLSTATEs may be all digits ("25006"): tell the backends apart by
    // the error's type, not by the code's shape.
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // PostgreSQL: connection exceptions (08), read-only transaction
        // (25006), insufficient resources such as a full disk (53), operator
        // intervention / shutdown (57P), system I/O errors (58).
        return code.starts_with("08")
            || code == "25006"
            || code.starts_with("53")
            || code.starts_with("57P")
            || code.starts_with("58");
    }
    // SQLite (primary code = low byte of the extended one): BUSY, LOCKED,
    // READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB.
    code.parse::<u32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 8 | 10 | 11 | 13 | 14 | 26))
        || db.message().contains("database is locked")
}

/// A write's driver error, with unique violations named by constraint.
pub(crate) fn unique_conflict(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
}

pub(crate) fn member_limit_error(max_members: Option<u32>) -> StoreError {
    StoreError::LimitReached(format!(
        "the organization's tier allows at most {} members; upgrade the tier to add more",
        max_members.unwrap_or_default()
    ))
}

/// A write that must have touched a row, else the row does not exist (or
/// is not visible in this tenant).
pub(crate) fn expect_row(rows_affected: u64, what: &'static str) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}

/// Maps a driver error with no unique-constraint meaning.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
}
