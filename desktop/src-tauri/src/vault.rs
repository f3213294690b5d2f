//! Tokens in the OS keyring (the Secret Service on Linux), one entry per
//! server URL and user. The web view never sees them; there is no fallback
//! to a file: without a keyring, sign-in refuses and says how to fix it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult, ErrorKind};

/// The keyring service name (what `secret-tool search service loki-desktop`
/// finds).
pub const SERVICE: &str = "loki-desktop";

/// What is stored: the refresh token (single use, rotated at each refresh)
/// and the current access token.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// The keyring account for a server and user.
pub fn account(server: &str, email: &str) -> String {
    format!("{}|{}", server.trim_end_matches('/'), email.to_lowercase())
}

/// Where secrets go. The Secret Service in the app; tests of logic that is
/// not about the keyring may use [`MemoryVault`].
pub trait Vault: Send + Sync {
    fn put(&self, account: &str, tokens: &StoredTokens) -> AppResult<()>;
    fn get(&self, account: &str) -> AppResult<Option<StoredTokens>>;
    fn delete(&self, account: &str) -> AppResult<()>;
}

pub type SharedVault = Arc<dyn Vault>;

/// The OS keyring through the `keyring` crate.
#[derive(Debug, Default)]
pub struct KeyringVault;

const NO_KEYRING: &str =
    "No keyring (Secret Service) is running, so LOKI Desktop cannot keep your \
sign-in safely and will not store it in a plain file. Fix: start your desktop's keyring — on \
GNOME it is gnome-keyring (install the gnome-keyring package and sign in to a desktop session); \
on KDE, KWallet with its Secret Service option; on a server or minimal desktop run \
`gnome-keyring-daemon --start --components=secrets` in a D-Bus session — then sign in again.";

fn keyring_error(e: keyring::Error) -> AppError {
    match e {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            AppError::new(ErrorKind::KeyringUnavailable, NO_KEYRING)
        }
        other => AppError::new(
            ErrorKind::KeyringUnavailable,
            format!("The keyring refused: {other}."),
        ),
    }
}

impl KeyringVault {
    fn entry(account: &str) -> AppResult<keyring::Entry> {
        keyring::Entry::new(SERVICE, account).map_err(keyring_error)
    }
}

impl Vault for KeyringVault {
    fn put(&self, account: &str, tokens: &StoredTokens) -> AppResult<()> {
        let text = serde_json::to_string(tokens)
            .map_err(|e| AppError::new(ErrorKind::Io, e.to_string()))?;
        Self::entry(account)?
            .set_password(&text)
            .map_err(keyring_error)
    }

    fn get(&self, account: &str) -> AppResult<Option<StoredTokens>> {
        match Self::entry(account)?.get_password() {
            Ok(text) => Ok(serde_json::from_str(&text).ok()),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn delete(&self, account: &str) -> AppResult<()> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// In-process secrets, for tests that are not about the keyring.
#[derive(Debug, Default)]
pub struct MemoryVault(std::sync::Mutex<std::collections::HashMap<String, StoredTokens>>);

impl Vault for MemoryVault {
    fn put(&self, account: &str, tokens: &StoredTokens) -> AppResult<()> {
        self.0
            .lock()
            .map_err(|_| AppError::new(ErrorKind::Io, "vault poisoned"))?
            .insert(account.to_owned(), tokens.clone());
        Ok(())
    }
    fn get(&self, account: &str) -> AppResult<Option<StoredTokens>> {
        Ok(self
            .0
            .lock()
            .map_err(|_| AppError::new(ErrorKind::Io, "vault poisoned"))?
            .get(account)
            .cloned())
    }
    fn delete(&self, account: &str) -> AppResult<()> {
        self.0
            .lock()
            .map_err(|_| AppError::new(ErrorKind::Io, "vault poisoned"))?
            .remove(account);
        Ok(())
    }
}

/// Runs a (blocking) keyring call off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::new(ErrorKind::Io, format!("keyring task failed: {e}")))?
}
