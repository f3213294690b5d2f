//! Durable storage: one `Store` trait (one method per use case) with a SQLite
//! and a PostgreSQL implementation, picked from the database URL.
//!
//! Every tenant-owned row carries `org_id` and every tenant method takes the
//! organization it works in. On PostgreSQL, row-level security is a second
//! wall: each tenant method runs in a transaction that first sets
//! `app.org_id` (and `app.user_id` for the "my organizations" queries).

mod common;
mod models;
pub mod postgres;
pub mod sqlite;
mod tenant_sql;
pub mod tenant_store;

use std::sync::Arc;

use async_trait::async_trait;
use loki_shared::api::{MyOrganization, OrgSettings, Organization, User};
use loki_shared::Tier;
use uuid::Uuid;

pub use models::{
    ApiKeyRecord, DocumentFilter, DocumentPatch, DocumentRecord, GrantRecord, MfaState, NewContent,
    NewOrg, NewRefreshToken, NewUser, OrgPatch, RefreshTokenRecord, RolePatch, RoleRecord,
    SigningKeyRecord, UserCredentials, VersionRecord,
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
pub trait Store: TenantStore + Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    // --- users (global identities; a user may belong to many organizations)
    /// Fails with `Conflict{email_taken}` when the email exists.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The user and their password hash, for sign-in only.
    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    /// Creates the user as super admin, or promotes the existing one; returns it.
    async fn upsert_super_admin(&self, user: NewUser) -> StoreResult<User>;

    // --- organizations
    /// Creates the organization and makes `creator` its admin, atomically.
    async fn create_org(&self, org: NewOrg, creator: Uuid) -> StoreResult<Organization>;
    /// Includes soft-deleted organizations (status `deleted`).
    async fn org_by_id(&self, org: Uuid) -> StoreResult<Option<Organization>>;
    /// Organizations the user is a member of (not deleted), with their role.
    async fn orgs_of_user(&self, user: Uuid) -> StoreResult<Vec<MyOrganization>>;
    async fn update_org(&self, org: Uuid, patch: OrgPatch) -> StoreResult<Organization>;
    async fn set_org_tier(&self, org: Uuid, tier: Tier) -> StoreResult<Organization>;
    async fn soft_delete_org(&self, org: Uuid) -> StoreResult<Organization>;
    /// Removes the organization and everything it owns.
    async fn hard_delete_org(&self, org: Uuid) -> StoreResult<()>;

    // --- passwords and MFA (global, per user)
    async fn password_hash(&self, user: Uuid) -> StoreResult<Option<String>>;
    async fn set_password(&self, user: Uuid, hash: String) -> StoreResult<()>;
    async fn mfa_state(&self, user: Uuid) -> StoreResult<Option<MfaState>>;
    /// Stores (or clears) the secret of an enrolment awaiting confirmation.
    async fn set_mfa_pending(&self, user: Uuid, secret_enc: Option<Vec<u8>>) -> StoreResult<()>;
    /// Turns MFA on with the confirmed secret, the step used to confirm it,
    /// and fresh recovery codes (hashes), replacing any old ones.
    async fn enable_mfa(
        &self,
        user: Uuid,
        secret_enc: Vec<u8>,
        step: i64,
        recovery_hashes: Vec<String>,
    ) -> StoreResult<()>;
    async fn disable_mfa(&self, user: Uuid) -> StoreResult<()>;
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
    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()>;
    /// Authentication lookup by the public key id, before the tenant is known.
    async fn api_key_by_key_id(&self, key_id: &str) -> StoreResult<Option<ApiKeyRecord>>;
    async fn api_key(&self, org: Uuid, id: Uuid) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self, org: Uuid) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn revoke_api_key(&self, org: Uuid, id: Uuid) -> StoreResult<()>;
    /// Replaces the secret; the previous one stays valid until `previous_valid_until`.
    async fn rotate_api_key(
        &self,
        org: Uuid,
        id: Uuid,
        secret_hash: String,
        previous_valid_until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()>;
    async fn touch_api_key(&self, org: Uuid, id: Uuid) -> StoreResult<()>;

    // --- token signing keys (private halves encrypted by the caller)
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    async fn insert_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()>;
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

/// Maps driver errors: unique violations become conflicts, connection
/// problems become `Unavailable`, the rest stay opaque.
pub(crate) fn map_sqlx(e: sqlx::Error, conflict: Option<(&'static str, &str)>) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let (code, what) = conflict.unwrap_or(("conflict", "a unique value already exists"));
            StoreError::Conflict {
                code,
                message: what.to_owned(),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.into()),
    }
}

/// Picks the conflict code from which unique constraint fired.
pub(crate) fn unique_conflict(e: sqlx::Error) -> StoreError {
    let msg = match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            if text.contains("email") {
                Some(("email_taken", "a user with this email already exists"))
            } else if text.contains("slug") {
                Some((
                    "slug_taken",
                    "an organization with this slug already exists",
                ))
            } else if text.contains("membership") || text.contains("memberships") {
                Some(("already_member", "the user is already a member"))
            } else {
                None
            }
        }
        _ => None,
    };
    map_sqlx(e, msg)
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
