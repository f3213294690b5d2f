//! The `Principal` extractor: reads the credential a request presents
//! (bearer token, API key or session cookie) and hands it to `auth` to
//! authenticate. Resolved once per request (the security gate runs it).

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

use crate::auth::{api_keys, CookieRequest, Principal, CSRF_HEADER, SESSION_COOKIE};
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::state::AppState;

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
                    state.api_keys.authenticate(token, &client).await?
                } else {
                    state.authenticator.from_access_token(token, &client).await?
                }
            }
            None => match session_cookie(parts) {
                Some(cookie) => {
                    let req = CookieRequest {
                        value: &cookie,
                        method: parts.method.as_str(),
                        safe_method: parts.method.is_safe(),
                        path: parts.uri.path(),
                        csrf_token: parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
                    };
                    state.authenticator.from_cookie(req, &client).await?
                }
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
