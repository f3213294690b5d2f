//! `/api/v1/orgs/{org_id}/identity-providers`: single sign-on providers.
//! Reading takes `security:read`, changing them `security:update`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    CreateIdentityProviderRequest, IdentityProviderInfo, IdentityProviderListResponse,
};
use loki_shared::Permission;
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;

#[utoipa::path(get, path = "/orgs/{org_id}/identity-providers", tag = "sso", summary = "The organization's identity providers (secrets never shown)", responses((status = 200, description = "OK", body = IdentityProviderListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<IdentityProviderListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::SecurityRead)
        .await?;
    Ok(JsonResponse(IdentityProviderListResponse {
        identity_providers: state.idps.list(access.org().id).await?,
    }))
}

#[utoipa::path(post, path = "/orgs/{org_id}/identity-providers", tag = "sso", summary = "Add an identity provider (OIDC, GitHub or SAML; presets for Google, Microsoft, GitHub)", request_body = CreateIdentityProviderRequest, responses((status = 201, description = "OK", body = IdentityProviderInfo)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<CreateIdentityProviderRequest>,
) -> AppResult<(StatusCode, JsonResponse<IdentityProviderInfo>)> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::SecurityUpdate)
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.idps.create(&access, &principal, req).await?),
    ))
}

#[utoipa::path(get, path = "/orgs/{org_id}/identity-providers/{id}", tag = "sso", summary = "An identity provider", responses((status = 200, description = "OK", body = IdentityProviderInfo)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<IdentityProviderInfo>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::SecurityRead)
        .await?;
    Ok(JsonResponse(state.idps.get(access.org().id, id).await?))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/identity-providers/{id}", tag = "sso", summary = "Remove an identity provider", responses((status = 204, description = "Done")))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::SecurityUpdate)
        .await?;
    state.idps.delete(&access, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
