//! Single sign-on: an organization's identity providers (OpenID Connect,
//! GitHub's OAuth2, SAML 2.0). Secrets are write-only: a response says
//! whether one is set, never what it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The protocol spoken with the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdpKind {
    /// OpenID Connect (discovery from the issuer).
    Oidc,
    /// GitHub: OAuth2 and its user API (GitHub is not an OpenID provider).
    Github,
    /// SAML 2.0 (IdP metadata by URL or XML).
    Saml,
}

impl IdpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdpKind::Oidc => "oidc",
            IdpKind::Github => "github",
            IdpKind::Saml => "saml",
        }
    }
}

/// Well-known providers: they fill in the issuer (and kind) for you.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdpPreset {
    /// `https://accounts.google.com`.
    Google,
    /// Microsoft Entra ID: `https://login.microsoftonline.com/{tenant}/v2.0`
    /// (`tenant` is required).
    Microsoft,
    /// `https://github.com` with its user API.
    Github,
}

/// One claim (OIDC) or attribute (SAML) value that grants a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    /// Claim or attribute name, e.g. `groups`.
    pub claim: String,
    /// The value it must have (or contain, for a list).
    pub value: String,
    /// A predefined or custom role of the organization.
    pub role: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityProviderRequest {
    /// Unique in the organization, shown on the sign-in button.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// Required unless a preset implies it.
    #[serde(default)]
    pub kind: Option<IdpKind>,
    #[serde(default)]
    pub preset: Option<IdpPreset>,
    /// OIDC issuer (https; http only on this machine, for testing).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Microsoft Entra ID tenant (id or domain), with the `microsoft` preset.
    #[serde(default)]
    pub tenant: Option<String>,
    /// OIDC / GitHub client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// OIDC / GitHub client secret: sealed at rest, never returned.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// OIDC scopes; default `openid email profile`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// SAML: where the IdP publishes its metadata (https).
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// SAML: the IdP metadata itself; it must carry a signing certificate.
    #[serde(default)]
    pub metadata_xml: Option<String>,
    /// SAML: our entity id at this IdP (default: the SP metadata URL).
    #[serde(default)]
    pub entity_id: Option<String>,
    /// Only these email domains may sign in (empty: any, when JIT is off).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    #[serde(default)]
    pub role_mapping: Vec<RoleMapping>,
    /// Just-in-time provisioning: a first sign-in from an allowed domain
    /// creates the account and membership with `default_role`.
    #[serde(default)]
    pub jit_provisioning: bool,
    #[serde(default)]
    pub default_role: Option<String>,
}

impl std::fmt::Debug for CreateIdentityProviderRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateIdentityProviderRequest")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("preset", &self.preset)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// The non-secret configuration of an identity provider (what is stored in
/// clear, and what responses show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdpSettings {
    pub kind: IdpKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub preset: Option<IdpPreset>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub metadata_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub metadata_xml: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub entity_id: Option<String>,
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    #[serde(default)]
    pub role_mapping: Vec<RoleMapping>,
    #[serde(default)]
    pub jit_provisioning: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default_role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityProviderInfo {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub settings: IdpSettings,
    /// Whether a client secret is stored (it is never shown).
    pub has_client_secret: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityProviderListResponse {
    pub identity_providers: Vec<IdentityProviderInfo>,
}

/// An identity provider as the sign-in screen shows it (no configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoProviderSummary {
    pub id: Uuid,
    pub name: String,
    pub kind: IdpKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoProviderListResponse {
    pub providers: Vec<SsoProviderSummary>,
}

/// Starts a single sign-on. The app keeps `code_verifier` (RFC 7636) and
/// listens at `return_to`; the daemon sends the browser there with a
/// one-time `code` (or an `error`) and the app's `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoStartRequest {
    /// The organization: its id or its slug.
    pub org: String,
    /// Which of its identity providers (optional when it has one).
    #[serde(default)]
    pub provider: Option<Uuid>,
    /// `token` (an app: access and refresh token) or `cookie` (a browser).
    #[serde(default = "default_kind")]
    pub kind: super::SessionKind,
    /// Where the browser goes back to: a loopback address of this machine
    /// (`http://127.0.0.1:<port>/…` or `http://[::1]:<port>/…`, RFC 8252),
    /// or a URL listed in the daemon's `sso_return_urls`.
    pub return_to: String,
    /// `BASE64URL(SHA-256(code_verifier))`, 43 characters.
    pub code_challenge: String,
    /// Opaque to the daemon, handed back with the code (at most 200 characters).
    #[serde(default)]
    pub state: Option<String>,
}

fn default_kind() -> super::SessionKind {
    super::SessionKind::Token
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoStartResponse {
    /// Open this in the user's browser.
    pub authorization_url: String,
    pub provider: Uuid,
    /// Seconds the sign-in may take.
    pub expires_in: u64,
}

/// Redeems the one-time code the browser brought back.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoExchangeRequest {
    pub code: String,
    pub code_verifier: String,
}

impl std::fmt::Debug for SsoExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SsoExchangeRequest { .. }")
    }
}
