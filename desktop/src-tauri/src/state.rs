//! What the app holds between commands. Locks are tokio mutexes: commands
//! await the daemon while holding the session.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::bundle::OpenedBundle;
use crate::error::{AppError, AppResult};
use crate::session::Session;
use crate::trust::TrustStore;
use crate::vault::SharedVault;

/// A report made and shown, waiting to be saved where the user chooses.
pub struct PendingReport {
    pub pdf: Vec<u8>,
    pub suggested_name: String,
    /// Where it was saved: the only file the window may ask to open.
    pub saved_to: Option<std::path::PathBuf>,
}

pub struct AppState {
    pub vault: SharedVault,
    pub trust: TrustStore,
    /// The app's data folder (pins, witnesses, last server and email).
    pub data_dir: PathBuf,
    pub session: Mutex<Option<Session>>,
    /// A sign-in waiting for its TOTP code: (server, email, challenge).
    pub challenge: Mutex<Option<(String, String, String)>>,
    pub offline: Mutex<Option<Arc<OpenedBundle>>>,
    pub report: Mutex<Option<PendingReport>>,
    /// Set by `cancel_task`; long tasks check it between blocks.
    pub cancel: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(vault: SharedVault, data_dir: PathBuf) -> Self {
        Self {
            vault,
            trust: TrustStore::new(data_dir.join("trust")),
            data_dir,
            session: Mutex::new(None),
            challenge: Mutex::new(None),
            offline: Mutex::new(None),
            report: Mutex::new(None),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The signed-in session, held for the caller's request.
    pub async fn signed_in(&self) -> AppResult<MappedMutexGuard<'_, Session>> {
        MutexGuard::try_map(self.session.lock().await, Option::as_mut)
            .map_err(|_| AppError::not_signed_in())
    }
}
