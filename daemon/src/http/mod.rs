//! The HTTP surface: the router, its middleware, one module per resource.

pub mod api_keys;
pub mod auth;
pub mod client;
pub mod extract;
pub mod health;
pub mod members;
pub mod orgs;
pub mod request_id;
pub mod sessions;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{middleware, Router};
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::error::AppError;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/session", post(auth::cookie_login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/switch-org", post(auth::switch_org))
        .route("/auth/me", get(auth::me))
        .route("/auth/password", post(auth::change_password))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/sessions/{id}", delete(auth::revoke_session))
        .route("/auth/mfa/enroll", post(auth::mfa_enroll))
        .route("/auth/mfa/confirm", post(auth::mfa_confirm))
        .route("/auth/mfa/disable", post(auth::mfa_disable))
        .route("/auth/mfa/verify", post(auth::mfa_verify))
        .route("/orgs", get(orgs::list).post(orgs::create))
        .route(
            "/orgs/{org_id}",
            get(orgs::get).patch(orgs::update).delete(orgs::delete),
        )
        .route("/orgs/{org_id}/tier", axum::routing::put(orgs::set_tier))
        .route(
            "/orgs/{org_id}/members",
            get(members::list).post(members::add),
        )
        .route(
            "/orgs/{org_id}/members/{user_id}",
            get(members::get)
                .patch(members::update)
                .delete(members::remove),
        )
        .route(
            "/orgs/{org_id}/members/{user_id}/reset-password",
            post(sessions::reset_password),
        )
        .route("/orgs/{org_id}/sessions", get(sessions::list))
        .route("/orgs/{org_id}/sessions/{id}", delete(sessions::revoke))
        .route(
            "/orgs/{org_id}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/orgs/{org_id}/api-keys/{id}",
            get(api_keys::get).delete(api_keys::revoke),
        )
        .route(
            "/orgs/{org_id}/api-keys/{id}/rotate",
            post(api_keys::rotate),
        );

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/jwks.json", get(auth::jwks))
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.config.max_body_bytes,
            declared_body_limit,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.request_timeout_secs),
        ))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}

/// Refuses a body whose declared length is over the limit before reading
/// any of it (bodies without a length are cut off while being read).
async fn declared_body_limit(
    axum::extract::State(limit): axum::extract::State<usize>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return axum::response::IntoResponse::into_response(AppError::PayloadTooLarge);
    }
    next.run(req).await
}

async fn not_found() -> AppError {
    AppError::NotFound { what: "route" }
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
