//! Request and response bodies of the lokid HTTP API (`/api/v1`).
//!
//! Request types reject unknown fields so that a typo in a client is an
//! error, not a silently ignored setting.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Tier;

/// The one error shape every failed request answers with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `slug_taken`.
    pub code: String,
    /// Human-readable explanation naming the problem.
    pub message: String,
    /// The request id, also sent as the `x-request-id` header.
    pub request_id: String,
}

/// Lifecycle state of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    /// How long audit events are kept.
    #[serde(default = "default_retention_days")]
    pub audit_retention_days: u32,
    /// Whether members holding the admin role must use MFA.
    #[serde(default)]
    pub require_mfa_for_admins: bool,
}

fn default_retention_days() -> u32 {
    365
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            audit_retention_days: default_retention_days(),
            require_mfa_for_admins: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub tier: Tier,
    pub status: OrgStatus,
    pub settings: OrgSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// An organization as seen by one of its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyOrganization {
    #[serde(flatten)]
    pub organization: Organization,
    /// The role the caller holds in it.
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    pub name: String,
    /// Derived from the name when absent.
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub settings: Option<OrgSettings>,
}

/// Super-admin only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeTierRequest {
    pub tier: Tier,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgListResponse {
    pub organizations: Vec<MyOrganization>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display_name: Option<String>,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberListResponse {
    pub members: Vec<Member>,
}

/// Add an existing user to the organization, by email or by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display_name: Option<String>,
    pub is_super_admin: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Organization id or slug to scope the token to.
    #[serde(default)]
    pub org: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchOrgRequest {
    /// Organization id or slug.
    pub org: String,
}

/// A freshly issued access token.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: User,
    /// The organization the token is scoped to, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub org: Option<Organization>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .field("org", &self.org)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeResponse {
    pub user: User,
    /// The organization the presented token is scoped to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub org: Option<Uuid>,
    pub session_id: Uuid,
    pub organizations: Vec<MyOrganization>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthResponse {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kv: Option<String>,
}

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
            user: User {
                id: Uuid::nil(),
                email: "a@b.c".into(),
                display_name: None,
                is_super_admin: false,
                created_at: Utc::now(),
            },
            org: None,
        };
        assert!(!format!("{t:?}").contains("secret.jwt.value"));
    }

    #[test]
    fn settings_default_when_absent() {
        let s: OrgSettings = serde_json::from_str("{}").unwrap_or_default();
        assert_eq!(s.audit_retention_days, 365);
    }
}
