//! A single sign-on from start to session, in three steps:
//!
//! 1. `start`: the app (or web page) asks for the provider's authorization
//!    URL, giving where the browser should come back to (`return_to`) and a
//!    PKCE challenge of its own. State, nonce and our PKCE verifier wait in
//!    the kv store for ten minutes.
//! 2. `callback`: the provider sends the browser to us; we redeem its code,
//!    verify the ID token, find (or provision) the account, and send the
//!    browser on to `return_to` with a one-time code of ours (or an error).
//! 3. `exchange`: the app proves it started the sign-in (its PKCE verifier)
//!    and gets the same session and tokens a password sign-in gives.
//!
//! Every refusal is an `auth.sso_failed` event on the organization's chain.

use std::sync::Arc;
use std::time::Duration;

use loki_shared::api::{
    IdpKind, IdpSettings, SessionKind, SsoProviderSummary, SsoStartRequest, SsoStartResponse,
};
use loki_shared::audit::actions::Action;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::oidc;
use super::IdentityProviders;
use super::{github, saml};
use crate::audit::{Auditor, Event, Outcome};
use crate::auth::secrets::{ct_eq, random_token, sha256_hex};
use crate::auth::service::{Identity, Started};
use crate::auth::sessions::SsoOrigin;
use crate::config::Config;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::store::{DynStore, IdpRecord};

/// How long a started sign-in may take at the provider.
const STATE_TTL: Duration = Duration::from_secs(600);
/// How long the one-time code waits for the app.
pub(super) const CODE_TTL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct SignOn {
    pub(crate) idps: IdentityProviders,
    pub(crate) identity: Identity,
    pub(crate) store: DynStore,
    pub(crate) kv: DynKv,
    pub(crate) config: Arc<Config>,
    pub(crate) auditor: Auditor,
    pub(crate) http: oidc::ProviderHttp,
}

/// A started sign-in, kept until the provider sends the browser back.
#[derive(Serialize, Deserialize)]
pub(super) struct Pending {
    pub(super) org_id: Uuid,
    pub(super) idp_id: Uuid,
    /// OpenID Connect: the nonce and our PKCE verifier.
    #[serde(default)]
    pub(super) nonce: String,
    #[serde(default)]
    pub(super) pkce_verifier: String,
    /// SAML: the AuthnRequest's id the response must answer.
    #[serde(default)]
    pub(super) saml_request_id: Option<String>,
    pub(super) return_to: String,
    pub(super) client_state: Option<String>,
    pub(super) code_challenge: String,
    pub(super) kind: SessionKind,
}

/// A sign-in the provider vouched for, until the app redeems it.
#[derive(Serialize, Deserialize)]
pub(super) struct Grant {
    pub(super) user_id: Uuid,
    pub(super) org_id: Uuid,
    pub(super) idp_id: Uuid,
    pub(super) mfa: bool,
    pub(super) kind: SessionKind,
    pub(super) code_challenge: String,
}

/// The provider's answer at the callback.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A refused sign-in: audited with `reason`, shown with `message`.
pub(super) struct Refused {
    pub(super) reason: &'static str,
    pub(super) message: String,
    pub(super) detail: Option<String>,
    pub(super) user: Option<Uuid>,
}

pub(super) fn refused(reason: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        reason,
        message: message.into(),
        detail: None,
        user: None,
    }
}

pub(super) fn state_key(state: &str) -> String {
    format!("sso_state:{}", sha256_hex(state.as_bytes()))
}
pub(super) fn code_key(code: &str) -> String {
    format!("sso_code:{}", sha256_hex(code.as_bytes()))
}

fn not_configured() -> AppError {
    AppError::NotFound {
        what: "single sign-on for this organization",
    }
}

/// A loopback redirect (RFC 8252 §7.3: an IP literal, any port) or a URL
/// the operator listed.
fn checked_return_to(config: &Config, s: &str) -> Result<String, AppError> {
    if config.sso_return_urls.iter().any(|u| u == s) {
        return Ok(s.to_owned());
    }
    let bad = || {
        AppError::validation(
            "return_to",
            "must be http://127.0.0.1:<port>/… or http://[::1]:<port>/… (or listed in sso_return_urls)",
        )
    };
    let url = url::Url::parse(s).map_err(|_| bad())?;
    let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    if url.scheme() != "http"
        || !loopback
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
        || s.len() > 500
    {
        return Err(bad());
    }
    Ok(url.to_string())
}

