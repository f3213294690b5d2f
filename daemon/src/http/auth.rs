//! `/api/v1/auth/*` and the JWKS.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as JsonResponse;
use loki_shared::api::{
    ChangePasswordRequest, CookieLoginResponse, CookieSessionRequest, JwkSet, LoginRequest,
    LoginResponse, MeResponse, MfaCodeRequest, MfaConfirmResponse, MfaEnrollResponse,
    MfaVerifyRequest, PasswordChangedResponse, RefreshRequest, RegisterRequest, SessionKind,
    SessionListResponse, SwitchOrgRequest, TokenResponse, User,
};
use uuid::Uuid;

use super::client::ClientInfo;
use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::service::{self, SignIn, Started};
use crate::auth::{sessions, Principal, SESSION_COOKIE};
use crate::error::{AppError, AppResult};

#[utoipa::path(post, path = "/auth/register", tag = "auth", summary = "Create a user account", request_body = RegisterRequest, responses((status = 201, description = "OK", body = User)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<RegisterRequest>,
) -> AppResult<(StatusCode, JsonResponse<User>)> {
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.identity.register(req, &client).await?),
    ))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", summary = "Sign in with email and password (then MFA when enabled)", request_body = LoginRequest, responses((status = 200, description = "OK", body = LoginResponse)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<LoginRequest>,
) -> AppResult<JsonResponse<LoginResponse>> {
    Ok(JsonResponse(
        match state
            .identity
            .login(req, SessionKind::Token, &client)
            .await?
        {
            SignIn::Done(started) => {
                LoginResponse::Tokens(Box::new(state.identity.tokens(started).await?))
            }
            SignIn::MfaRequired(c) => LoginResponse::MfaRequired(c),
        },
    ))
}

/// `Set-Cookie` for the browser session: HttpOnly, Secure, SameSite=Strict.
fn session_cookie(value: &str, max_age: i64) -> Result<HeaderValue, AppError> {
    let cookie = cookie::Cookie::build((SESSION_COOKIE, value.to_owned()))
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&cookie.to_string()).map_err(|e| AppError::Internal(e.into()))
}

pub(super) fn cookie_response(started: Started) -> AppResult<Response> {
    let (body, cookie) = service::cookie_session(started)?;
    let max_age = sessions::SESSION_TTL.num_seconds();
    let mut resp = JsonResponse(CookieLoginResponse::Session(Box::new(body))).into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, session_cookie(&cookie, max_age)?);
    Ok(resp)
}

/// Browser sign-in: sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/auth/session", tag = "auth", summary = "Sign in for a browser: session cookie and CSRF token", request_body = CookieSessionRequest, responses((status = 200, description = "OK", body = CookieLoginResponse)))]
pub async fn cookie_login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<CookieSessionRequest>,
) -> AppResult<Response> {
    let req = LoginRequest {
        email: req.email,
        password: req.password,
        org: req.org,
    };
    match state
        .identity
        .login(req, SessionKind::Cookie, &client)
        .await?
    {
        SignIn::Done(started) => cookie_response(started),
        SignIn::MfaRequired(c) => {
            Ok(JsonResponse(CookieLoginResponse::MfaRequired(c)).into_response())
        }
    }
}

