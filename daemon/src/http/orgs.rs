//! `/api/v1/orgs` and `/api/v1/orgs/{org_id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    ChangeTierRequest, CreateOrgRequest, OrgListResponse, Organization, UpdateOrgRequest,
};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::tenancy::{self, Need, OrgAccess};

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
    let access = OrgAccess::require(&state, &principal, org_id, Need::Read).await?;
    Ok(JsonResponse(access.org))
}

pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<UpdateOrgRequest>,
) -> AppResult<JsonResponse<Organization>> {
    OrgAccess::require(&state, &principal, org_id, Need::Admin).await?;
    Ok(JsonResponse(
        tenancy::update(&state, &principal, org_id, req).await?,
    ))
}

pub async fn set_tier(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<ChangeTierRequest>,
) -> AppResult<JsonResponse<Organization>> {
    OrgAccess::require(&state, &principal, org_id, Need::SuperAdmin).await?;
    Ok(JsonResponse(
        tenancy::set_tier(&state, org_id, req.tier).await?,
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
    let need = if params.hard {
        Need::SuperAdmin
    } else {
        Need::Admin
    };
    OrgAccess::require(&state, &principal, org_id, need).await?;
    tenancy::delete(&state, org_id, params.hard).await?;
    Ok(StatusCode::NO_CONTENT)
}