/// `BASE64URL(SHA-256(verifier))`, as RFC 7636 S256 computes it.
fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

pub(super) fn settings(r: &IdpRecord) -> Result<IdpSettings, AppError> {
    serde_json::from_str(&r.settings).map_err(|e| AppError::Internal(e.into()))
}

/// `return_to` with the query parameters added.
fn redirect_to(return_to: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut url = match url::Url::parse(return_to) {
        Ok(u) => u,
        Err(_) => return return_to.to_owned(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    url.to_string()
}

impl SignOn {
    pub(super) fn callback_url(&self) -> String {
        let base = self
            .config
            .public_url
            .as_deref()
            .unwrap_or("http://127.0.0.1:8080");
        format!("{}/api/v1/auth/sso/callback", base.trim_end_matches('/'))
    }

    /// Where IdPs post SAML responses (HTTP-POST binding).
    pub fn acs_url(&self) -> String {
        self.callback_url().replace("/callback", "/saml/acs")
    }

    /// Our SAML service provider metadata (the default entity id).
    pub fn sp_metadata(&self) -> Result<String, String> {
        let entity_id = self.callback_url().replace("/callback", "/saml/metadata");
        saml::sp_metadata(&entity_id, &self.acs_url())
    }

    /// Our SAML entity id: the provider's `entity_id`, else our metadata URL.
    pub(super) fn sp_entity_id(&self, s: &IdpSettings) -> String {
        s.entity_id
            .clone()
            .unwrap_or_else(|| self.callback_url().replace("/callback", "/saml/metadata"))
    }

    /// The IdP's metadata: as configured, or fetched (no redirects).
    pub(super) async fn saml_metadata(&self, s: &IdpSettings) -> Result<String, oidc::Refusal> {
        match (&s.metadata_xml, &s.metadata_url) {
            (Some(xml), _) => Ok(xml.clone()),
            (None, Some(url)) => self.http.get_text(url).await,
            (None, None) => Err(oidc::Refusal {
                reason: "provider_invalid",
                detail: "no IdP metadata configured".into(),
            }),
        }
    }

    /// A provider that cannot start a sign-in: audited, then 502.
    async fn unavailable(
        &self,
        org: Uuid,
        idp: Uuid,
        e: oidc::Refusal,
        client: &ClientInfo,
    ) -> AppError {
        let r = Refused {
            reason: e.reason,
            message: String::new(),
            detail: Some(e.detail.clone()),
            user: None,
        };
        if let Err(audit) = self.audit_failure(org, idp, &r, client).await {
            return audit;
        }
        AppError::BadGateway {
            code: "identity_provider_unavailable",
            // The detail is the organization's (its audit trail has it), not
            // an anonymous caller's.
            message: "the identity provider could not be reached or is misconfigured; the organization's audit trail has the details".into(),
        }
    }

    /// An organization's providers, for a sign-in screen. An unknown
    /// organization and one without providers answer alike (empty).
    pub async fn providers(&self, reference: &str) -> Result<Vec<SsoProviderSummary>, AppError> {
        let org = match self.org_ref(reference).await {
            Ok(org) => org,
            Err(AppError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let live = self
            .store
            .org_by_id(org)
            .await?
            .is_some_and(|o| o.deleted_at.is_none());
        if !live {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .idps(org)
            .await?
            .iter()
            .filter_map(|r| settings(r).ok().map(|s| (r, s)))
            .map(|(r, s)| SsoProviderSummary {
                id: r.id,
                name: r.name.clone(),
                kind: s.kind,
            })
            .collect())
    }

    /// An organization named by id or slug; unknown ones answer like one
    /// without single sign-on.
    async fn org_ref(&self, reference: &str) -> Result<Uuid, AppError> {
        let reference = reference.trim();
        if let Ok(id) = Uuid::parse_str(reference) {
            return Ok(id);
        }
        if reference.is_empty() || reference.len() > 100 {
            return Err(not_configured());
        }
        self.store
            .org_id_by_slug(&reference.to_lowercase())
            .await?
            .ok_or_else(not_configured)
    }

    async fn provider(&self, org: Uuid, id: Option<Uuid>) -> Result<IdpRecord, AppError> {
        let live = self
            .store
            .org_by_id(org)
            .await?
            .is_some_and(|o| o.deleted_at.is_none());
        if !live {
            return Err(not_configured());
        }
        let mut all = self.store.idps(org).await?;
        match id {
            Some(id) => all.into_iter().find(|r| r.id == id).ok_or(not_configured()),
            None if all.len() == 1 => Ok(all.remove(0)),
            None if all.is_empty() => Err(not_configured()),
            None => Err(AppError::validation(
                "provider",
                "this organization has several identity providers: name one (GET /api/v1/auth/sso/providers)",
            )),
        }
    }

    pub(super) async fn audit_failure(
        &self,
        org: Uuid,
        idp: Uuid,
        r: &Refused,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let mut meta = serde_json::json!({"identity_provider": idp, "reason": r.reason});
        if let Some(d) = &r.detail {
            meta["detail"] = serde_json::Value::String(d.chars().take(300).collect());
        }
        self.auditor
            .record(
                Event::new(Action::AuthSsoFailed, Outcome::Failure)
                    .org(Some(org))
                    .actor(r.user, None)
                    .client(client)
                    .meta(meta),
            )
            .await
    }

    pub async fn start(
        &self,
        req: SsoStartRequest,
        client: &ClientInfo,
    ) -> Result<SsoStartResponse, AppError> {
        // Each start costs a round trip to the provider: counted with the
        // address's sign-in attempts.
        self.identity.throttle.check_ip(client.ip).await?;
        let return_to = checked_return_to(&self.config, &req.return_to)?;
        let challenge_ok = req.code_challenge.len() == 43
            && req
                .code_challenge
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !challenge_ok {
            return Err(AppError::validation(
                "code_challenge",
                "must be BASE64URL(SHA-256(code_verifier)): 43 characters",
            ));
        }
        if let Some(st) = &req.state {
            if st.is_empty() || st.len() > 200 || st.chars().any(char::is_control) {
                return Err(AppError::validation(
                    "state",
                    "1 to 200 printable characters",
                ));
            }
        }
        let org = self.org_ref(&req.org).await?;
        let record = self.provider(org, req.provider).await?;
        let s = settings(&record)?;
        let (url, state, nonce, pkce_verifier, saml_request_id) = match s.kind {
            IdpKind::Oidc => {
                let secret = self.idps.client_secret(org, record.id).await?;
                let redirect_uri = self.callback_url();
                let rp = oidc::Relying {
                    issuer: s.issuer.as_deref().unwrap_or_default(),
                    client_id: s.client_id.as_deref().unwrap_or_default(),
                    client_secret: secret,
                    redirect_uri: &redirect_uri,
                    scopes: &s.scopes,
                };
                match oidc::authorize(&self.http, &rp).await {
                    Ok(a) => (a.url, a.state, a.nonce, a.pkce_verifier, None),
                    Err(e) => return Err(self.unavailable(org, record.id, e, client).await),
                }
            }
            IdpKind::Saml => {
                let state = random_token(32);
                let started = match self.saml_metadata(&s).await {
                    Ok(metadata) => {
                        let (entity_id, acs_url) = (self.sp_entity_id(&s), self.acs_url());
                        let sp = saml::Sp {
                            entity_id: &entity_id,
                            acs_url: &acs_url,
                            idp_metadata: &metadata,
                        };
                        saml::authorize(&sp, &state, format!("_{}", random_token(20)))
                    }
                    Err(e) => Err(e),
                };
                match started {
                    Ok((url, id)) => (url, state, String::new(), String::new(), Some(id)),
                    Err(e) => return Err(self.unavailable(org, record.id, e, client).await),
                }
            }
            IdpKind::Github => {
                let (state, verifier) = (random_token(32), random_token(48));
                let redirect_uri = self.callback_url();
                let app = github::GitHubApp {
                    base: s.issuer.as_deref().unwrap_or(github::GITHUB_COM),
                    client_id: s.client_id.as_deref().unwrap_or_default(),
                    client_secret: None,
                    redirect_uri: &redirect_uri,
                    scopes: &s.scopes,
                };
                match github::authorize(&app, &state, &s256(&verifier)) {
                    Ok(url) => (url, state, String::new(), verifier, None),
                    Err(e) => return Err(self.unavailable(org, record.id, e, client).await),
                }
            }
        };
        let pending = Pending {
            org_id: org,
            idp_id: record.id,
            nonce,
            pkce_verifier,
            saml_request_id,
            return_to,
            client_state: req.state,
            code_challenge: req.code_challenge,
            kind: req.kind,
        };
        let bytes = serde_json::to_vec(&pending).map_err(|e| AppError::Internal(e.into()))?;
        self.kv
            .set(&state_key(&state), &bytes, Some(STATE_TTL))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        Ok(SsoStartResponse {
            authorization_url: url,
            provider: record.id,
            expires_in: STATE_TTL.as_secs(),
        })
    }

    /// Takes a kv entry once: of two racing readers, one gets it.
    pub(super) async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        let kv_err = |e: crate::kv::KvError| AppError::Unavailable(e.to_string());
        let Some(bytes) = self.kv.get(key).await.map_err(kv_err)? else {
            return Ok(None);
        };
        Ok(self.kv.delete(key).await.map_err(kv_err)?.then_some(bytes))
    }

    /// The sign-in a provider's answer names by its state (taken: once).
    pub(super) async fn take_pending(&self, state: Option<&str>) -> Result<Pending, AppError> {
        let invalid = || {
            AppError::bad_request(
                "sso_state_invalid",
                "this sign-in is unknown, used or expired: start it again from the app",
            )
        };
        let state = state
            .filter(|s| !s.is_empty() && s.len() <= 500)
            .ok_or_else(invalid)?;
        let bytes = self.take(&state_key(state)).await?.ok_or_else(invalid)?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }

    /// The provider's redirect back: where the browser goes next.
    pub async fn callback(
        &self,
        q: CallbackQuery,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        let pending = self.take_pending(q.state.as_deref()).await?;
        let outcome = self.complete(&pending, &q, client).await?;
        self.conclude(&pending, outcome, client).await
    }

    /// Where the browser goes after the provider's answer: on to the app
    /// with a code, or with the error (audited).
    pub(super) async fn conclude(
        &self,
        pending: &Pending,
        outcome: Result<String, Refused>,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        let client_state = pending.client_state.as_deref();
        Ok(match outcome {
            Ok(code) => redirect_to(
                &pending.return_to,
                &[("code", Some(&code)), ("state", client_state)],
            ),
            Err(r) => {
                self.audit_failure(pending.org_id, pending.idp_id, &r, client)
                    .await?;
                redirect_to(
                    &pending.return_to,
                    &[
                        ("error", Some("access_denied")),
                        ("error_description", Some(&r.message)),
                        ("state", client_state),
                    ],
                )
            }
        })
    }

    /// Redeems the one-time code for a session: only the app that started
    /// the sign-in can (it holds the PKCE verifier).
    pub async fn exchange(
        &self,
        code: &str,
        verifier: &str,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        let invalid = || {
            AppError::bad_request(
                "sso_code_invalid",
                "the sign-in code is unknown, used, expired or not yours: sign in again",
            )
        };
        if code.len() > 200 || verifier.len() < 43 || verifier.len() > 128 {
            return Err(invalid());
        }
        let bytes = self.take(&code_key(code)).await?.ok_or_else(invalid)?;
        let grant: Grant = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if !ct_eq(&s256(verifier), &grant.code_challenge) {
            let mut r = refused("pkce_mismatch", "");
            r.user = Some(grant.user_id);
            self.audit_failure(grant.org_id, grant.idp_id, &r, client)
                .await?;
            return Err(invalid());
        }
        let user = self
            .store
            .user_by_id(grant.user_id)
            .await?
            .ok_or_else(invalid)?;
        let origin = SsoOrigin {
            org_id: grant.org_id,
            idp_id: grant.idp_id,
            mfa: grant.mfa,
        };
        self.identity
            .start_sso(user, grant.kind, origin, client)
            .await
    }
}
