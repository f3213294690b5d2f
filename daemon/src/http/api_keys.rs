//! `/api/v1/orgs/{org_id}/api-keys`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    ApiKeyInfo, ApiKeyListResponse, ApiKeySecretResponse, CreateApiKeyRequest, RotateApiKeyRequest,
};
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::{api_keys, Principal};
use crate::error::AppResult;
use loki_shared::Permission;

#[utoipa::path(post, path = "/orgs/{org_id}/api-keys", tag = "api-keys", summary = "Create an API key; the key and its signing secret are shown once", request_body = CreateApiKeyRequest, responses((status = 201, description = "OK", body = ApiKeySecretResponse)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<CreateApiKeyRequest>,
) -> AppResult<(StatusCode, JsonResponse<ApiKeySecretResponse>)> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::ApiKeyCreate)
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.api_keys.create(&access, &principal, req).await?),
    ))
}

#[utoipa::path(get, path = "/orgs/{org_id}/api-keys", tag = "api-keys", summary = "API keys", responses((status = 200, description = "OK", body = ApiKeyListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<ApiKeyListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::ApiKeyRead)
        .await?;
    let keys = state.api_keys.list(access.tenant()).await?;
    Ok(JsonResponse(ApiKeyListResponse {
        api_keys: keys.iter().map(api_keys::info).collect(),
    }))
}

#[utoipa::path(get, path = "/orgs/{org_id}/api-keys/{id}", tag = "api-keys", summary = "An API key", responses((status = 200, description = "OK", body = ApiKeyInfo)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<ApiKeyInfo>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::ApiKeyRead)
        .await?;
    Ok(JsonResponse(api_keys::info(
        &state.api_keys.get(access.tenant(), id).await?,
    )))
}

#[utoipa::path(post, path = "/orgs/{org_id}/api-keys/{id}/rotate", tag = "api-keys", summary = "Replace the secret and signing secret (old ones valid for a grace period)", request_body = RotateApiKeyRequest, responses((status = 200, description = "OK", body = ApiKeySecretResponse)))]
pub async fn rotate(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
    Json(req): Json<RotateApiKeyRequest>,
) -> AppResult<JsonResponse<ApiKeySecretResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::ApiKeyRotate)
        .await?;
    Ok(JsonResponse(
        state.api_keys.rotate(&access, &principal, id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/api-keys/{id}", tag = "api-keys", summary = "Revoke an API key", responses((status = 204, description = "Done")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::ApiKeyRevoke)
        .await?;
    state
        .api_keys
        .revoke(access.tenant(), &principal, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
