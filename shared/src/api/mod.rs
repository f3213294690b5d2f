//! Request and response bodies of the lokid HTTP API (`/api/v1`).
//!
//! Request types reject unknown fields so that a typo in a client is an
//! error, not a silently ignored setting.

use chrono::{DateTime, Utc};
pub use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Tier;

/// The one error shape every failed request answers with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `slug_taken`.
    pub code: String,
    /// Human-readable explanation naming the problem.
    pub message: String,
    /// The request id, also sent as the `x-request-id` header.
    pub request_id: String,
    /// For `permission_denied`: the permission that was missing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub permission: Option<String>,
}

/// Lifecycle state of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Trial,
    Active,
    Suspended,
    Deleted,
}

impl OrgStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Trial => "trial",
            OrgStatus::Active => "active",
            OrgStatus::Suspended => "suspended",
            OrgStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Trial, Self::Active, Self::Suspended, Self::Deleted]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Per-organization settings. Later features add fields with defaults, so
/// stored settings from older versions keep deserialising.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    /// How long audit events are kept.
    #[serde(default = "default_retention_days")]
    pub audit_retention_days: u32,
    /// Whether members holding the admin role must use MFA.
    #[serde(default)]
    pub require_mfa_for_admins: bool,
    /// When not empty, requests for this organization are accepted only from
    /// these networks (CIDR, IPv4 or IPv6).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["10.0.0.0/8", "2001:db8::/32"])))]
    pub ip_allow: Vec<IpNet>,
    /// Networks refused for this organization (wins over `ip_allow`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub ip_deny: Vec<IpNet>,
    /// Whether every API-key request for this organization must be signed.
    #[serde(default)]
    pub require_signed_requests: bool,
    /// Members sign in only through the organization's identity providers:
    /// password sign-ins (and password sessions already open) are refused,
    /// `sso_break_glass_user` excepted. API keys are not affected.
    #[serde(default)]
    pub require_sso: bool,
    /// The one admin who may still sign in with a password when SSO is
    /// required (for when the identity provider is down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_break_glass_user: Option<Uuid>,
}

fn default_retention_days() -> u32 {
    365
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            audit_retention_days: default_retention_days(),
            require_mfa_for_admins: false,
            ip_allow: Vec::new(),
            ip_deny: Vec::new(),
            require_signed_requests: false,
            require_sso: false,
            sso_break_glass_user: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Organization {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub tier: Tier,
    pub status: OrgStatus,
    pub settings: OrgSettings,
    /// Bytes of evidence stored (unique content), counted against the tier.
    #[serde(default)]
    pub storage_used_bytes: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// An organization as seen by one of its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyOrganization {
    #[serde(flatten)]
    pub organization: Organization,
    /// The roles the caller holds in it.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// Derived from the name when absent.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 3,
            max_length = 63,
            pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
        )
    )]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 3,
            max_length = 63,
            pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
        )
    )]
    pub slug: Option<String>,
    #[serde(default)]
    pub settings: Option<OrgSettings>,
}

/// Super-admin only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeTierRequest {
    pub tier: Tier,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgListResponse {
    pub organizations: Vec<MyOrganization>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberListResponse {
    pub members: Vec<Member>,
}

/// Invite someone to the organization, by email or (an existing account)
/// by id. Since membership needs consent this creates an invitation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// The member's first role (predefined or custom).
    pub role: String,
}

/// Replaces all of a member's roles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub roles: Vec<String>,
}

/// Assigns one more role to a member.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignRoleRequest {
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
    /// Held only by super admins; no organization role can include it.
    pub system: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PermissionListResponse {
    pub permissions: Vec<PermissionInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleInfo {
    pub name: String,
    pub description: String,
    /// True for admin, compliance_officer, auditor and viewer.
    pub predefined: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent: Option<String>,
    /// The role's own permissions.
    pub permissions: Vec<String>,
    /// Its own plus everything inherited from its parents.
    pub effective_permissions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleListResponse {
    pub roles: Vec<RoleInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 2, max_length = 64, pattern = r"^[a-z][a-z0-9_]*$")
    )]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub permissions: Vec<String>,
    /// A role (predefined or custom) whose permissions this one inherits.
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub parent: Option<String>,
    /// Remove the parent.
    #[serde(default)]
    pub clear_parent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GrantSubjectType {
    User,
    Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    /// Only `document` for now.
    pub resource_type: String,
    pub resource_id: Uuid,
    pub subject_type: GrantSubjectType,
    /// A user id or a role name.
    pub subject: String,
    pub permission: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantInfo {
    pub id: Uuid,
    pub resource_type: String,
    pub resource_id: Uuid,
    pub subject_type: GrantSubjectType,
    pub subject: String,
    pub permission: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantListResponse {
    pub grants: Vec<GrantInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentInfo {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: String,
    pub content_type: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the current version's content.
    pub sha256: String,
    pub version: u32,
    pub frameworks: Vec<String>,
    pub controls: Vec<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentListResponse {
    pub documents: Vec<DocumentInfo>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateDocumentRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub frameworks: Option<Vec<String>>,
    #[serde(default)]
    pub controls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentVersionInfo {
    pub version: u32,
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentVersionListResponse {
    pub versions: Vec<DocumentVersionInfo>,
}

mod auth;
mod invitations;
mod reports;
mod sso;

pub use auth::*;
pub use invitations::*;
pub use reports::*;
pub use sso::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<CreateOrgRequest>(r#"{"name":"a","nmae":"b"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field `nmae`"), "{err}");
    }

    #[test]
    fn token_debug_hides_the_token() {
        let t = TokenResponse {
            access_token: "secret.jwt.value".into(),
            token_type: "Bearer".into(),
            expires_in: 1,
            refresh_token: "lrt_secret".into(),
            refresh_expires_in: 1,
            session_id: Uuid::nil(),
            user: User {
                id: Uuid::nil(),
                email: "a@b.c".into(),
                display_name: None,
                is_super_admin: false,
                mfa_enabled: false,
                created_at: Utc::now(),
            },
            org: None,
        };
        assert!(!format!("{t:?}").contains("secret.jwt.value"));
        assert!(!format!("{t:?}").contains("lrt_secret"));
    }

    #[test]
    fn settings_default_when_absent() {
        let s: OrgSettings = serde_json::from_str("{}").unwrap_or_default();
        assert_eq!(s.audit_retention_days, 365);
    }
}
