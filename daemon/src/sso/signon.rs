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
    IdpKind, IdpSettings, SessionKind, SsoProviderSummary, SsoStartRequest, SsoStartResponse, User,
};
use loki_shared::audit::actions::Action;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::oidc::{self, Verified};
use super::IdentityProviders;
use crate::audit::{self, Auditor, Event, Outcome};
use crate::auth::secrets::{ct_eq, random_token, sha256_hex};
use crate::auth::service::{Identity, Started};
use crate::auth::sessions::SsoOrigin;
use crate::config::Config;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::store::{DynStore, IdpRecord, NewUser, SsoLink, SsoProvision};

/// How long a started sign-in may take at the provider.
const STATE_TTL: Duration = Duration::from_secs(600);
/// How long the one-time code waits for the app.
const CODE_TTL: Duration = Duration::from_secs(60);

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
struct Pending {
    org_id: Uuid,
    idp_id: Uuid,
    nonce: String,
    pkce_verifier: String,
    return_to: String,
    client_state: Option<String>,
    code_challenge: String,
    kind: SessionKind,
}

/// A sign-in the provider vouched for, until the app redeems it.
#[derive(Serialize, Deserialize)]
struct Grant {
    user_id: Uuid,
    org_id: Uuid,
    idp_id: Uuid,
    mfa: bool,
    kind: SessionKind,
    code_challenge: String,
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
struct Refused {
    reason: &'static str,
    message: String,
    detail: Option<String>,
    user: Option<Uuid>,
}

fn refused(reason: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        reason,
        message: message.into(),
        detail: None,
        user: None,
    }
}

