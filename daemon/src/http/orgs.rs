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

#[utoipa::path(get, path = "/orgs", tag = "organizations", summary = "The caller's organizations", responses((status = 200, description = "OK", body = OrgListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<OrgListResponse>> {
    Ok(JsonResponse(OrgListResponse {
        organizations: state.tenancy.list_mine(&principal).await?,
    }))
}

#[utoipa::path(post, path = "/orgs", tag = "organizations", summary = "Create an organization (the caller becomes its admin)", request_body = CreateOrgRequest, responses((status = 201, description = "OK", body = Organization)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateOrgRequest>,
) -> AppResult<(StatusCode, JsonResponse<Organization>)> {
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.tenancy.create(&principal, req).await?),
    ))
}

#[utoipa::path(get, path = "/orgs/{org_id}", tag = "organizations", summary = "An organization", responses((status = 200, description = "OK", body = Organization)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<Organization>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::OrgRead)
        .await?;
    Ok(JsonResponse(access.org().clone()))
}

#[utoipa::path(patch, path = "/orgs/{org_id}", tag = "organizations", summary = "Rename, or change security settings (IP rules, signing, MFA, retention)", request_body = UpdateOrgRequest, responses((status = 200, description = "OK", body = Organization)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<UpdateOrgRequest>,
) -> AppResult<JsonResponse<Organization>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::OrgUpdate)
        .await?;
    Ok(JsonResponse(
        state.tenancy.update(&access, &principal, req).await?,
    ))
}

#[utoipa::path(put, path = "/orgs/{org_id}/tier", tag = "organizations", summary = "Change the subscription tier (super admin)", request_body = ChangeTierRequest, responses((status = 200, description = "OK", body = Organization)))]
pub async fn set_tier(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<ChangeTierRequest>,
) -> AppResult<JsonResponse<Organization>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::SystemTiers)
        .await?;
    Ok(JsonResponse(
        state
            .tenancy
            .set_tier(&access, &principal, req.tier)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteParams {
    /// Remove the organization and its data for good (super admins only).
    #[serde(default)]
    hard: bool,
}

#[utoipa::path(delete, path = "/orgs/{org_id}", tag = "organizations", summary = "Delete (soft; super admins may purge)", params(DeleteParams), responses((status = 204, description = "Done")))]
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
    let access = state.admission.require(&principal, org_id, perm).await?;
    state
        .tenancy
        .delete(&access, &principal, params.hard)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
