//! Invitations: `/api/v1/orgs/{org_id}/invitations` for the organization,
//! `/api/v1/invitations` for the invitee.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{
    AcceptInvitationRequest, CreateInvitationRequest, InvitationCreated, InvitationListResponse,
    Member,
};
use loki_shared::Permission;
use uuid::Uuid;

use super::client::ClientInfo;
use super::extract::{Json, Path, RawBody};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::rbac::OrgAccess;

/// Inviting hands out roles: it needs `member:invite` and `role:assign`.
pub(crate) async fn admit_inviter(
    state: &AppState,
    principal: &Principal,
    org_id: Uuid,
) -> AppResult<OrgAccess> {
    let access = state
        .admission
        .require(principal, org_id, Permission::MemberInvite)
        .await?;
    access
        .check(&state.auditor, principal, Permission::RoleAssign, None)
        .await?;
    Ok(access)
}

#[utoipa::path(post, path = "/orgs/{org_id}/invitations", tag = "invitations", summary = "Invite an email with roles; the accept token is shown once", request_body = CreateInvitationRequest, responses((status = 201, description = "OK", body = InvitationCreated)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<CreateInvitationRequest>,
) -> AppResult<(StatusCode, JsonResponse<InvitationCreated>)> {
    let access = admit_inviter(&state, &principal, org_id).await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(state.invitations.create(&access, &principal, req).await?),
    ))
}

#[utoipa::path(get, path = "/orgs/{org_id}/invitations", tag = "invitations", summary = "The organization's invitations", responses((status = 200, description = "OK", body = InvitationListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<InvitationListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::MemberRead)
        .await?;
    Ok(JsonResponse(InvitationListResponse {
        invitations: state.invitations.list(&access).await?,
    }))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/invitations/{id}", tag = "invitations", summary = "Revoke a pending invitation", responses((status = 204, description = "Done")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::MemberInvite)
        .await?;
    state.invitations.revoke(&access, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/invitations", tag = "invitations", summary = "Invitations addressed to you", responses((status = 200, description = "OK", body = InvitationListResponse)))]
pub async fn mine(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<InvitationListResponse>> {
    Ok(JsonResponse(InvitationListResponse {
        invitations: state.invitations.mine(&principal).await?,
    }))
}

/// Signed in as the invitee: no body needed. Without an account: the
/// invitation's token and a password create one.
#[utoipa::path(post, path = "/invitations/{id}/accept", tag = "invitations", summary = "Accept an invitation (signed in as the invitee, or with its token and a new password)", request_body = AcceptInvitationRequest, responses((status = 200, description = "OK", body = Member)))]
pub async fn accept(
    State(state): State<AppState>,
    principal: Result<Principal, AppError>,
    client: ClientInfo,
    Path(id): Path<Uuid>,
    RawBody(body): RawBody,
) -> AppResult<JsonResponse<Member>> {
    let req: AcceptInvitationRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AcceptInvitationRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_request("invalid_body", e.to_string()))?
    };
    match principal {
        Ok(p) => {
            if req.token.is_some() || req.password.is_some() {
                return Err(AppError::validation(
                    "token",
                    "signed in, accept without a token or password",
                ));
            }
            Ok(JsonResponse(state.invitations.accept(&p, id).await?))
        }
        Err(AppError::Unauthorized {
            code: "missing_credentials",
            ..
        }) => Ok(JsonResponse(
            state.invitations.accept_new(id, req, &client).await?,
        )),
        Err(e) => Err(e),
    }
}

#[utoipa::path(post, path = "/invitations/{id}/decline", tag = "invitations", summary = "Decline an invitation addressed to you", responses((status = 204, description = "Done")))]
pub async fn decline(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    state.invitations.decline(&principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
