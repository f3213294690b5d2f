//! What reports read from the daemon: audit event pages and the current-state snapshot.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiKeyInfo, Organization, RoleInfo};

/// A page of audit events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AuditEventList {
    pub events: Vec<crate::audit::AuditEvent>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<i64>,
}

/// A member as a report sees them: roles and sign-in strength.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotMember {
    pub user_id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub mfa_enabled: bool,
    pub is_super_admin: bool,
    pub joined_at: DateTime<Utc>,
}

/// The current state of an organization, for a report (`GET
/// /api/v1/orgs/{org_id}/reports/snapshot`): who has which access now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportSnapshot {
    /// The organization it describes (bound by the signature).
    pub org_id: Uuid,
    pub taken_at: DateTime<Utc>,
    pub organization: Organization,
    pub members: Vec<SnapshotMember>,
    pub roles: Vec<RoleInfo>,
    pub api_keys: Vec<ApiKeyInfo>,
    /// Sessions open in the organization when it was taken (a removed
    /// member's open session is a finding).
    #[serde(default)]
    pub sessions: Vec<super::SessionInfo>,
    /// The audit key's signature over the JCS of every other member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SnapshotSignature>,
}

/// Who signed a snapshot, and the signature (base64url Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotSignature {
    pub key_id: String,
    pub signature: String,
}

/// The audit public keys (`GET /api/v1/audit/keys`), oldest first: save this
/// to pin them (`lokid audit verify --trust FILE`). Each carries its
/// fingerprint; a successor carries its predecessor's signed introduction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditKeyList {
    pub keys: Vec<crate::audit::BundleKey>,
}
