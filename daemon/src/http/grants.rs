//! `/api/v1/orgs/{org_id}/grants`: resource-level grants.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{CreateGrantRequest, GrantInfo, GrantListResponse};
use loki_shared::Permission;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::rbac::grants;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GrantFilter {
    #[serde(default)]
    resource_type: Option<String>,
    #[serde(default)]
    resource_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/orgs/{org_id}/grants", tag = "grants", summary = "Resource grants", params(GrantFilter), responses((status = 200, description = "OK", body = GrantListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(f): Query<GrantFilter>,
) -> AppResult<JsonResponse<GrantListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::GrantRead)
        .await?;
    let resource = match (f.resource_type, f.resource_id) {
        (Some(t), Some(id)) => Some((t, id)),
        (None, None) => None,
        _ => {
            return Err(AppError::validation(
                "resource_id",
                "give resource_type and resource_id together",
            ))
        }
    };
    let list = state.grants.list(access.tenant(), resource).await?;
    Ok(JsonResponse(GrantListResponse {
        grants: list.iter().map(grants::info).collect(),
    }))
}

#[utoipa::path(post, path = "/orgs/{org_id}/grants", tag = "grants", summary = "Grant a permission on one resource", request_body = CreateGrantRequest, responses((status = 201, description = "OK", body = GrantInfo)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<CreateGrantRequest>,
) -> AppResult<(StatusCode, JsonResponse<GrantInfo>)> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::GrantCreate)
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.grants.create(&access, &principal, req).await?),
    ))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/grants/{id}", tag = "grants", summary = "Revoke a grant", responses((status = 204, description = "Done")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::GrantRevoke)
        .await?;
    state.grants.revoke(&access, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
