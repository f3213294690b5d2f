//! `/api/v1/orgs` and `/api/v1/orgs/{org_id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    ChangeTierRequest, CreateOrgRequest, OrgListResponse, Organization, UpdateOrgRequest,
};
use loki_shared::Permission;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::rbac::OrgAccess;
use crate::tenancy;

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<OrgListResponse>> {
    Ok(JsonResponse(OrgListResponse {
        organizations: tenancy::list_mine(&state, &principal).await?,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateOrgRequest>,
) -> AppResult<(StatusCode, JsonResponse<Organization>)> {
    Ok((
        StatusCode::CREATED,
        JsonResponse(tenancy::create(&state, &principal, req).await?),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<Organization>> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::OrgRead).await?;
    Ok(JsonResponse(access.org))
}

pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<UpdateOrgRequest>,
) -> AppResult<JsonResponse<Organization>> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::OrgUpdate).await?;
    Ok(JsonResponse(
        tenancy::update(&state, &access, &principal, req).await?,
    ))
}

pub async fn set_tier(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<ChangeTierRequest>,
) -> AppResult<JsonResponse<Organization>> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::SystemTiers).await?;
    Ok(JsonResponse(
        tenancy::set_tier(&state, &access, &principal, req.tier).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteParams {
    /// Remove the organization and its data for good (super admins only).
    #[serde(default)]
    hard: bool,
}

pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(params): Query<DeleteParams>,
) -> AppResult<StatusCode> {
    let perm = if params.hard {
        Permission::SystemHardDelete
    } else {
        Permission::OrgDelete
    };
    let access = OrgAccess::require(&state, &principal, org_id, perm).await?;
    tenancy::delete(&state, &access, &principal, params.hard).await?;
    Ok(StatusCode::NO_CONTENT)
}
