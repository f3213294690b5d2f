//! `/api/v1/orgs/{org_id}/reports/snapshot`: the current state a report
//! needs beside the audit bundle (members with MFA, roles and their
//! permissions, API keys, security settings). Reports themselves are
//! rendered by the client (`lokid report`, LOKI Desktop).

use axum::extract::State;
use axum::Json as JsonResponse;
use loki_shared::api::ReportSnapshot;
use loki_shared::audit::actions::Action;
use loki_shared::Permission;
use uuid::Uuid;

use super::extract::Path;
use crate::app::AppState;
use crate::audit::Outcome;
use crate::auth::Principal;
use crate::error::AppResult;

#[utoipa::path(get, path = "/orgs/{org_id}/reports/snapshot", tag = "reports",
    summary = "Current state for a compliance report (members, MFA, roles, API keys, open sessions, settings), signed with the audit key",
    responses((status = 200, description = "OK", body = ReportSnapshot)))]
pub async fn snapshot(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<ReportSnapshot>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::ReportGenerate)
        .await?;
    let mut snapshot = state.tenancy.snapshot(&access).await?;
    snapshot.sessions = state
        .accounts
        .org_sessions(access.tenant(), &principal)
        .await?
        .into_iter()
        .map(|mut s| {
            // Whose request took the snapshot is not current state; and the
            // report needs whose session is open, not where from: addresses
            // and user agents stay behind `session:read`.
            s.current = false;
            s.ip = None;
            s.user_agent = None;
            s
        })
        .collect();
    let (snapshot, sha256) = state.auditor.sign_snapshot(snapshot).await?;
    state
        .auditor
        .record(
            principal
                .event(Action::ReportGenerated, Outcome::Success)
                .meta(serde_json::json!({"snapshot": true, "members": snapshot.members.len(), "snapshot_sha256": sha256})),
        )
        .await?;
    Ok(JsonResponse(snapshot))
}
