//! "Sign in with SSO", as RFC 8252 has native apps do it: the system
//! browser signs in at the organization's identity provider and comes back
//! to a one-shot listener on 127.0.0.1 (an ephemeral port). The code it
//! brings only redeems with this app's PKCE verifier, and the state must be
//! the one this app sent. Tokens then go to the keyring as for a password.

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use loki_shared::api::{LoginResponse, SessionKind, SsoStartRequest};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::{normalise_server, DaemonClient};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ops::auth::begin;
use crate::session::SessionView;
use crate::state::AppState;
use crate::vault;

/// How long the browser may take to come back.
pub const SSO_TIMEOUT: Duration = Duration::from_secs(300);

fn random_token() -> String {
    // Two v4 UUIDs: 244 random bits, in characters PKCE allows.
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// What the browser brought back to the listener.
struct Returned {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

const DONE_PAGE: &str = "<!doctype html><meta charset=utf-8><title>LOKI Desktop</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>You are signed in</h1>\
<p>Return to LOKI Desktop; you can close this tab.</p></body>";
const FAILED_PAGE: &str = "<!doctype html><meta charset=utf-8><title>LOKI Desktop</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>Sign-in did not complete</h1>\
<p>Return to LOKI Desktop to see why.</p></body>";

async fn answer(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads one request head; the `GET /callback?…` query, if that is what it is.
async fn read_callback(stream: &mut TcpStream) -> Option<url::Url> {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    while len < buf.len() {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf[len..]))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let target = head
        .lines()
        .next()?
        .strip_prefix("GET ")?
        .split(' ')
        .next()?;
    let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    (url.path() == "/callback").then_some(url)
}

/// Waits for the browser (other requests, such as a favicon, get a 404).
async fn wait_for_browser(
    state: &AppState,
    listener: TcpListener,
    ours: &str,
) -> AppResult<Returned> {
    let deadline = tokio::time::Instant::now() + SSO_TIMEOUT;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut stream, _)) = accepted else { continue };
                let Some(url) = read_callback(&mut stream).await else {
                    answer(&mut stream, "404 Not Found", "").await;
                    continue;
                };
                let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
                let r = Returned {
                    code: get("code"),
                    state: get("state"),
                    error: get("error"),
                    error_description: get("error_description"),
                };
                // Someone else's return (another program, a web page probing
                // ports) is turned away; the sign-in keeps waiting for ours.
                if r.state.as_deref() != Some(ours) {
                    answer(&mut stream, "400 Bad Request", FAILED_PAGE).await;
                    continue;
                }
                let page = if r.code.is_some() { DONE_PAGE } else { FAILED_PAGE };
                answer(&mut stream, "200 OK", page).await;
                return Ok(r);
            }
            _ = tick.tick() => {
                if state.cancel.swap(false, Ordering::SeqCst) {
                    return Err(AppError::cancelled());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(AppError::new(
                        ErrorKind::Cancelled,
                        "The browser did not come back within 5 minutes. Start the sign-in again.",
                    ));
                }
            }
        }
    }
}

/// Signs in through the organization's identity provider. `open` shows the
/// provider's page in the system browser.
pub async fn sign_in_sso(
    state: &AppState,
    server: &str,
    org: &str,
    open: impl FnOnce(&str) -> AppResult<()>,
) -> AppResult<SessionView> {
    let org = org.trim();
    if org.is_empty() {
        return Err(AppError::input(
            "Enter your organization's short name (or its id) to sign in with its identity provider.",
        ));
    }
    let client = DaemonClient::new(normalise_server(server)?)?;
    let v = state.vault.clone();
    vault::blocking(move || v.get("loki-desktop-probe").map(|_| ())).await?;
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
        AppError::new(
            ErrorKind::Io,
            format!("Cannot listen for the browser on this computer: {e}."),
        )
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| {
            AppError::new(
                ErrorKind::Io,
                format!("Cannot listen for the browser: {e}."),
            )
        })?
        .port();
    let verifier = random_token();
    let ours = random_token();
    let start = client
        .sso_start(&SsoStartRequest {
            org: org.to_owned(),
            provider: None,
            kind: SessionKind::Token,
            return_to: format!("http://127.0.0.1:{port}/callback"),
            code_challenge: challenge_of(&verifier),
            state: Some(ours.clone()),
        })
        .await?;
    // Only a web page goes to the browser: the URL comes from the
    // organization's provider configuration.
    let web = url::Url::parse(&start.authorization_url).ok().filter(|u| {
        u.scheme() == "https"
            || (u.scheme() == "http"
                && matches!(u.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback()))
    });
    if web.is_none() {
        return Err(AppError::new(
            ErrorKind::TrustAlarm,
            "The identity provider's sign-in page is not an https address. Nothing was opened; tell your administrator.",
        ));
    }
    state.cancel.store(false, Ordering::SeqCst);
    open(&start.authorization_url)?;
    let back = wait_for_browser(state, listener, &ours).await?;
    if let Some(e) = back.error {
        let why = back.error_description.unwrap_or(e);
        return Err(AppError::new(
            ErrorKind::Forbidden,
            format!("The identity provider did not sign you in: {why}."),
        ));
    }
    let Some(code) = back.code else {
        return Err(AppError::new(
            ErrorKind::Server,
            "The browser came back without a sign-in code.",
        ));
    };
    match client.sso_exchange(&code, &verifier).await? {
        LoginResponse::Tokens(t) => {
            let email = t.user.email.clone();
            begin(state, client, &email, &t).await
        }
        LoginResponse::MfaRequired(_) => Err(AppError::new(
            ErrorKind::Server,
            "The server asked for a second factor after single sign-on.",
        )),
    }
}
