//! `/api/v1/orgs/{org_id}/members`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use loki_shared::api::{AddMemberRequest, Member, MemberListResponse, UpdateMemberRequest};
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::tenancy::{self, Need, OrgAccess};

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<MemberListResponse>> {
    OrgAccess::require(&state, &principal, org_id, Need::Read).await?;
    Ok(JsonResponse(MemberListResponse {
        members: state.store.list_members(org_id).await?,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<Member>> {
    OrgAccess::require(&state, &principal, org_id, Need::Read).await?;
    let member = state
        .store
        .member(org_id, user_id)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    Ok(JsonResponse(member))
}

pub async fn add(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(req): Json<AddMemberRequest>,
) -> AppResult<(StatusCode, JsonResponse<Member>)> {
    let access = OrgAccess::require(&state, &principal, org_id, Need::Admin).await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(tenancy::add_member(&state, &access, req).await?),
    ))
}

pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
    Json(req): Json<UpdateMemberRequest>,
) -> AppResult<JsonResponse<Member>> {
    OrgAccess::require(&state, &principal, org_id, Need::Admin).await?;
    Ok(JsonResponse(
        tenancy::change_role(&state, org_id, user_id, &req.role).await?,
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<StatusCode> {
    OrgAccess::require(&state, &principal, org_id, Need::Admin).await?;
    tenancy::remove_member(&state, org_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
