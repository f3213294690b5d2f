use std::sync::atomic::Ordering;

use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use crate::bundle::Progress;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ops::audit::Source;
use crate::ops::reports::{self, ReportPreview, ReportRequest};
use crate::state::AppState;

/// Builds a report (online or from the open bundle) and shows what it found.
#[tauri::command]
#[specta::specta]
pub async fn generate_report(
    state: State<'_, AppState>,
    source: Source,
    request: ReportRequest,
    on_progress: Channel<Progress>,
) -> AppResult<ReportPreview> {
    reports::generate(&state, source, &request, move |stage, done, total| {
        let _ = on_progress.send(Progress {
            stage: stage.to_owned(),
            done: done as f64,
            total: total.map(|t| t as f64),
        });
    })
    .await
}

/// Saves the report made last as a PDF at `path`.
#[tauri::command]
#[specta::specta]
pub async fn save_report(state: State<'_, AppState>, path: String) -> AppResult<String> {
    reports::save(&state, &path).await
}

/// Stops the running export, verification or report at its next block.
#[tauri::command]
#[specta::specta]
pub fn cancel_task(state: State<'_, AppState>) {
    state.cancel.store(true, Ordering::Relaxed);
}

/// Opens the report saved last with the system's PDF viewer.
#[tauri::command]
#[specta::specta]
pub async fn open_saved_report(app: AppHandle, state: State<'_, AppState>) -> AppResult<()> {
    let path = reports::saved_path(&state).await?;
    app.opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| AppError::new(ErrorKind::Io, format!("No viewer could open it: {e}.")))
}
