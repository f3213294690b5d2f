//! `/api/v1/orgs/{org_id}/members` and members' roles.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    AddMemberRequest, AssignRoleRequest, CreateInvitationRequest, InvitationCreated, Member,
    MemberListResponse, UpdateMemberRequest,
};
use loki_shared::Permission;
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};

#[utoipa::path(get, path = "/orgs/{org_id}/members", tag = "members", summary = "Members", responses((status = 200, description = "OK", body = MemberListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<MemberListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::MemberRead)
        .await?;
    Ok(JsonResponse(MemberListResponse {
        members: state.members.members(access.tenant()).await?,
    }))
}

#[utoipa::path(get, path = "/orgs/{org_id}/members/{user_id}", tag = "members", summary = "A member", responses((status = 200, description = "OK", body = Member)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<Member>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::MemberRead)
        .await?;
    Ok(JsonResponse(
        state.members.member(access.tenant(), user_id).await?,
    ))
}

/// Membership needs consent: this invites the account (by email or id)
/// with the one role, exactly as `POST …/invitations` does.
#[utoipa::path(post, path = "/orgs/{org_id}/members", tag = "members", summary = "Invite a member (creates an invitation; the account joins when it accepts)", request_body = AddMemberRequest, responses((status = 202, description = "Invited", body = InvitationCreated)))]
pub async fn add(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<AddMemberRequest>,
) -> AppResult<(StatusCode, JsonResponse<InvitationCreated>)> {
    let access = super::invitations::admit_inviter(&state, &principal, org_id).await?;
    let email = match (req.user_id, req.email) {
        (Some(id), None) => state.invitations.email_of(id).await?,
        (None, Some(email)) => email,
        _ => {
            return Err(AppError::validation(
                "email",
                "give exactly one of email or user_id",
            ))
        }
    };
    let invitation = CreateInvitationRequest {
        email,
        roles: vec![req.role],
        expires_in_secs: None,
    };
    Ok((
        StatusCode::ACCEPTED,
        JsonResponse(
            state
                .invitations
                .create(&access, &principal, invitation)
                .await?,
        ),
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
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleAssign)
        .await?;
    Ok(JsonResponse(
        state
            .members
            .set(&access, &principal, user_id, req.roles)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/members/{user_id}", tag = "members", summary = "Remove a member (ends their sessions in the organization)", responses((status = 204, description = "Done")))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::MemberRemove)
        .await?;
    state
        .members
        .remove_member(&access, &principal, user_id)
        .await?;
    // Membership is checked on every request, so these sessions could no
    // longer open the organization; ending them makes that a recorded fact.
    state
        .accounts
        .end_removed_member_sessions(&access, &principal, user_id)
        .await?;
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
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleAssign)
        .await?;
    Ok(JsonResponse(
        state
            .members
            .assign(&access, &principal, user_id, &req.role)
            .await?,
    ))
}

/// `DELETE …/members/{user_id}/roles/{role}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/members/{user_id}/roles/{role}", tag = "members", summary = "Revoke a role", responses((status = 200, description = "OK", body = Member)))]
pub async fn revoke_role(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id, role)): Path<(Uuid, Uuid, String)>,
) -> AppResult<JsonResponse<Member>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::RoleAssign)
        .await?;
    Ok(JsonResponse(
        state
            .members
            .revoke(&access, &principal, user_id, &role)
            .await?,
    ))
}
