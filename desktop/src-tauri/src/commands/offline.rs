use tauri::ipc::Channel;
use tauri::State;

use crate::bundle::Progress;
use crate::error::AppResult;
use crate::ops::offline::{self, OfflineSummary};
use crate::state::AppState;

/// Opens and verifies an audit bundle file (no daemon needed).
#[tauri::command]
#[specta::specta]
pub async fn open_bundle(
    state: State<'_, AppState>,
    path: String,
    on_progress: Channel<Progress>,
) -> AppResult<OfflineSummary> {
    offline::open(&state, &path, move |done, total| {
        let _ = on_progress.send(Progress {
            stage: "Verifying".into(),
            done: done as f64,
            total: Some(total as f64),
        });
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub async fn close_bundle(state: State<'_, AppState>) -> AppResult<()> {
    offline::close(&state).await;
    Ok(())
}
