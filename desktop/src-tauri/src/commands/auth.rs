use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;
use uuid::Uuid;

use crate::error::{AppError, AppResult, ErrorKind};
use crate::ops::auth::{self, LastSignIn, SignInOutcome};
use crate::ops::sso;
use crate::session::SessionView;
use crate::state::AppState;

/// Signs in with email and password; may ask for a TOTP code next.
#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    state: State<'_, AppState>,
    server: String,
    email: String,
    password: String,
) -> AppResult<SignInOutcome> {
    auth::sign_in(&state, &server, &email, &password).await
}

/// Completes a sign-in with the code from the authenticator app.
#[tauri::command]
#[specta::specta]
pub async fn verify_totp(state: State<'_, AppState>, code: String) -> AppResult<SessionView> {
    auth::verify_totp(&state, &code).await
}

/// Signs in through the organization's identity provider, in the system
/// browser (`$BROWSER` when set, like other tools honour it).
#[tauri::command]
#[specta::specta]
pub async fn sign_in_sso(
    app: AppHandle,
    state: State<'_, AppState>,
    server: String,
    org: String,
) -> AppResult<SessionView> {
    sso::sign_in_sso(&state, &server, &org, |url| open_browser(&app, url)).await
}

fn open_browser(app: &AppHandle, url: &str) -> AppResult<()> {
    let failed = |e: String| {
        AppError::new(
            ErrorKind::Io,
            format!(
                "No browser could be opened ({e}). Set BROWSER, or open a browser and try again."
            ),
        )
    };
    match std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        Some(browser) => {
            let mut child = std::process::Command::new(browser)
                .arg(url)
                .spawn()
                .map_err(|e| failed(e.to_string()))?;
            // Reaped when it exits, whenever that is.
            std::thread::spawn(move || child.wait());
            Ok(())
        }
        None => app
            .opener()
            .open_url(url, None::<&str>)
            .map_err(|e| failed(e.to_string())),
    }
}

/// The last server and email, to prefill the sign-in form.
#[tauri::command]
#[specta::specta]
pub fn last_sign_in(state: State<'_, AppState>) -> Option<LastSignIn> {
    auth::last_sign_in(&state)
}

/// Resumes the last session from the keyring, if the server still accepts it.
#[tauri::command]
#[specta::specta]
pub async fn resume_session(state: State<'_, AppState>) -> AppResult<Option<SessionView>> {
    auth::resume(&state).await
}

#[tauri::command]
#[specta::specta]
pub async fn switch_org(state: State<'_, AppState>, org: Uuid) -> AppResult<SessionView> {
    auth::switch_org(&state, org).await
}

/// Revokes the session on the daemon and deletes the keyring entry.
#[tauri::command]
#[specta::specta]
pub async fn sign_out(state: State<'_, AppState>) -> AppResult<()> {
    auth::sign_out(&state).await
}
