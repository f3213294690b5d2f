//! Authentication: passwords, signing keys, access and refresh tokens,
//! sessions, API keys, MFA, sign-in throttling — and turning a presented
//! credential into a `Principal` (the HTTP extractor is `http/principal.rs`).

pub mod account;
pub mod api_keys;
pub mod keys;
pub mod mfa;
pub mod password;
pub mod renewal;
pub mod secrets;
pub mod service;
pub mod sessions;
pub mod throttle;
pub mod tokens;

use loki_shared::api::{SessionKind, User};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use crate::audit::Auditor;
use crate::audit::{Event, Outcome};
use crate::auth::tokens::TokenIssuer;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::kv::versions::{self, VersionedCache};
use crate::kv::DynKv;
use crate::store::DynStore;
use sessions::Session;
use std::sync::Arc;

/// Resolves the caller behind an access token or session cookie.
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) store: DynStore,
    pub(crate) kv: DynKv,
    pub(crate) tokens: Arc<TokenIssuer>,
    pub(crate) auditor: Auditor,
    /// Account rows by user counter (`kv::versions::user`).
    pub(crate) users: Arc<VersionedCache<Uuid, Option<User>>>,
}

/// Account rows kept at most.
pub const USERS_MAX: usize = 100_000;

/// Name of the browser session cookie.
pub const SESSION_COOKIE: &str = "loki_session";
/// Header carrying the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An access token or a session cookie; the live server-side session.
    Session(Session),
    /// An API key with its scopes.
    ApiKey {
        id: Uuid,
        key_id: String,
        scopes: Vec<String>,
        /// The key itself demands signed requests.
        require_signature: bool,
    },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The organization the credential is scoped to.
    pub org: Option<Uuid>,
    pub credential: Credential,
    pub client: ClientInfo,
    /// That organization's change counter, read with the session (so the
    /// request decides on one consistent version without reading it again).
    pub org_version: Option<i64>,
}

impl Principal {
    /// Super-admin power comes with a signed-in session only: an API key a
    /// super admin created is bound to its organization like any other.
    /// A session an organization's identity provider started carries no
    /// super-admin power either: that provider speaks for its organization
    /// only.
    pub fn is_super_admin(&self) -> bool {
        self.user.is_super_admin && self.session().is_some_and(|s| s.sso.is_none())
    }

    pub fn session(&self) -> Option<&Session> {
        match &self.credential {
            Credential::Session(s) => Some(s),
            Credential::ApiKey { .. } => None,
        }
    }

    pub fn session_id(&self) -> Option<Uuid> {
        self.session().map(|s| s.id)
    }

    pub fn api_key_id(&self) -> Option<Uuid> {
        match &self.credential {
            Credential::ApiKey { id, .. } => Some(*id),
            Credential::Session(_) => None,
        }
    }

    /// Actions on one's own account need a signed-in session, not an API key.
    pub fn require_session(&self) -> Result<&Session, AppError> {
        self.session().ok_or_else(|| {
            AppError::forbidden(
                "session_required",
                "this action needs a signed-in user, not an API key",
            )
        })
    }

    /// Account-wide actions (other organizations, invitations, MFA, the
    /// account's sessions and password) need a sign-in of the account's
    /// own: a session an organization's identity provider started speaks
    /// for that organization only.
    pub fn require_own_account(&self) -> Result<&Session, AppError> {
        let session = self.require_session()?;
        if session.sso.is_some() {
            return Err(AppError::forbidden(
                "sso_session_pinned",
                "this session was started by an organization's identity provider and acts in that organization only; sign in with your own credentials for account-wide actions",
            ));
        }
        Ok(session)
    }

    /// The organization a provider-started session is pinned to, if any.
    pub fn pinned_org(&self) -> Option<Uuid> {
        self.session().and_then(|s| s.sso).map(|o| o.org_id)
    }

    /// An audit event with this caller as the actor.
    pub fn event(&self, action: Action, outcome: Outcome) -> Event {
        let mut e = Event::new(action, outcome)
            .org(self.org)
            .actor(Some(self.user.id), self.session_id())
            .client(&self.client);
        if let Some(k) = self.api_key_id() {
            e = e.api_key(k);
        }
        e
    }
}

fn revoked() -> AppError {
    AppError::unauthorized("session_revoked", "the session has ended; sign in again")
}