#[utoipa::path(post, path = "/auth/mfa/verify", tag = "auth", summary = "Complete a sign-in with a TOTP or recovery code", request_body = MfaVerifyRequest, responses((status = 200, description = "OK", body = LoginResponse)))]
pub async fn mfa_verify(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<MfaVerifyRequest>,
) -> AppResult<Response> {
    let started = state
        .identity
        .verify_mfa(
            &req.challenge,
            req.code.as_deref(),
            req.recovery_code.as_deref(),
            &client,
        )
        .await?;
    match started.session.kind {
        SessionKind::Token => Ok(JsonResponse(LoginResponse::Tokens(Box::new(
            state.identity.tokens(started).await?,
        )))
        .into_response()),
        SessionKind::Cookie => cookie_response(started),
    }
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", summary = "Rotate a refresh token for new tokens", request_body = RefreshRequest, responses((status = 200, description = "OK", body = TokenResponse)))]
pub async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(req): Json<RefreshRequest>,
) -> AppResult<JsonResponse<TokenResponse>> {
    Ok(JsonResponse(
        state.renewal.refresh(&req.refresh_token, &client).await?,
    ))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", summary = "End the current session", responses((status = 204, description = "Done")))]
pub async fn logout(State(state): State<AppState>, principal: Principal) -> AppResult<Response> {
    state.accounts.logout(&principal).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if principal
        .session()
        .is_some_and(|s| s.kind == SessionKind::Cookie)
    {
        resp.headers_mut()
            .insert(SET_COOKIE, session_cookie("", 0)?);
    }
    Ok(resp)
}

#[utoipa::path(post, path = "/auth/switch-org", tag = "auth", summary = "Scope the session to another organization", request_body = SwitchOrgRequest, responses((status = 200, description = "OK", body = TokenResponse)))]
pub async fn switch_org(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<SwitchOrgRequest>,
) -> AppResult<JsonResponse<TokenResponse>> {
    Ok(JsonResponse(
        state.renewal.switch_org(&principal, req).await?,
    ))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", summary = "The caller: user, organization, credential", responses((status = 200, description = "OK", body = MeResponse)))]
pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<MeResponse>> {
    Ok(JsonResponse(state.identity.me(&principal).await?))
}

#[utoipa::path(post, path = "/auth/password", tag = "auth", summary = "Change the password (ends the other sessions)", request_body = ChangePasswordRequest, responses((status = 200, description = "OK", body = PasswordChangedResponse)))]
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<ChangePasswordRequest>,
) -> AppResult<JsonResponse<PasswordChangedResponse>> {
    let revoked_sessions = state.accounts.change_password(&principal, req).await?;
    Ok(JsonResponse(PasswordChangedResponse { revoked_sessions }))
}

#[utoipa::path(get, path = "/auth/sessions", tag = "auth", summary = "The caller's sessions", responses((status = 200, description = "OK", body = SessionListResponse)))]
pub async fn sessions(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<SessionListResponse>> {
    Ok(JsonResponse(SessionListResponse {
        sessions: state.accounts.my_sessions(&principal).await?,
    }))
}

#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth", summary = "Revoke one of the caller's sessions", responses((status = 204, description = "Done")))]
pub async fn revoke_session(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    state.accounts.revoke_my_session(&principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/auth/mfa/enroll", tag = "mfa", summary = "Start TOTP enrolment", responses((status = 200, description = "OK", body = MfaEnrollResponse)))]
pub async fn mfa_enroll(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<MfaEnrollResponse>> {
    Ok(JsonResponse(state.accounts.mfa_enroll(&principal).await?))
}

#[utoipa::path(post, path = "/auth/mfa/confirm", tag = "mfa", summary = "Confirm TOTP with a first code; returns recovery codes", request_body = MfaCodeRequest, responses((status = 200, description = "OK", body = MfaConfirmResponse)))]
pub async fn mfa_confirm(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<MfaCodeRequest>,
) -> AppResult<JsonResponse<MfaConfirmResponse>> {
    Ok(JsonResponse(
        state.accounts.mfa_confirm(&principal, req).await?,
    ))
}

#[utoipa::path(post, path = "/auth/mfa/disable", tag = "mfa", summary = "Disable TOTP (needs a current code)", request_body = MfaCodeRequest, responses((status = 204, description = "Done")))]
pub async fn mfa_disable(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<MfaCodeRequest>,
) -> AppResult<StatusCode> {
    state.accounts.mfa_disable(&principal, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", summary = "Public keys that verify access tokens (JWKS)", responses((status = 200, description = "OK", body = JwkSet)))]
pub async fn jwks(State(state): State<AppState>) -> JsonResponse<JwkSet> {
    JsonResponse(JwkSet {
        keys: state.tokens.keys.jwks(),
    })
}
