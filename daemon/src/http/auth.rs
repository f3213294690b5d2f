//! `/api/v1/auth/*` and the JWKS.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    LoginRequest, MeResponse, RegisterRequest, SwitchOrgRequest, TokenResponse, User,
};
use serde_json::{json, Value};

use super::extract::Json;
use crate::app::AppState;
use crate::auth::{service, Principal};
use crate::error::AppResult;

pub async fn register(
    State(state): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> AppResult<(StatusCode, JsonResponse<User>)> {
    Ok((
        StatusCode::CREATED,
        JsonResponse(service::register(&state, req).await?),
    ))
}

pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> AppResult<JsonResponse<TokenResponse>> {
    Ok(JsonResponse(service::login(&state, req).await?))
}

pub async fn switch_org(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<SwitchOrgRequest>,
) -> AppResult<JsonResponse<TokenResponse>> {
    Ok(JsonResponse(
        service::switch_org(&state, &principal, req).await?,
    ))
}

pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<MeResponse>> {
    Ok(JsonResponse(service::me(&state, &principal).await?))
}

pub async fn jwks(State(state): State<AppState>) -> JsonResponse<Value> {
    JsonResponse(json!({ "keys": state.tokens.keys.jwks() }))
}
