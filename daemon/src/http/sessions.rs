//! `/api/v1/orgs/{org_id}/sessions`: the members' sessions; password resets.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{PasswordResetResponse, SessionListResponse};
use loki_shared::Permission;
use uuid::Uuid;

use super::extract::Path;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;

#[utoipa::path(get, path = "/orgs/{org_id}/sessions", tag = "sessions", summary = "Sessions in the organization", responses((status = 200, description = "OK", body = SessionListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<SessionListResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::SessionRead)
        .await?;
    Ok(JsonResponse(SessionListResponse {
        sessions: state
            .accounts
            .org_sessions(access.tenant(), &principal)
            .await?,
    }))
}

#[utoipa::path(delete, path = "/orgs/{org_id}/sessions/{id}", tag = "sessions", summary = "Revoke a session", responses((status = 204, description = "Done")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::SessionRevoke)
        .await?;
    state
        .accounts
        .revoke_org_session(&access, &principal, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/orgs/{org_id}/members/{user_id}/reset-password`.
#[utoipa::path(post, path = "/orgs/{org_id}/members/{user_id}/reset-password", tag = "sessions", summary = "Reset a member's password (admin)", responses((status = 200, description = "OK", body = PasswordResetResponse)))]
pub async fn reset_password(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<PasswordResetResponse>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::MemberResetPassword)
        .await?;
    Ok(JsonResponse(
        state
            .accounts
            .reset_password(&access, &principal, user_id)
            .await?,
    ))
}
