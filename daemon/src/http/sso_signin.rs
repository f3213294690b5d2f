//! `/api/v1/auth/sso/*`: signing in through an organization's identity
//! provider (see `sso::signon` for the three steps).

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as JsonResponse;
use loki_shared::api::{
    LoginResponse, SessionKind, SsoExchangeRequest, SsoProviderListResponse, SsoStartRequest,
    SsoStartResponse,
};
use serde::Deserialize;

use super::client::ClientInfo;
use super::extract::{Json, Query};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::sso::signon::CallbackQuery;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProvidersQuery {
    /// The organization's id or slug.
    pub org: String,
}

#[utoipa::path(get, path = "/auth/sso/providers", tag = "sso", summary = "An organization's identity providers, for a sign-in screen (no configuration shown)", params(ProvidersQuery), responses((status = 200, description = "OK", body = SsoProviderListResponse)))]
pub async fn providers(
    State(state): State<AppState>,
    Query(q): Query<ProvidersQuery>,
) -> AppResult<JsonResponse<SsoProviderListResponse>> {
    Ok(JsonResponse(SsoProviderListResponse {
        providers: state.signon.providers(&q.org).await?,
    }))
}

#[utoipa::path(post, path = "/auth/sso/start", tag = "sso", summary = "Start a single sign-on: the identity provider's URL to open in a browser", request_body = SsoStartRequest, responses((status = 200, description = "OK", body = SsoStartResponse)))]
pub async fn start(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<SsoStartRequest>,
) -> AppResult<JsonResponse<SsoStartResponse>> {
    Ok(JsonResponse(state.signon.start(req, &client).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: the issuer that answered (checked through the ID token).
    pub iss: Option<String>,
    pub session_state: Option<String>,
}

#[utoipa::path(get, path = "/auth/sso/callback", tag = "sso", summary = "Where identity providers send the browser back; redirects on to the app with a one-time code or an error", params(CallbackParams), responses((status = 303, description = "On to the app's return_to")))]
pub async fn callback(
    State(state): State<AppState>,
    client: ClientInfo,
    Query(q): Query<CallbackParams>,
) -> AppResult<Response> {
    let location = state
        .signon
        .callback(
            CallbackQuery {
                state: q.state,
                code: q.code,
                error: q.error,
                error_description: q.error_description,
            },
            &client,
        )
        .await?;
    let value = HeaderValue::from_str(&location).map_err(|e| AppError::Internal(e.into()))?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response())
}

#[utoipa::path(post, path = "/auth/sso/exchange", tag = "sso", summary = "Redeem the one-time code with the PKCE verifier: the same tokens (or browser session) as a password sign-in", request_body = SsoExchangeRequest, responses((status = 200, description = "OK", body = LoginResponse)))]
pub async fn exchange(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<SsoExchangeRequest>,
) -> AppResult<Response> {
    let started = state
        .signon
        .exchange(&req.code, &req.code_verifier, &client)
        .await?;
    match started.session.kind {
        SessionKind::Token => Ok(JsonResponse(LoginResponse::Tokens(Box::new(
            state.identity.tokens(started).await?,
        )))
        .into_response()),
        SessionKind::Cookie => super::auth::cookie_response(started),
    }
}

/// The HTTP-POST binding's form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SamlPost {
    #[serde(rename = "SAMLResponse")]
    pub saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

#[utoipa::path(post, path = "/auth/sso/saml/acs", tag = "sso", summary = "Where SAML identity providers post their response (HTTP-POST binding); redirects on to the app with a one-time code or an error", request_body(content = SamlPost, content_type = "application/x-www-form-urlencoded"), responses((status = 303, description = "On to the app's return_to")))]
pub async fn saml_acs(
    State(state): State<AppState>,
    client: ClientInfo,
    form: Result<axum::Form<SamlPost>, axum::extract::rejection::FormRejection>,
) -> AppResult<Response> {
    let axum::Form(form) = form.map_err(|e| {
        AppError::bad_request(
            "invalid_body",
            format!("expected the SAML HTTP-POST form: {e}"),
        )
    })?;
    let location = state
        .signon
        .saml_acs(
            form.saml_response.as_deref(),
            form.relay_state.as_deref(),
            &client,
        )
        .await?;
    let value = HeaderValue::from_str(&location).map_err(|e| AppError::Internal(e.into()))?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response())
}

#[utoipa::path(get, path = "/auth/sso/saml/metadata", tag = "sso", summary = "LOKI's SAML service provider metadata (entity id, assertion consumer service), for the IdP's administrator", responses((status = 200, description = "SAML metadata", content_type = "application/samlmetadata+xml", body = String)))]
pub async fn saml_metadata(State(state): State<AppState>) -> AppResult<Response> {
    let xml = state
        .signon
        .sp_metadata()
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/samlmetadata+xml"),
        )],
        xml,
    )
        .into_response())
}
