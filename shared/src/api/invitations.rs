//! Invitations: how an account joins an organization — with its consent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
    /// Pending past its expiry: it can no longer be accepted.
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The organization's name, so the invitee knows what they join.
    pub org_name: String,
    pub email: String,
    /// The roles the member gets on acceptance.
    pub roles: Vec<String>,
    pub invited_by: Uuid,
    pub status: InvitationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub decided_at: Option<DateTime<Utc>>,
}

/// `POST /orgs/{org_id}/invitations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[cfg_attr(feature = "openapi", schema(format = "email", max_length = 254))]
    pub email: String,
    /// 1 to 16 roles (predefined or custom), none stronger than the inviter's.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 16))]
    pub roles: Vec<String>,
    /// Default 7 days; 1 hour to 30 days.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 3600, maximum = 2592000))]
    pub expires_in_secs: Option<u64>,
}

/// The invitation, and (once) the token that lets someone without an
/// account accept it by creating one. Deliver it to the invitee only.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationCreated {
    pub invitation: Invitation,
    pub accept_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationListResponse {
    pub invitations: Vec<Invitation>,
}

/// `POST /invitations/{id}/accept`. Signed in as the invitee: no body (or
/// `{}`). Without an account for the invitation's email: the token from the
/// invitation and a password for the new account.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

// Secrets never reach `Debug` output (logs).
impl std::fmt::Debug for InvitationCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitationCreated")
            .field("invitation", &self.invitation)
            .field("accept_token", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for AcceptInvitationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptInvitationRequest")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("display_name", &self.display_name)
            .finish()
    }
}
