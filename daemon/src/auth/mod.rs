//! Authentication: passwords, signing keys, access and refresh tokens,
//! sessions, API keys, MFA, sign-in throttling — and the `Principal`
//! extractor that turns a request's credential into a caller.

pub mod account;
pub mod api_keys;
pub mod keys;
pub mod mfa;
pub mod password;
pub mod secrets;
pub mod service;
pub mod sessions;
pub mod throttle;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use loki_shared::api::{SessionKind, User};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Event, Outcome};
use crate::error::AppError;
use crate::http::client::ClientInfo;
use sessions::Session;

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
}

impl Principal {
    /// Super-admin power comes with a signed-in session only: an API key a
    /// super admin created is bound to its organization like any other.
    pub fn is_super_admin(&self) -> bool {
        self.user.is_super_admin && self.session().is_some()
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

fn bearer(value: &str) -> Result<&str, AppError> {
    let bad =
        || AppError::unauthorized("invalid_token", "expected `Authorization: Bearer <token>`");
    let (scheme, token) = value.split_once(' ').ok_or_else(bad)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(bad());
    }
    Ok(token)
}

fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

fn revoked() -> AppError {
    AppError::unauthorized("session_revoked", "the session has ended; sign in again")
}

async fn live_session(state: &AppState, id: Uuid, user: Uuid) -> Result<Session, AppError> {
    sessions::get(state.kv.as_ref(), id)
        .await?
        .filter(|s| s.user_id == user)
        .ok_or_else(revoked)
}

async fn user(state: &AppState, id: Uuid) -> Result<User, AppError> {
    // Read fresh so removals and super-admin changes apply on the next request.
    state.store.user_by_id(id).await?.ok_or_else(|| {
        AppError::unauthorized("invalid_token", "the credential's user no longer exists")
    })
}

async fn from_access_token(
    state: &AppState,
    token: &str,
    client: &ClientInfo,
) -> Result<Principal, AppError> {
    let claims = state.tokens.verify(token).await?;
    let session = live_session(state, claims.sid, claims.sub).await?;
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
    let user = user(state, claims.sub).await?;
    sessions::touch(state.kv.as_ref(), session.clone(), client).await?;
    Ok(Principal {
        user,
        org: claims.org,
        credential: Credential::Session(session),
        client: client.clone(),
    })
}

async fn from_cookie(
    state: &AppState,
    value: &str,
    parts: &Parts,
    client: &ClientInfo,
) -> Result<Principal, AppError> {
    let invalid = || {
        AppError::unauthorized(
            "invalid_session_cookie",
            "the session cookie is invalid or expired",
        )
    };
    let (id, secret) = value.split_once('.').ok_or_else(invalid)?;
    let id: Uuid = id.parse().map_err(|_| invalid())?;
    let session = sessions::get(state.kv.as_ref(), id)
        .await?
        .filter(|s| s.kind == SessionKind::Cookie && s.cookie_matches(secret))
        .ok_or_else(invalid)?;
    // State-changing requests must prove they come from our page.
    if !parts.method.is_safe() {
        let token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let failure = match token {
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
            audit::record(
                state,
                Event::new(Action::AuthCsrfFailed, Outcome::Denied)
                    .org(session.org_id)
                    .actor(Some(session.user_id), Some(session.id))
                    .client(client)
                    .meta(serde_json::json!({"reason": code, "method": parts.method.as_str(), "path": parts.uri.path()})),
            )
            .await?;
            return Err(AppError::forbidden(code, message));
        }
    }
    let user = user(state, session.user_id).await?;
    sessions::touch(state.kv.as_ref(), session.clone(), client).await?;
    Ok(Principal {
        user,
        org: session.org_id,
        credential: Credential::Session(session),
        client: client.clone(),
    })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let client = ClientInfo::from_request_parts(parts, state).await?;
        let principal = match parts.headers.get(AUTHORIZATION) {
            Some(value) => {
                let value = value
                    .to_str()
                    .map_err(|_| AppError::unauthorized("invalid_token", "the Authorization header is not valid text"))?;
                let token = bearer(value)?;
                if token.starts_with(api_keys::PREFIX) {
                    api_keys::authenticate(state, token, &client).await?
                } else {
                    from_access_token(state, token, &client).await?
                }
            }
            None => match session_cookie(parts) {
                Some(cookie) => from_cookie(state, &cookie, parts, &client).await?,
                None => {
                    return Err(AppError::unauthorized(
                        "missing_credentials",
                        "sign in: send `Authorization: Bearer <token or API key>` or the session cookie",
                    ))
                }
            },
        };
        let span = tracing::Span::current();
        span.record("user_id", tracing::field::display(principal.user.id));
        if let Some(org) = principal.org {
            span.record("org_id", tracing::field::display(org));
        }
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}