fn state_key(state: &str) -> String {
    format!("sso_state:{}", sha256_hex(state.as_bytes()))
}
fn code_key(code: &str) -> String {
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

fn settings(r: &IdpRecord) -> Result<IdpSettings, AppError> {
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
    fn callback_url(&self) -> String {
        let base = self
            .config
            .public_url
            .as_deref()
            .unwrap_or("http://127.0.0.1:8080");
        format!("{}/api/v1/auth/sso/callback", base.trim_end_matches('/'))
    }

    /// An organization's providers, for a sign-in screen. An unknown
    /// organization and one without providers answer alike (empty).
    pub async fn providers(&self, org: Uuid) -> Result<Vec<SsoProviderSummary>, AppError> {
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

    async fn audit_failure(
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
        let record = self.provider(req.org, req.provider).await?;
        let s = settings(&record)?;
        if s.kind != IdpKind::Oidc {
            return Err(AppError::validation(
                "provider",
                format!(
                    "sign-in through a {} provider is not available yet; use an OpenID Connect provider",
                    s.kind.as_str()
                ),
            ));
        }
        let secret = self.idps.client_secret(req.org, record.id).await?;
        let redirect_uri = self.callback_url();
        let rp = oidc::Relying {
            issuer: s.issuer.as_deref().unwrap_or_default(),
            client_id: s.client_id.as_deref().unwrap_or_default(),
            client_secret: secret,
            redirect_uri: &redirect_uri,
            scopes: &s.scopes,
        };
        let auth = match oidc::authorize(&self.http, &rp).await {
            Ok(a) => a,
            Err(e) => {
                let r = Refused {
                    reason: e.reason,
                    message: String::new(),
                    detail: Some(e.detail.clone()),
                    user: None,
                };
                self.audit_failure(req.org, record.id, &r, client).await?;
                return Err(AppError::BadGateway {
                    code: "identity_provider_unavailable",
                    message: format!("the identity provider could not be reached: {}", e.detail),
                });
            }
        };
        let pending = Pending {
            org_id: req.org,
            idp_id: record.id,
            nonce: auth.nonce,
            pkce_verifier: auth.pkce_verifier,
            return_to,
            client_state: req.state,
            code_challenge: req.code_challenge,
            kind: req.kind,
        };
        let bytes = serde_json::to_vec(&pending).map_err(|e| AppError::Internal(e.into()))?;
        self.kv
            .set(&state_key(&auth.state), &bytes, Some(STATE_TTL))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        Ok(SsoStartResponse {
            authorization_url: auth.url,
            provider: record.id,
            expires_in: STATE_TTL.as_secs(),
        })
    }

    /// Takes a kv entry once: of two racing readers, one gets it.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        let kv_err = |e: crate::kv::KvError| AppError::Unavailable(e.to_string());
        let Some(bytes) = self.kv.get(key).await.map_err(kv_err)? else {
            return Ok(None);
        };
        Ok(self.kv.delete(key).await.map_err(kv_err)?.then_some(bytes))
    }

    /// The provider's redirect back: where the browser goes next.
    pub async fn callback(
        &self,
        q: CallbackQuery,
        client: &ClientInfo,
    ) -> Result<String, AppError> {
        let invalid = || {
            AppError::bad_request(
                "sso_state_invalid",
                "this sign-in is unknown, used or expired: start it again from the app",
            )
        };
        let state = q
            .state
            .as_deref()
            .filter(|s| !s.is_empty() && s.len() <= 500)
            .ok_or_else(invalid)?;
        let bytes = self.take(&state_key(state)).await?.ok_or_else(invalid)?;
        let pending: Pending = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let outcome = self.complete(&pending, &q, client).await?;
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

    /// Verifies the provider's answer and finds the account; the one-time
    /// code for the app, or why not.
    async fn complete(
        &self,
        p: &Pending,
        q: &CallbackQuery,
        client: &ClientInfo,
    ) -> Result<Result<String, Refused>, AppError> {
        if let Some(err) = &q.error {
            let mut r = refused(
                "provider_error",
                "the identity provider did not sign you in",
            );
            r.detail = Some(format!(
                "{err}: {}",
                q.error_description.as_deref().unwrap_or("")
            ));
            return Ok(Err(r));
        }
        let Some(code) = q
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 2000)
        else {
            return Ok(Err(refused(
                "no_code",
                "the identity provider sent no code",
            )));
        };
        let Some(record) = self
            .store
            .idps(p.org_id)
            .await?
            .into_iter()
            .find(|r| r.id == p.idp_id)
        else {
            return Ok(Err(refused(
                "provider_removed",
                "the identity provider was removed meanwhile",
            )));
        };
        let s = settings(&record)?;
        let secret = self.idps.client_secret(p.org_id, record.id).await?;
        let redirect_uri = self.callback_url();
        let rp = oidc::Relying {
            issuer: s.issuer.as_deref().unwrap_or_default(),
            client_id: s.client_id.as_deref().unwrap_or_default(),
            client_secret: secret,
            redirect_uri: &redirect_uri,
            scopes: &s.scopes,
        };
        let verified = match oidc::redeem(&self.http, &rp, code, &p.pkce_verifier, &p.nonce).await {
            Ok(v) => v,
            Err(e) => {
                let mut r = refused(e.reason, "the identity provider's answer did not verify");
                r.detail = Some(e.detail);
                return Ok(Err(r));
            }
        };
        let user = match self.account(p, &record, &s, &verified, client).await? {
            Ok(u) => u,
            Err(r) => return Ok(Err(r)),
        };
        let code = format!("lsc_{}", random_token(32));
        let grant = Grant {
            user_id: user.id,
            org_id: p.org_id,
            idp_id: p.idp_id,
            mfa: verified.mfa,
            kind: p.kind,
            code_challenge: p.code_challenge.clone(),
        };
        let bytes = serde_json::to_vec(&grant).map_err(|e| AppError::Internal(e.into()))?;
        self.kv
            .set(&code_key(&code), &bytes, Some(CODE_TTL))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        Ok(Ok(code))
    }

    /// The account a verified identity signs in as: the one its subject is
    /// linked to; else a member of the organization with that verified
    /// email (linked now); else, with just-in-time provisioning, a new one.
    async fn account(
        &self,
        p: &Pending,
        record: &IdpRecord,
        s: &IdpSettings,
        v: &Verified,
        client: &ClientInfo,
    ) -> Result<Result<User, Refused>, AppError> {
        let org = p.org_id;
        if let Some(id) = self.store.sso_identity(org, record.id, &v.subject).await? {
            return Ok(match self.store.user_by_id(id).await? {
                Some(u) => Ok(u),
                None => Err(refused("no_account", "the linked account no longer exists")),
            });
        }
        let Some(email) = v.email.as_deref() else {
            return Ok(Err(refused(
                "no_email",
                "the identity provider gave no email address",
            )));
        };
        let Ok(email) = crate::validate::email("email", email) else {
            return Ok(Err(refused(
                "no_email",
                "the identity provider gave no valid email address",
            )));
        };
        // Linking by email is only as good as the provider's word on it.
        if !v.email_verified {
            let mut r = refused(
                "email_unverified",
                "your email address is not verified at the identity provider",
            );
            r.detail = Some(email);
            return Ok(Err(r));
        }
        let domain = email.rsplit('@').next().unwrap_or_default().to_owned();
        if !s.allowed_domains.is_empty() && !s.allowed_domains.contains(&domain) {
            let mut r = refused(
                "domain_not_allowed",
                format!("accounts of {domain} may not sign in here"),
            );
            r.detail = Some(email);
            return Ok(Err(r));
        }
        let link = |user_id| SsoLink {
            idp_id: record.id,
            subject: v.subject.clone(),
            user_id,
        };
        let linked = |user_id: Uuid| {
            Event::new(Action::SsoIdentityLinked, Outcome::Success)
                .org(Some(org))
                .actor(Some(user_id), None)
                .client(client)
                .resource("user", user_id)
                .meta(serde_json::json!({"identity_provider": record.id, "subject": v.subject, "email": email}))
        };
        if let Some(user) = self.store.user_by_email(&email).await? {
            if self.store.member(org, user.id).await?.is_none() {
                let mut r = refused(
                    "not_a_member",
                    "your account is not a member of this organization: ask one of its admins to invite you",
                );
                r.user = Some(user.id);
                return Ok(Err(r));
            }
            let mut batch = audit::batch(linked(user.id));
            self.store
                .link_sso_identity(org, link(user.id), None, &mut batch)
                .await?;
            self.auditor.committed(&batch).await?;
            return Ok(Ok(user));
        }
        if !s.jit_provisioning {
            let mut r = refused(
                "no_account",
                "there is no account for this email: ask an admin of the organization to invite you",
            );
            r.detail = Some(email);
            return Ok(Err(r));
        }
        let roles = provisioned_roles(s, &v.claims);
        let Some(org_row) = self.store.org_by_id(org).await? else {
            return Ok(Err(refused(
                "no_account",
                "the organization no longer exists",
            )));
        };
        let id = Uuid::now_v7();
        let new = NewUser {
            id,
            email: email.clone(),
            display_name: v.name.as_deref().map(|n| n.chars().take(100).collect()),
            password_hash: None,
        };
        // The account's event on the system chain, the membership's and the
        // link's on the organization's: one transaction.
        let mut batch = audit::batch(
            Event::new(Action::UserRegistered, Outcome::Success)
                .actor(Some(id), None)
                .resource("user", id)
                .client(client)
                .meta(serde_json::json!({"identity_provider": record.id, "managed_by_org": org, "password": false})),
        );
        batch = audit::and(
            batch,
            Event::new(Action::MemberAdded, Outcome::Success)
                .org(Some(org))
                .actor(Some(id), None)
                .client(client)
                .resource("member", id)
                .meta(serde_json::json!({"after": {"user_id": id, "email": email, "roles": roles}, "via": "sso_provisioning", "identity_provider": record.id})),
        );
        batch = audit::and(batch, linked(id));
        let provision = SsoProvision {
            user: new,
            roles,
            max_members: self.config.limits(org_row.tier).max_members,
        };
        match self
            .store
            .link_sso_identity(org, link(id), Some(provision), &mut batch)
            .await
        {
            Ok(()) => {}
            Err(crate::store::StoreError::LimitReached(m)) => {
                let mut r = refused(
                    "member_limit",
                    "the organization has no room for another member",
                );
                r.detail = Some(m);
                return Ok(Err(r));
            }
            Err(e) => return Err(e.into()),
        }
        self.auditor.committed(&batch).await?;
        Ok(match self.store.user_by_id(id).await? {
            Some(u) => Ok(u),
            None => Err(refused(
                "no_account",
                "the new account could not be read back",
            )),
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

/// The roles a provisioned account starts with: the default role and every
/// mapped role whose claim matches (a string equal to, or a list holding,
/// the value).
fn provisioned_roles(
    s: &IdpSettings,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    let mut roles: Vec<String> = s.default_role.iter().cloned().collect();
    for m in &s.role_mapping {
        let hit = match claims.get(&m.claim) {
            Some(serde_json::Value::String(v)) => v == &m.value,
            Some(serde_json::Value::Array(vs)) => {
                vs.iter().any(|v| v.as_str() == Some(m.value.as_str()))
            }
            _ => false,
        };
        if hit && !roles.contains(&m.role) {
            roles.push(m.role.clone());
        }
    }
    roles
}
