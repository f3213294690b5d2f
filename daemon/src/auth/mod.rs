//! Authentication: password hashing, signing keys, access tokens, and the
//! `Principal` extractor that turns a bearer token into a caller.

pub mod keys;
pub mod password;
pub mod service;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use loki_shared::api::User;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The organization the token is scoped to.
    pub org: Option<Uuid>,
    pub session_id: Uuid,
}

impl Principal {
    pub fn is_super_admin(&self) -> bool {
        self.user.is_super_admin
    }
}

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| {
            AppError::unauthorized(
                "missing_credentials",
                "an Authorization: Bearer token is required",
            )
        })?
        .to_str()
        .map_err(|_| {
            AppError::unauthorized(
                "invalid_token",
                "the Authorization header is not valid text",
            )
        })?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        AppError::unauthorized("invalid_token", "expected `Authorization: Bearer <token>`")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::unauthorized(
            "invalid_token",
            "expected `Authorization: Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let claims = state.tokens.verify(bearer(parts)?).await?;
        // The user is read fresh so a removed user or a revoked super-admin
        // flag takes effect on the next request, not at token expiry.
        let user = state.store.user_by_id(claims.sub).await?.ok_or_else(|| {
            AppError::unauthorized("invalid_token", "the token's user no longer exists")
        })?;
        let span = tracing::Span::current();
        span.record("user_id", tracing::field::display(user.id));
        if let Some(org) = claims.org {
            span.record("org_id", tracing::field::display(org));
        }
        let principal = Principal {
            user,
            org: claims.org,
            session_id: claims.sid,
        };
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}
