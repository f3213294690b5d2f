//! `/api/v1/orgs/{org_id}/members` and members' roles.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    AddMemberRequest, AssignRoleRequest, Member, MemberListResponse, UpdateMemberRequest,
};
use loki_shared::Permission;
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::rbac::{roles, OrgAccess};
use crate::tenancy;

#[utoipa::path(get, path = "/orgs/{org_id}/members", tag = "members", summary = "Members", responses((status = 200, description = "OK", body = MemberListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<MemberListResponse>> {
    OrgAccess::require(&state, &principal, org_id, Permission::MemberRead).await?;
    Ok(JsonResponse(MemberListResponse {
        members: state.store.list_members(org_id).await?,
    }))
}

#[utoipa::path(get, path = "/orgs/{org_id}/members/{user_id}", tag = "members", summary = "A member", responses((status = 200, description = "OK", body = Member)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<Member>> {
    OrgAccess::require(&state, &principal, org_id, Permission::MemberRead).await?;
    let member = state
        .store
        .member(org_id, user_id)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    Ok(JsonResponse(member))
}

#[utoipa::path(post, path = "/orgs/{org_id}/members", tag = "members", summary = "Add a member", request_body = AddMemberRequest, responses((status = 201, description = "OK", body = Member)))]
pub async fn add(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<AddMemberRequest>,
) -> AppResult<(StatusCode, JsonResponse<Member>)> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::MemberInvite).await?;
    access
        .check(&state, &principal, Permission::RoleAssign, None)
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(tenancy::add_member(&state, &access, &principal, req).await?),
    ))
}

/// Replaces the member's roles.
#[utoipa::path(patch, path = "/orgs/{org_id}/members/{user_id}", tag = "members", summary = "Replace a member's roles", request_body = UpdateMemberRequest, responses((status = 200, description = "OK", body = Member)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
    Json(req): Json<UpdateMemberRequest>,
) -> AppResult<JsonResponse<Member>> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::RoleAssign).await?;
    Ok(JsonResponse(
        roles::set(&state, &access, &principal, user_id, req.roles).await?,
    ))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/members/{user_id}", tag = "members", summary = "Remove a member (ends their sessions in the organization)", responses((status = 204, description = "Done")))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::MemberRemove).await?;
    roles::remove_member(&state, &access, &principal, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/members/{user_id}/roles`: one more role.
#[utoipa::path(post, path = "/orgs/{org_id}/members/{user_id}/roles", tag = "members", summary = "Assign a role", request_body = AssignRoleRequest, responses((status = 200, description = "OK", body = Member)))]
pub async fn assign_role(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
    Json(req): Json<AssignRoleRequest>,
) -> AppResult<JsonResponse<Member>> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::RoleAssign).await?;
    Ok(JsonResponse(
        roles::assign(&state, &access, &principal, user_id, &req.role).await?,
    ))
}

/// `DELETE …/members/{user_id}/roles/{role}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/members/{user_id}/roles/{role}", tag = "members", summary = "Revoke a role", responses((status = 200, description = "OK", body = Member)))]
pub async fn revoke_role(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id, role)): Path<(Uuid, Uuid, String)>,
) -> AppResult<JsonResponse<Member>> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::RoleAssign).await?;
    Ok(JsonResponse(
        roles::revoke(&state, &access, &principal, user_id, &role).await?,
    ))
}
