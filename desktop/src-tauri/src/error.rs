//! The one error every command returns: `{kind, message}`, where `message`
//! says what happened and what to do, in words a compliance officer uses.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server could not be reached (down, wrong address, firewall).
    Unreachable,
    /// The TLS handshake failed (certificate not trusted, wrong host name).
    Tls,
    /// Email or password is wrong.
    WrongPassword,
    /// Too many failed attempts: the account is locked for a while.
    Locked,
    /// The TOTP code is wrong, reused, or the challenge expired.
    MfaInvalid,
    /// Signed out on the server (revoked, expired): sign in again.
    SessionExpired,
    /// The caller lacks a permission for this.
    Forbidden,
    /// No Secret Service (keyring) is running: tokens cannot be kept safely.
    KeyringUnavailable,
    /// The server's keys or history do not match what was pinned or witnessed.
    TrustAlarm,
    /// Something the user typed or chose is not usable.
    InvalidInput,
    /// A file could not be read or written.
    Io,
    /// The user cancelled.
    Cancelled,
    /// The server answered with an error not covered above.
    Server,
    /// No sign-in (or no offline bundle) for this action.
    NotSignedIn,
}

#[derive(Debug, Clone, Serialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> Self {
        Self::new(
            ErrorKind::Io,
            format!("Cannot {what} {}: {e}.", path.display()),
        )
    }

    pub fn not_signed_in() -> Self {
        Self::new(ErrorKind::NotSignedIn, "Sign in first.")
    }

    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "Cancelled.")
    }
}

/// Transport failures, told apart the way a user needs: nothing answered,
/// or the TLS handshake failed.
impl From<reqwest::Error> for AppError {
    fn from(e: reqwest::Error) -> Self {
        let chain = error_chain(&e);
        // rustls' messages: "invalid peer certificate: UnknownIssuer",
        // "received corrupt message of type InvalidContentType" (TLS spoken
        // to a plain-HTTP port), handshake alerts.
        let tls = [
            "certificate",
            "tls",
            "ssl",
            "handshake",
            "corrupt message",
            "alert",
        ]
        .iter()
        .any(|w| chain.to_lowercase().contains(&w.to_lowercase()));
        if tls {
            return Self::new(
                ErrorKind::Tls,
                format!(
                    "The secure connection failed: {chain}. Check the server address (https vs http) \
                     and that its certificate is trusted by this computer."
                ),
            );
        }
        if e.is_connect() || e.is_timeout() {
            return Self::new(
                ErrorKind::Unreachable,
                format!(
                    "The server did not answer. Check the address and port, and that lokid is \
                     running (curl <server>/healthz). Detail: {chain}."
                ),
            );
        }
        if e.is_decode() {
            return Self::new(
                ErrorKind::Server,
                "The server's answer was not understood: is this address a LOKI server?",
            );
        }
        Self::new(ErrorKind::Server, format!("Request failed: {chain}."))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
