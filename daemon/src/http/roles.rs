//! `/api/v1/permissions` and `/api/v1/orgs/{org_id}/roles`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    CreateRoleRequest, PermissionInfo, PermissionListResponse, RoleInfo, RoleListResponse,
    UpdateRoleRequest,
};
use loki_shared::Permission;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;

/// The permission catalogue (any signed-in caller).
#[utoipa::path(get, path = "/permissions", tag = "roles", summary = "The permission catalogue", responses((status = 200, description = "OK", body = PermissionListResponse)))]
pub async fn permissions(_principal: Principal) -> JsonResponse<PermissionListResponse> {
    JsonResponse(PermissionListResponse {
        permissions: Permission::ALL
            .iter()
            .map(|p| PermissionInfo {
                name: p.name().to_owned(),
                description: p.description().to_owned(),
                system: p.is_system(),
            })
            .collect(),
    })
}

#[utoipa::path(get, path = "/orgs/{org_id}/roles", tag = "roles", summary = "Predefined and custom roles", responses((status = 200, description = "OK", body = RoleListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<RoleListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleRead)
        .await?;
    Ok(JsonResponse(RoleListResponse {
        roles: state.roles.list(access.tenant()).await?,
    }))
}

#[utoipa::path(get, path = "/orgs/{org_id}/roles/{name}", tag = "roles", summary = "A role", responses((status = 200, description = "OK", body = RoleInfo)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, name)): Path<(Uuid, String)>,
) -> AppResult<JsonResponse<RoleInfo>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleRead)
        .await?;
    Ok(JsonResponse(state.roles.get(access.tenant(), &name).await?))
}

#[utoipa::path(post, path = "/orgs/{org_id}/roles", tag = "roles", summary = "Create a custom role", request_body = CreateRoleRequest, responses((status = 201, description = "OK", body = RoleInfo)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<CreateRoleRequest>,
) -> AppResult<(StatusCode, JsonResponse<RoleInfo>)> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleCreate)
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.roles.create(&access, &principal, req).await?),
    ))
}

#[utoipa::path(patch, path = "/orgs/{org_id}/roles/{name}", tag = "roles", summary = "Change a custom role", request_body = UpdateRoleRequest, responses((status = 200, description = "OK", body = RoleInfo)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, name)): Path<(Uuid, String)>,
    Json(req): Json<UpdateRoleRequest>,
) -> AppResult<JsonResponse<RoleInfo>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleUpdate)
        .await?;
    Ok(JsonResponse(
        state.roles.update(&access, &principal, &name, req).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteRoleParams {
    /// Move the role's holders to this role, in the same transaction.
    #[serde(default)]
    reassign_to: Option<String>,
}

#[utoipa::path(delete, path = "/orgs/{org_id}/roles/{name}", tag = "roles", summary = "Delete a custom role", params(DeleteRoleParams), responses((status = 204, description = "Done")))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, name)): Path<(Uuid, String)>,
    Query(params): Query<DeleteRoleParams>,
) -> AppResult<StatusCode> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleDelete)
        .await?;
    state
        .roles
        .delete(&access, &principal, &name, params.reassign_to.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
