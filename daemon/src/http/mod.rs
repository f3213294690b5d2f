//! The HTTP surface: the router, its middleware, one module per resource.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod client;
pub mod documents;
pub mod extract;
pub mod grants;
pub mod health;
pub mod invitations;
pub mod members;
pub mod openapi;
pub mod orgs;
pub mod principal;
pub mod reports;
pub mod request_id;
pub mod roles;
pub mod sessions;
pub mod sso;
pub mod sso_signin;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::{middleware, Router};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::AppError;

/// The routing table with each route's OpenAPI description. `doc_limit`
/// is the body limit of document uploads.
pub fn routes(doc_limit: usize) -> OpenApiRouter<AppState> {
    let uploads = || DefaultBodyLimit::max(doc_limit);
    let api = OpenApiRouter::new()
        .routes(routes!(openapi::serve))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::cookie_login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::switch_org))
        .routes(routes!(auth::me))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(auth::mfa_enroll))
        .routes(routes!(auth::mfa_confirm))
        .routes(routes!(auth::mfa_disable))
        .routes(routes!(auth::mfa_verify))
        .routes(routes!(sso_signin::providers))
        .routes(routes!(sso_signin::start))
        .routes(routes!(sso_signin::callback))
        .routes(routes!(sso_signin::exchange))
        .routes(routes!(sso_signin::saml_acs))
        .routes(routes!(sso_signin::saml_metadata))
        .routes(routes!(roles::permissions))
        .routes(routes!(orgs::list, orgs::create))
        .routes(routes!(orgs::get, orgs::update, orgs::delete))
        .routes(routes!(orgs::set_tier))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::get, members::update, members::remove))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::revoke))
        .routes(routes!(invitations::mine))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::decline))
        .routes(routes!(sessions::reset_password))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::get, api_keys::revoke))
        .routes(routes!(api_keys::rotate))
        .routes(routes!(members::assign_role))
        .routes(routes!(members::revoke_role))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(grants::list, grants::create))
        .routes(routes!(grants::revoke))
        .routes(routes!(sso::list, sso::create))
        .routes(routes!(sso::get, sso::delete))
        .routes(routes!(documents::list))
        .routes(routes!(documents::create).layer(uploads()))
        .routes(routes!(
            documents::get,
            documents::update,
            documents::delete
        ))
        .routes(routes!(documents::download))
        .routes(routes!(documents::replace).layer(uploads()))
        .routes(routes!(documents::versions))
        .routes(routes!(audit::search))
        .routes(routes!(audit::get))
        .routes(routes!(audit::export))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::purge))
        .routes(routes!(audit::system_search))
        .routes(routes!(audit::system_get))
        .routes(routes!(audit::system_export))
        .routes(routes!(audit::system_verify))
        .routes(routes!(audit::keys))
        .routes(routes!(reports::snapshot));
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(auth::jwks))
        .nest("/api/v1", api)
}

pub fn router(state: AppState) -> Router {
    let (routes, _) = routes(state.config.max_document_bytes).split_for_parts();
    routes
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
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
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

/// Answers 408 (in the JSON error shape) when a request, reading its body
/// included, takes longer than `request_timeout_secs`.
async fn timeout(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let limit = Duration::from_secs(state.config.request_timeout_secs);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(AppError::RequestTimeout),
    }
}

async fn not_found() -> AppError {
    AppError::NotFound { what: "route" }
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