impl Authenticator {
    /// The account as of its counter `version` (read fresh after any change,
    /// so removals and super-admin changes apply on the next request).
    pub(crate) async fn user_at(&self, id: Uuid, version: i64) -> Result<User, AppError> {
        let row = match self.users.get(&id, version) {
            Some(row) => row,
            None => {
                let row = self.store.user_by_id(id).await?;
                self.users.put(id, version, row.clone());
                row
            }
        };
        row.ok_or_else(|| {
            AppError::unauthorized("invalid_token", "the credential's user no longer exists")
        })
    }

    async fn user(&self, id: Uuid) -> Result<User, AppError> {
        let version = versions::read(self.kv.as_ref(), &versions::user(id))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        self.user_at(id, version).await
    }

    /// The caller behind an access token: the session, the user's and the
    /// organization's counters in one kv round trip; the rest from caches.
    pub async fn from_access_token(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<Principal, AppError> {
        let claims = self.tokens.verify(token).await?;
        let mut keys = vec![sessions::key(claims.sid), versions::user(claims.sub)];
        if let Some(org) = claims.org {
            keys.push(versions::org(org));
        }
        let values = self
            .kv
            .get_many(&keys)
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        let value = |i: usize| values.get(i).and_then(|v| v.as_deref());
        let session = sessions::decode(value(0))
            .filter(|s| s.user_id == claims.sub)
            .ok_or_else(revoked)?;
        if session.kind != SessionKind::Token {
            return Err(revoked());
        }
        // After `switch-org` the session belongs to the new organization: tokens
        // issued for the earlier one stop working (the session stays listed,
        // and revocable, where it now is).
        if claims.org != session.org_id {
            return Err(AppError::unauthorized(
                "token_superseded",
                "the session switched organization; use the token switch-org returned",
            ));
        }
        let user = self.user_at(claims.sub, versions::parse(value(1))).await?;
        sessions::touch(self.kv.as_ref(), session.clone(), client).await?;
        Ok(Principal {
            user,
            org: claims.org,
            credential: Credential::Session(session),
            client: client.clone(),
            org_version: claims.org.map(|_| versions::parse(value(2))),
        })
    }

    /// The caller behind a session cookie; state-changing requests must carry
    /// the session's CSRF token.
    pub async fn from_cookie(
        &self,
        req: CookieRequest<'_>,
        client: &ClientInfo,
    ) -> Result<Principal, AppError> {
        let value = req.value;
        let invalid = || {
            AppError::unauthorized(
                "invalid_session_cookie",
                "the session cookie is invalid or expired",
            )
        };
        let (id, secret) = value.split_once('.').ok_or_else(invalid)?;
        let id: Uuid = id.parse().map_err(|_| invalid())?;
        let session = sessions::get(self.kv.as_ref(), id)
            .await?
            .filter(|s| s.kind == SessionKind::Cookie && s.cookie_matches(secret))
            .ok_or_else(invalid)?;
        // State-changing requests must prove they come from our page.
        if !req.safe_method {
            let failure = match req.csrf_token {
                None => Some((
                    "csrf_token_missing",
                    "state-changing requests with a session cookie need the X-CSRF-Token header",
                )),
                Some(t) if !session.csrf_matches(t) => Some((
                    "csrf_token_invalid",
                    "the X-CSRF-Token header does not match the session",
                )),
                Some(_) => None,
            };
            if let Some((code, message)) = failure {
                self.auditor.record(Event::new(Action::AuthCsrfFailed, Outcome::Denied)
                    .org(session.org_id)
                    .actor(Some(session.user_id), Some(session.id))
                    .client(client)
                    .meta(
                        serde_json::json!({"reason": code, "method": req.method, "path": req.path}),
                    ),
            )
            .await?;
                return Err(AppError::forbidden(code, message));
            }
        }
        let user = self.user(session.user_id).await?;
        sessions::touch(self.kv.as_ref(), session.clone(), client).await?;
        Ok(Principal {
            user,
            org: session.org_id,
            credential: Credential::Session(session),
            client: client.clone(),
            org_version: None,
        })
    }
}

/// A request made with the session cookie: what the CSRF check needs.
pub struct CookieRequest<'a> {
    /// The cookie's value.
    pub value: &'a str,
    pub method: &'a str,
    /// GET, HEAD, OPTIONS, TRACE: no CSRF token needed.
    pub safe_method: bool,
    pub path: &'a str,
    /// The `X-CSRF-Token` header, if sent.
    pub csrf_token: Option<&'a str>,
}
