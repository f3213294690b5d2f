//! The security layer in front of every handler: client address
//! and IP rules, rate limits, authentication (with CSRF for cookies), and
//! request signatures. Handlers then make the authorization decision.
//!
//! Order inside [`gate`]: global IP rules -> authentication -> the caller's
//! organization's IP rules -> rate limits (organization, credential) ->
//! signature. The per-organization and per-credential budgets count only
//! authenticated requests, attributed to the credential's own organization,
//! so nobody can spend another tenant's budget by sending requests in its
//! name. Sign-in is limited per client address (see `auth::throttle`).

pub mod headers;
pub mod ip;
pub mod limits;
pub mod rate_limit;
pub mod signing;

use loki_shared::audit::actions::Action;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::audit::{Event, Outcome};
use crate::auth::Principal;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::state::AppState;

/// Routes that need no credential.
pub const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/.well-known/jwks.json",
    "/api/v1/audit/keys",
    "/api/v1/openapi.json",
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/session",
    "/api/v1/auth/refresh",
    "/api/v1/auth/mfa/verify",
    "/api/v1/auth/sso/providers",
    "/api/v1/auth/sso/start",
    "/api/v1/auth/sso/callback",
    "/api/v1/auth/sso/exchange",
    "/api/v1/auth/sso/saml/acs",
    "/api/v1/auth/sso/saml/metadata",
];

/// Routes that need no credential when none is sent (a sent one is checked
/// as on any other route): accepting an invitation by its token creates the
/// account that signs in afterwards.
pub const CREDENTIAL_OPTIONAL: &[&str] = &["/api/v1/invitations/{id}/accept"];

fn sends_credentials(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(axum::http::header::AUTHORIZATION)
        || headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains(crate::auth::SESSION_COOKIE))
}

pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match admit(&state, req).await {
        Ok((req, budget)) => {
            let mut response = next.run(req).await;
            if let Some(d) = budget {
                limits::set_headers(response.headers_mut(), &d);
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn admit(
    state: &AppState,
    req: Request,
) -> Result<(Request, Option<rate_limit::Decision>), AppError> {
    let (mut parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut client = ClientInfo::from_request_parts(&mut parts, state).await?;
    client.ip = ip::client_ip(peer, &parts.headers, &state.config.trusted_proxies);
    parts.extensions.insert(client.clone());

    if let Err(refusal) = ip::check(&state.config.ip_allow, &state.config.ip_deny, client.ip) {
        let event = Event::new(Action::RequestIpDenied, Outcome::Denied).client(&client);
        return Err(ip_denied(state, event, "global", refusal, &parts).await);
    }
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let public = route.as_deref().is_none_or(|r| {
        PUBLIC.contains(&r)
            || (CREDENTIAL_OPTIONAL.contains(&r) && !sends_credentials(&parts.headers))
    });
    if public {
        return Ok((Request::from_parts(parts, body), None));
    }

    let principal = Principal::from_request_parts(&mut parts, state).await?;
    // Super admins operate the deployment: an organization's rules and
    // budget bind its own members and keys.
    let org = match principal.org {
        Some(id) if !principal.is_super_admin() => {
            state.authz.org(id, principal.org_version).await?
        }
        _ => None,
    };
    if let Some(org) = &org {
        let s = &org.settings;
        if let Err(refusal) = ip::check(&s.ip_allow, &s.ip_deny, client.ip) {
            let event = principal.event(Action::RequestIpDenied, Outcome::Denied);
            return Err(ip_denied(state, event, "organization", refusal, &parts).await);
        }
    }
    let budget = limits::check_request(state, &principal, org.as_ref()).await?;

    let body = if signing::required_or_present(&principal, org.as_ref(), &parts.headers) {
        signing::verify(state, &principal, &parts, body).await?
    } else {
        body
    };
    Ok((Request::from_parts(parts, body), budget))
}

async fn ip_denied(
    state: &AppState,
    event: Event,
    scope: &str,
    refusal: ip::Refusal,
    parts: &axum::http::request::Parts,
) -> AppError {
    let reason = match refusal {
        ip::Refusal::Denied => "deny_list",
        ip::Refusal::NotAllowed => "not_in_allow_list",
    };
    let event = event.meta(serde_json::json!({
        "scope": scope,
        "reason": reason,
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
    }));
    if let Err(e) = state.auditor.record(event).await {
        return e;
    }
    AppError::forbidden(
        "ip_denied",
        format!("requests from this address are not accepted ({scope} IP rules)"),
    )
}
