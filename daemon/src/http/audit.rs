//! `/api/v1/orgs/{org_id}/audit/*`: search, read, export, verify. Reading
//! and exporting the trail are themselves audited.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json as JsonResponse;
use chrono::Utc;
use loki_shared::api::AuditEventList;
use loki_shared::api::AuditKeyList;
use loki_shared::audit::actions::Action;
use loki_shared::audit::{AuditEvent, VerifyReport};
use loki_shared::Permission;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::extract::{Path, Query};
use crate::app::AppState;
use crate::audit::retention::PurgeResult;
use crate::audit::Outcome;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::store::AuditFilter;

use crate::validate::{self, time_range as range};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    #[serde(default)]
    actor: Option<Uuid>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    action_prefix: Option<String>,
    #[serde(default)]
    resource_type: Option<String>,
    #[serde(default)]
    resource_id: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<i64>,
}

fn short(field: &str, v: &Option<String>) -> Result<(), AppError> {
    if v.as_ref()
        .is_some_and(|s| s.is_empty() || s.chars().count() > 200)
    {
        return Err(AppError::validation(field, "must be 1 to 200 characters"));
    }
    Ok(())
}

#[utoipa::path(get, path = "/orgs/{org_id}/audit/events", tag = "audit", summary = "Search the audit trail (newest first)", params(SearchParams), responses((status = 200, description = "OK", body = AuditEventList)))]
pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(p): Query<SearchParams>,
) -> AppResult<JsonResponse<AuditEventList>> {
    search_in(&state, &principal, Some(org_id), p).await
}

#[utoipa::path(get, path = "/system/audit/events", tag = "system", summary = "Search the system audit chain (super admin)", params(SearchParams), responses((status = 200, description = "OK", body = AuditEventList)))]
pub async fn system_search(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<SearchParams>,
) -> AppResult<JsonResponse<AuditEventList>> {
    search_in(&state, &principal, None, p).await
}

