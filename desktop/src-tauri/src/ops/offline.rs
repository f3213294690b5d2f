//! Offline mode: an audit bundle file, verified here against the pinned
//! keys and witness files, then browsed in the same explorer. No daemon.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use loki_shared::audit::VerifyReport;
use serde::Serialize;
use uuid::Uuid;

use crate::bundle;
use crate::error::{AppError, AppResult};
use crate::ops::audit::alarm_of;
use crate::state::AppState;
use crate::trust::PinState;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct OfflineSummary {
    pub path: String,
    pub sha256: String,
    pub org_id: Option<Uuid>,
    pub events: f64,
    pub report: VerifyReport,
    /// Set when the bundle must not be relied on: why, and what to do.
    pub alarm: Option<String>,
    /// Whether the keys of the server this organization came from are
    /// pinned here (otherwise only integrity is established, not who signed).
    pub keys_pinned: bool,
    /// That server.
    pub server: Option<String>,
}

pub async fn open(
    state: &AppState,
    path: &str,
    progress: impl Fn(u64, u64) + Send + 'static,
) -> AppResult<OfflineSummary> {
    let path = std::path::PathBuf::from(path.trim());
    if path.as_os_str().is_empty() {
        return Err(AppError::input("Choose an audit bundle file (.jsonl)."));
    }
    state.cancel.store(false, Ordering::Relaxed);
    let trust = state.trust.clone();
    let cancel = state.cancel.clone();
    let opened =
        tokio::task::spawn_blocking(move || bundle::open(&path, &trust, &cancel, progress))
            .await
            .map_err(|e| AppError::new(crate::error::ErrorKind::Io, e.to_string()))??;
    if opened.verify.events == 0 && opened.verify.failure.is_none() {
        return Err(AppError::input(
            "This file holds no audit events: is it a LOKI audit bundle (lokid audit export)?",
        ));
    }
    let pin = PinState::Match {
        fingerprints: opened.verify.signer_fingerprints.clone(),
    };
    let keys_pinned = match &opened.server {
        Some(s) => !state.trust.pinned(s)?.0.is_empty(),
        None => false,
    };
    let alarm = match (&opened.server, opened.verify.ok) {
        (None, true) => Some(
            "This organization was never seen at a sign-in on this computer, so there is no pinned \
             key to check its signer against: the chain is intact, but who signed it is not \
             established. Sign in once to its server to pin its keys."
                .to_owned(),
        ),
        _ => alarm_of(&opened.verify, &pin),
    };
    let summary = OfflineSummary {
        server: opened.server.clone(),
        path: opened.path.clone(),
        sha256: opened.sha256.clone(),
        org_id: opened.verify.org_id,
        events: opened.events.len() as f64,
        alarm,
        report: opened.verify.clone(),
        keys_pinned,
    };
    *state.offline.lock().await = Some(Arc::new(opened));
    Ok(summary)
}

pub async fn close(state: &AppState) {
    *state.offline.lock().await = None;
}
