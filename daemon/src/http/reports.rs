//! `/api/v1/orgs/{org_id}/reports/snapshot`: the current state a report
//! needs beside the audit bundle (members with MFA, roles and their
//! permissions, API keys, security settings). Reports themselves are
//! rendered by the client (`lokid report`, LOKI Desktop).

use axum::extract::State;
use axum::Json as JsonResponse;
use chrono::Utc;
use loki_shared::api::{ReportSnapshot, SnapshotMember};
use loki_shared::audit::actions::Action;
use loki_shared::Permission;
use uuid::Uuid;

use super::extract::Path;
use crate::app::AppState;
use crate::audit::{self, Outcome};
use crate::auth::{api_keys, Principal};
use crate::error::AppResult;
use crate::rbac::{roles, OrgAccess};

#[utoipa::path(get, path = "/orgs/{org_id}/reports/snapshot", tag = "reports",
    summary = "Current state for a compliance report (members, MFA, roles, API keys, settings)",
    responses((status = 200, description = "OK", body = ReportSnapshot)))]
pub async fn snapshot(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<ReportSnapshot>> {
    let access = OrgAccess::require(&state, &principal, org_id, Permission::ReportGenerate).await?;
    let mut members = Vec::new();
    for m in state.store.list_members(org_id).await? {
        let user = state.store.user_by_id(m.user_id).await?;
        members.push(SnapshotMember {
            user_id: m.user_id,
            email: m.email,
            roles: m.roles,
            mfa_enabled: user.as_ref().is_some_and(|u| u.mfa_enabled),
            is_super_admin: user.as_ref().is_some_and(|u| u.is_super_admin),
            joined_at: m.joined_at,
        });
    }
    let snapshot = ReportSnapshot {
        taken_at: Utc::now(),
        organization: access.org.clone(),
        members,
        roles: roles::list(&state, org_id).await?,
        api_keys: state
            .store
            .list_api_keys(org_id)
            .await?
            .iter()
            .map(api_keys::info)
            .collect(),
    };
    audit::record(
        &state,
        principal
            .event(Action::ReportGenerated, Outcome::Success)
            .meta(serde_json::json!({"snapshot": true, "members": snapshot.members.len()})),
    )
    .await?;
    Ok(JsonResponse(snapshot))
}
