//! Row types shared by both backends (sqlx's `FromRow` derive is generic over
//! the database) and the inputs of store methods.

use chrono::{DateTime, Utc};
use loki_shared::api::{Member, OrgSettings, OrgStatus, Organization, User};
use loki_shared::Tier;
use uuid::Uuid;

use super::{StoreError, StoreResult};

pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    /// None: an account that signs in only through its organization's
    /// identity provider.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A user with their password hash: only the sign-in path sees this.
pub struct UserCredentials {
    pub user: User,
    /// None for an account without a password (single sign-on only).
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub settings: Option<OrgSettings>,
}

/// A token-signing key; `private_key_enc` is sealed with the master key.
#[derive(Clone, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub private_key_enc: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An audit signing key; a successor names its predecessor and carries the
/// predecessor's signature over the succession statement.
#[derive(Clone, sqlx::FromRow)]
pub struct AuditKeyRecord {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub private_key_enc: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub predecessor: Option<String>,
    pub introduction: Option<String>,
}

impl std::fmt::Debug for AuditKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("predecessor", &self.predecessor)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub is_super_admin: bool,
    pub mfa_enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            is_super_admin: r.is_super_admin,
            mfa_enabled: r.mfa_enabled,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub tier: String,
    pub status: String,
    pub settings: String,
    pub storage_used_bytes: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<OrgRow> for Organization {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> StoreResult<Self> {
        let corrupt = |what: &str| {
            StoreError::Other(anyhow::anyhow!(
                "stored organization {} has an invalid {what}",
                r.id
            ))
        };
        Ok(Organization {
            id: r.id,
            tier: r.tier.parse::<Tier>().map_err(|_| corrupt("tier"))?,
            status: OrgStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            settings: serde_json::from_str(&r.settings).map_err(|_| corrupt("settings"))?,
            storage_used_bytes: u64::try_from(r.storage_used_bytes).unwrap_or(0),
            slug: r.slug,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}

/// Joins organizations with the caller's roles in them.
pub(crate) fn my_orgs(
    rows: Vec<OrgRow>,
    roles: &[(Uuid, String)],
) -> StoreResult<Vec<loki_shared::api::MyOrganization>> {
    rows.into_iter()
        .map(|r| {
            let id = r.id;
            Ok(loki_shared::api::MyOrganization {
                organization: r.try_into()?,
                roles: roles
                    .iter()
                    .filter(|(o, _)| *o == id)
                    .map(|(_, role)| role.clone())
                    .collect(),
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub joined_at: DateTime<Utc>,
}

impl MemberRow {
    pub(crate) fn into_member(self, roles: Vec<String>) -> Member {
        Member {
            user_id: self.user_id,
            email: self.email,
            display_name: self.display_name,
            roles,
            joined_at: self.joined_at,
        }
    }
}

pub(crate) const USER_COLUMNS: &str =
    "id, email, display_name, is_super_admin, mfa_enabled, created_at";
pub(crate) const ORG_COLUMNS: &str =
    "o.id, o.slug, o.name, o.tier, o.status, o.settings, o.storage_used_bytes, o.created_at, o.updated_at, o.deleted_at";
pub(crate) const MEMBER_SELECT: &str =
    "SELECT m.user_id, u.email, u.display_name, m.created_at AS joined_at \
     FROM memberships m JOIN users u ON u.id = m.user_id";

/// A user's TOTP state; secrets are sealed with the master key.
#[derive(Clone, sqlx::FromRow)]
pub struct MfaState {
    pub mfa_enabled: bool,
    pub mfa_secret_enc: Option<Vec<u8>>,
    pub mfa_pending_secret_enc: Option<Vec<u8>>,
    pub mfa_last_step: Option<i64>,
}

impl std::fmt::Debug for MfaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaState")
            .field("mfa_enabled", &self.mfa_enabled)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: Uuid,
    pub session_id: Uuid,
    /// SHA-256 (hex) of the opaque token.
    pub token_hash: String,
    pub org_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRecord {
    pub id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub family_revoked_at: Option<DateTime<Utc>>,
}

/// An API key as stored: only hashes of its secrets.
#[derive(Clone, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub key_id: String,
    pub name: String,
    /// JSON array of permission names.
    pub scopes: String,
    pub secret_hash: String,
    pub previous_secret_hash: Option<String>,
    pub previous_valid_until: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The HMAC signing secret, sealed with the master key.
    pub signing_secret_enc: Option<Vec<u8>>,
    /// The one before the last rotation (valid as long as the old secret).
    pub previous_signing_secret_enc: Option<Vec<u8>>,
    /// Requests with this key must be signed.
    pub require_signature: bool,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("key_id", &self.key_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub(crate) const API_KEY_COLUMNS: &str = "id, org_id, key_id, name, scopes, secret_hash, previous_secret_hash, \
     previous_valid_until, created_by, created_at, expires_at, last_used_at, rotated_at, revoked_at, \
     signing_secret_enc, previous_signing_secret_enc, require_signature";

/// A custom role as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: String,
    /// JSON array of permission names (the role's own, not inherited).
    pub permissions: String,
    pub parent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub description: Option<String>,
    pub permissions: Option<String>,
    /// `Some(None)` clears the parent.
    pub parent: Option<Option<String>>,
}

/// A permission on one resource for a user or a role.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub resource_type: String,
    pub resource_id: Uuid,
    /// `user` or `role`.
    pub subject_type: String,
    /// A user id or a role name.
    pub subject: String,
    pub permission: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub version: i64,
    /// JSON arrays.
    pub frameworks: String,
    pub controls: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRecord {
    pub document_id: Uuid,
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Content to store for a document version.
pub struct NewContent {
    pub sha256: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub created_by: Uuid,
}

impl std::fmt::Debug for NewContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewContent")
            .field("sha256", &self.sha256)
            .field("size", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
pub struct DocumentPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Both tag lists are replaced together when given.
    pub tags: Option<(Vec<String>, Vec<String>)>,
}

#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    pub framework: Option<String>,
    pub control: Option<String>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Return documents older than this id (ids are time-ordered).
    pub before: Option<Uuid>,
    pub limit: i64,
}

pub(crate) const DOCUMENT_COLUMNS: &str =
    "d.id, d.org_id, d.name, d.description, d.content_type, d.size, d.sha256, \
     d.version, d.frameworks, d.controls, d.created_by, d.created_at, d.updated_at";

/// An identity provider of an organization. `settings` is the JSON of
/// `loki_shared::api::IdpSettings`; `client_secret` is sealed.
#[derive(Clone, sqlx::FromRow)]
pub struct IdpRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub kind: String,
    pub settings: String,
    pub client_secret: Option<Vec<u8>>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for IdpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpRecord")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[sealed]"),
            )
            .finish_non_exhaustive()
    }
}

/// An identity provider's subject, bound to the account it signs in as.
#[derive(Debug, Clone)]
pub struct SsoLink {
    pub idp_id: Uuid,
    pub subject: String,
    pub user_id: Uuid,
}

/// A first sign-in through an identity provider with just-in-time
/// provisioning: the account (without a password) and its membership.
#[derive(Debug)]
pub struct SsoProvision {
    pub user: NewUser,
    pub roles: Vec<String>,
    pub max_members: Option<u32>,
}
