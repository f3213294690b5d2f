use loki_shared::api::AuditEventList;
use tauri::ipc::Channel;
use tauri::State;
use uuid::Uuid;

use crate::bundle::Progress;
use crate::client::AuditFilter;
use crate::error::AppResult;
use crate::ops::audit::{self, ChainStatus, EventDetail, ExportDone, ExportFormat, Person, Source};
use crate::state::AppState;

/// A page of events, newest first; pass `next_cursor` back for the next.
#[tauri::command]
#[specta::specta]
pub async fn search_events(
    state: State<'_, AppState>,
    source: Source,
    filter: AuditFilter,
    cursor: Option<i64>,
    limit: u32,
) -> AppResult<AuditEventList> {
    audit::search(&state, source, &filter, cursor, limit).await
}

#[tauri::command]
#[specta::specta]
pub async fn get_event(
    state: State<'_, AppState>,
    source: Source,
    id: Uuid,
) -> AppResult<EventDetail> {
    audit::event(&state, source, id).await
}

/// Members of the current organization (to show actors by email).
#[tauri::command]
#[specta::specta]
pub async fn org_people(state: State<'_, AppState>) -> AppResult<Vec<Person>> {
    audit::people(&state).await
}

/// Verifies the organization's chain here, against pins and witness.
#[tauri::command]
#[specta::specta]
pub async fn chain_status(state: State<'_, AppState>) -> AppResult<ChainStatus> {
    audit::chain_status(&state).await
}

#[tauri::command]
#[specta::specta]
pub async fn export_audit(
    state: State<'_, AppState>,
    format: ExportFormat,
    path: String,
    on_progress: Channel<Progress>,
) -> AppResult<ExportDone> {
    audit::export(&state, format, &path, move |n| {
        let _ = on_progress.send(Progress {
            stage: "Downloading".into(),
            done: n as f64,
            total: None,
        });
    })
    .await
}
