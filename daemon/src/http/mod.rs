//! The HTTP surface: the router, its middleware, one module per resource.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod client;
pub mod documents;
pub mod extract;
pub mod grants;
pub mod health;
pub mod members;
pub mod orgs;
pub mod request_id;
pub mod roles;
pub mod sessions;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
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
        .route("/permissions", get(roles::permissions))
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

    let doc_limit = DefaultBodyLimit::max(state.config.max_document_bytes);
    let api = api
        .route(
            "/orgs/{org_id}/members/{user_id}/roles",
            post(members::assign_role),
        )
        .route(
            "/orgs/{org_id}/members/{user_id}/roles/{role}",
            delete(members::revoke_role),
        )
        .route("/orgs/{org_id}/roles", get(roles::list).post(roles::create))
        .route(
            "/orgs/{org_id}/roles/{name}",
            get(roles::get).patch(roles::update).delete(roles::delete),
        )
        .route(
            "/orgs/{org_id}/grants",
            get(grants::list).post(grants::create),
        )
        .route("/orgs/{org_id}/grants/{id}", delete(grants::revoke))
        .route(
            DOCUMENTS,
            get(documents::list).post(documents::create.layer(doc_limit)),
        )
        .route(
            "/orgs/{org_id}/documents/{id}",
            get(documents::get)
                .patch(documents::update)
                .delete(documents::delete),
        )
        .route(
            DOCUMENT_CONTENT,
            get(documents::download).put(documents::replace.layer(doc_limit)),
        )
        .route(
            "/orgs/{org_id}/documents/{id}/versions",
            get(documents::versions),
        )
        .route("/orgs/{org_id}/audit/events", get(audit::search))
        .route("/orgs/{org_id}/audit/events/{id}", get(audit::get))
        .route("/orgs/{org_id}/audit/export", get(audit::export))
        .route("/orgs/{org_id}/audit/verify", get(audit::verify))
        .route("/orgs/{org_id}/audit/purge", post(audit::purge))
        .route("/system/audit/events", get(audit::system_search))
        .route("/system/audit/events/{id}", get(audit::system_get))
        .route("/system/audit/export", get(audit::system_export))
        .route("/system/audit/verify", get(audit::system_verify));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/jwks.json", get(auth::jwks))
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::security::gate,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            declared_body_limit,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.request_timeout_secs),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::audit::scope,
        ))
        .layer(middleware::from_fn(crate::security::headers::middleware))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}

const DOCUMENTS: &str = "/orgs/{org_id}/documents";
const DOCUMENT_CONTENT: &str = "/orgs/{org_id}/documents/{id}/content";

/// The largest body a route accepts: document uploads take files, the rest
/// take JSON.
fn body_limit_for(state: &AppState, req: &axum::extract::Request) -> usize {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or_default();
    let upload = route
        .strip_prefix("/api/v1")
        .is_some_and(|r| r == DOCUMENTS || r == DOCUMENT_CONTENT);
    if upload {
        state.config.max_document_bytes
    } else {
        state.config.max_body_bytes
    }
}

/// Refuses a body whose declared length is over the route's limit before
/// reading any of it (bodies without a length are cut off while read).
async fn declared_body_limit(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let limit = body_limit_for(&state, &req);
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
