//! Sign-in, TOTP, resume after restart, organization switch and sign-out.

use std::sync::atomic::Ordering;

use loki_shared::api::LoginResponse;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::{normalise_server, DaemonClient};
use crate::error::{AppError, AppResult};
use crate::session::{Session, SessionView};
use crate::state::AppState;
use crate::trust::{write_file, PinState};
use crate::vault::{self, account};

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignInOutcome {
    SignedIn {
        session: Box<SessionView>,
    },
    /// The password was right; ask for the TOTP code.
    MfaRequired,
}

/// The last server and email (no secret), to offer them and resume.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type)]
pub struct LastSignIn {
    pub server: String,
    pub email: String,
}

fn last_path(state: &AppState) -> std::path::PathBuf {
    state.data_dir.join("last-sign-in.json")
}

pub fn last_sign_in(state: &AppState) -> Option<LastSignIn> {
    let text = std::fs::read_to_string(last_path(state)).ok()?;
    serde_json::from_str(&text).ok()
}

async fn pin(state: &AppState, client: &DaemonClient) -> AppResult<PinState> {
    let keys = client.audit_keys().await?;
    state
        .trust
        .check_server(client.base().as_str().trim_end_matches('/'), &keys.keys)
}

pub(crate) async fn begin(
    state: &AppState,
    client: DaemonClient,
    email: &str,
    t: &loki_shared::api::TokenResponse,
) -> AppResult<SessionView> {
    let pin = pin(state, &client).await?;
    let server = client.base().as_str().trim_end_matches('/').to_owned();
    let mut session =
        Session::start(client, state.vault.clone(), account(&server, email), t, pin).await?;
    match finish_sign_in(state, &mut session, server, email).await {
        Ok(view) => {
            *state.session.lock().await = Some(session);
            Ok(view)
        }
        Err(e) => {
            // Half a sign-in leaves nothing behind.
            let _ = session.sign_out().await;
            Err(e)
        }
    }
}

/// Opens the session in an organization (the first, when the token has
/// none) and remembers where it came from.
async fn finish_sign_in(
    state: &AppState,
    session: &mut Session,
    server: String,
    email: &str,
) -> AppResult<SessionView> {
    if session.org.is_none() {
        if let Some(first) = session.organizations.first().map(|o| o.id) {
            session.switch_org(first).await?;
        }
    }
    let view = session.view();
    let ids: Vec<Uuid> = view.organizations.iter().map(|o| o.id).collect();
    state.trust.record_orgs(&view.server, &ids)?;
    let last = LastSignIn {
        server,
        email: email.to_owned(),
    };
    write_file(
        &last_path(state),
        &serde_json::to_vec(&last).unwrap_or_default(),
    )?;
    Ok(view)
}

pub async fn sign_in(
    state: &AppState,
    server: &str,
    email: &str,
    password: &str,
) -> AppResult<SignInOutcome> {
    let email = email.trim();
    if email.is_empty() || password.is_empty() {
        return Err(AppError::input("Enter your email and password."));
    }
    let client = DaemonClient::new(normalise_server(server)?)?;
    // The keyring first: no point signing in when the tokens have nowhere
    // safe to go.
    let v = state.vault.clone();
    vault::blocking(move || v.get("loki-desktop-probe").map(|_| ())).await?;
    match client.login(email, password).await? {
        LoginResponse::Tokens(t) => Ok(SignInOutcome::SignedIn {
            session: Box::new(begin(state, client, email, &t).await?),
        }),
        LoginResponse::MfaRequired(c) => {
            *state.challenge.lock().await = Some((
                client.base().to_string(),
                email.to_owned(),
                c.challenge.clone(),
            ));
            Ok(SignInOutcome::MfaRequired)
        }
    }
}

pub async fn verify_totp(state: &AppState, code: &str) -> AppResult<SessionView> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::new(
            crate::error::ErrorKind::MfaInvalid,
            "Enter the 6-digit code from your authenticator app.",
        ));
    }
    let Some((server, email, challenge)) = state.challenge.lock().await.clone() else {
        return Err(AppError::input("Start with your email and password."));
    };
    let client = DaemonClient::new(normalise_server(&server)?)?;
    match client.mfa_verify(&challenge, &code).await? {
        LoginResponse::Tokens(t) => {
            *state.challenge.lock().await = None;
            begin(state, client, &email, &t).await
        }
        LoginResponse::MfaRequired(_) => Err(AppError::input("The server asked for another code.")),
    }
}

/// At start: the last sign-in, if its tokens are still in the keyring and
/// the server still accepts them.
pub async fn resume(state: &AppState) -> AppResult<Option<SessionView>> {
    let Some(last) = last_sign_in(state) else {
        return Ok(None);
    };
    let acct = account(&last.server, &last.email);
    let v = state.vault.clone();
    let a = acct.clone();
    let Some(tokens) = vault::blocking(move || v.get(&a)).await? else {
        return Ok(None);
    };
    let client = DaemonClient::new(normalise_server(&last.server)?)?;
    let pin = pin(state, &client).await?;
    match Session::resume(client, state.vault.clone(), acct.clone(), tokens, pin).await {
        Ok(s) => {
            let view = s.view();
            let ids: Vec<Uuid> = view.organizations.iter().map(|o| o.id).collect();
            state.trust.record_orgs(&view.server, &ids)?;
            *state.session.lock().await = Some(s);
            Ok(Some(view))
        }
        Err(e) if e.kind == crate::error::ErrorKind::SessionExpired => {
            let v = state.vault.clone();
            vault::blocking(move || v.delete(&acct)).await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub async fn switch_org(state: &AppState, org: Uuid) -> AppResult<SessionView> {
    let mut s = state.signed_in().await?;
    s.switch_org(org).await?;
    Ok(s.view())
}

pub async fn sign_out(state: &AppState) -> AppResult<()> {
    state.cancel.store(true, Ordering::Relaxed);
    let session = state.session.lock().await.take();
    *state.report.lock().await = None;
    match session {
        Some(s) => s.sign_out().await,
        None => Ok(()),
    }
}