async fn search_in(
    state: &AppState,
    principal: &Principal,
    org: Option<Uuid>,
    p: SearchParams,
) -> AppResult<JsonResponse<AuditEventList>> {
    let tenant = state
        .admission
        .admit_chain(principal, org, Permission::AuditRead)
        .await?;
    let limit = validate::page_limit(p.limit, 50, 500)?;
    if p.cursor.is_some_and(|c| c < 1) {
        return Err(AppError::validation("cursor", "must be a positive seq"));
    }
    if p.outcome
        .as_deref()
        .is_some_and(|o| !["success", "denied", "failure"].contains(&o))
    {
        return Err(AppError::validation(
            "outcome",
            "must be success, denied or failure",
        ));
    }
    for (f, v) in [
        ("action", &p.action),
        ("action_prefix", &p.action_prefix),
        ("resource_type", &p.resource_type),
        ("resource_id", &p.resource_id),
    ] {
        short(f, v)?;
    }
    let (from, to) = range(p.from.as_deref(), p.to.as_deref())?;
    let filter = AuditFilter {
        actor: p.actor,
        action: p.action,
        action_prefix: p.action_prefix,
        resource_type: p.resource_type,
        resource_id: p.resource_id,
        outcome: p.outcome,
        from,
        to,
        before: p.cursor,
        limit,
    };
    let bodies = state.audit_trail.search(tenant, filter).await?;
    // Stored events are ours: one that does not parse is a server fault,
    // never silently left out of what an auditor sees.
    let events: Vec<AuditEvent> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| AppError::Internal(e.into())))
        .collect::<Result<_, _>>()?;
    let next_cursor = (events.len() as i64 == limit)
        .then(|| events.last().and_then(|e| i64::try_from(e.seq).ok()))
        .flatten();
    state
        .auditor
        .record(
            principal
                .event(Action::AuditRead, Outcome::Success)
                .meta(json!({"results": events.len()})),
        )
        .await?;
    Ok(JsonResponse(AuditEventList {
        events,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/orgs/{org_id}/audit/events/{id}", tag = "audit", summary = "One audit event", responses((status = 200, description = "OK", body = AuditEvent)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((org_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<JsonResponse<AuditEvent>> {
    get_in(&state, &principal, Some(org_id), id).await
}

#[utoipa::path(get, path = "/system/audit/events/{id}", tag = "system", summary = "One system audit event (super admin)", responses((status = 200, description = "OK", body = AuditEvent)))]
pub async fn system_get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<JsonResponse<AuditEvent>> {
    get_in(&state, &principal, None, id).await
}

async fn get_in(
    state: &AppState,
    principal: &Principal,
    org: Option<Uuid>,
    id: Uuid,
) -> AppResult<JsonResponse<AuditEvent>> {
    let tenant = state
        .admission
        .admit_chain(principal, org, Permission::AuditRead)
        .await?;
    let body = state.audit_trail.event(tenant, id).await?;
    state
        .auditor
        .record(
            principal
                .event(Action::AuditRead, Outcome::Success)
                .resource("audit_event", id),
        )
        .await?;
    Ok(JsonResponse(
        serde_json::from_str::<AuditEvent>(&body).map_err(|e| AppError::Internal(e.into()))?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

#[utoipa::path(get, path = "/orgs/{org_id}/audit/export", tag = "audit", summary = "Export a verifiable bundle (JSON Lines) or CSV", params(ExportParams), responses((status = 200, description = "The bundle (application/x-ndjson) or CSV (text/csv)", content_type = "application/x-ndjson", body = String)))]
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(p): Query<ExportParams>,
) -> AppResult<Response> {
    export_in(state, principal, Some(org_id), p).await
}

#[utoipa::path(get, path = "/system/audit/export", tag = "system", summary = "Export the system chain (super admin)", params(ExportParams), responses((status = 200, description = "The bundle (application/x-ndjson) or CSV (text/csv)", content_type = "application/x-ndjson", body = String)))]
pub async fn system_export(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<ExportParams>,
) -> AppResult<Response> {
    export_in(state, principal, None, p).await
}

async fn export_in(
    state: AppState,
    principal: Principal,
    org: Option<Uuid>,
    p: ExportParams,
) -> AppResult<Response> {
    let tenant = state
        .admission
        .admit_chain(&principal, org, Permission::AuditExport)
        .await?;
    let org_id = tenant.id();
    let format = p.format.unwrap_or_else(|| "bundle".into());
    if format != "bundle" && format != "csv" {
        return Err(AppError::validation("format", "must be bundle or csv"));
    }
    let (from, to) = range(p.from.as_deref(), p.to.as_deref())?;
    // Recorded first, so a whole-chain export contains (and covers) it.
    state
        .auditor
        .record(
            principal
                .event(Action::AuditExported, Outcome::Success)
                .meta(json!({"format": format, "from": p.from, "to": p.to})),
        )
        .await?;
    let range = state.audit_trail.prepare(tenant, from, to).await?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let (body, ctype, ext) = if format == "csv" {
        (
            Body::from_stream(state.audit_trail.csv_stream(tenant, range)),
            "text/csv; charset=utf-8",
            "csv",
        )
    } else {
        let head = state.audit_trail.head_lines(tenant, from, to).await?;
        let tail = match &range {
            Some(r) => state.audit_trail.checkpoint_lines(tenant, r).await?,
            None => Vec::new(),
        };
        (
            Body::from_stream(state.audit_trail.bundle_stream(tenant, head, range, tail)),
            "application/x-ndjson",
            "jsonl",
        )
    };
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    let disposition = format!("attachment; filename=\"audit-{org_id}-{stamp}.{ext}\"");
    resp.headers_mut().insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| AppError::Internal(e.into()))?,
    );
    Ok(resp)
}

#[utoipa::path(get, path = "/orgs/{org_id}/audit/verify", tag = "audit", summary = "Verify the chain and checkpoints on the server", responses((status = 200, description = "OK", body = VerifyReport)))]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<VerifyReport>> {
    verify_in(&state, &principal, Some(org_id)).await
}

#[utoipa::path(get, path = "/system/audit/verify", tag = "system", summary = "Verify the system chain (super admin)", responses((status = 200, description = "OK", body = VerifyReport)))]
pub async fn system_verify(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<JsonResponse<VerifyReport>> {
    verify_in(&state, &principal, None).await
}

async fn verify_in(
    state: &AppState,
    principal: &Principal,
    org: Option<Uuid>,
) -> AppResult<JsonResponse<VerifyReport>> {
    let tenant = state
        .admission
        .admit_chain(principal, org, Permission::AuditVerify)
        .await?;
    let report = state.audit_trail.verify(tenant).await?;
    let outcome = if report.ok {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    state
        .auditor
        .record(
            principal
                .event(Action::AuditVerified, outcome)
                .meta(json!({"ok": report.ok, "events": report.events, "failure": report.failure})),
        )
        .await?;
    Ok(JsonResponse(report))
}

/// `POST …/audit/purge`: applies the retention period now.
#[utoipa::path(post, path = "/orgs/{org_id}/audit/purge", tag = "audit", summary = "Apply the retention period now", responses((status = 200, description = "OK", body = PurgeResult)))]
pub async fn purge(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
) -> AppResult<JsonResponse<PurgeResult>> {
    let access = state
        .admission
        .require(&principal, org_id, Permission::AuditPurge)
        .await?;
    let days = access.org().settings.audit_retention_days;
    let event = principal.event(Action::AuditPurged, Outcome::Success);
    Ok(JsonResponse(
        state
            .audit_trail
            .purge(access.tenant(), days, event)
            .await?,
    ))
}

#[utoipa::path(get, path = "/audit/keys", tag = "audit",
    summary = "The audit public keys with fingerprints, to pin for offline verification (no sign-in needed; no secrets)",
    responses((status = 200, description = "OK", body = AuditKeyList)))]
pub async fn keys(State(state): State<AppState>) -> AppResult<JsonResponse<AuditKeyList>> {
    Ok(JsonResponse(AuditKeyList {
        keys: state.auditor.published_keys().await?,
    }))
}
