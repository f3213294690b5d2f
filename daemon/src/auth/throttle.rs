//! Brute-force protection for sign-in: a limit per client IP (kv store) and
//! a progressive lockout per account (database: durable, shared by every
//! daemon, survives a Redis restart). Unknown emails are counted and locked
//! exactly like real ones, so the answers reveal nothing about existence.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;

use super::secrets::sha256_hex;
use crate::error::AppError;
use crate::security::limits;
use crate::state::AppState;

const IP_WINDOW: Duration = limits::SIGNIN_WINDOW;
const FAILURES_KEPT: Duration = Duration::from_secs(24 * 3600);
const MAX_LOCK_SECS: u64 = 3600;

/// The lockout key: the normalised email (as stored), else the raw text
/// trimmed and lowercased, so look-alike spellings share one counter.
fn account(email: &str) -> String {
    let key =
        crate::validate::email("email", email).unwrap_or_else(|_| email.trim().to_lowercase());
    sha256_hex(key.as_bytes())
}

/// Counts this attempt against the client's IP (with the configured
/// strategy); refuses past the limit. Without a kv store it refuses unless
/// `rate_limit.signin_on_store_error = "open"`.
pub async fn check_ip(state: &AppState, ip: IpAddr) -> Result<(), AppError> {
    let cfg = &state.config.rate_limit;
    if !cfg.enabled {
        return Ok(());
    }
    let decision = limits::spend(
        state,
        &format!("signin_ip:{ip}"),
        state.config.signin_ip_limit,
        IP_WINDOW.as_millis() as u64,
        cfg.signin_on_store_error,
    )
    .await?;
    match decision {
        Some(d) if !d.allowed => Err(limits::refusal(
            "too many sign-in attempts from this address; slow down".into(),
            d,
        )),
        _ => Ok(()),
    }
}

/// Refuses while the account is locked. The lock is in the database, so
/// it holds on every daemon and survives a restart of the kv store.
pub async fn check_account(state: &AppState, email: &str) -> Result<(), AppError> {
    let Some(until) = state.store.signin_locked_until(&account(email)).await? else {
        return Ok(());
    };
    let left = until - Utc::now().timestamp();
    if left > 0 {
        return Err(locked(u64::try_from(left).unwrap_or(1)));
    }
    Ok(())
}

fn locked(secs: u64) -> AppError {
    AppError::TooManyRequests {
        code: "too_many_attempts",
        message: format!("too many failed sign-ins for this account; try again in {secs} seconds"),
        retry_after_secs: secs,
        rate: None,
    }
}

/// Counts a failure (a wrong password, TOTP or recovery code); from the
/// threshold on, locks the account for a doubling time. Returns the lock
/// error when this failure locked it.
pub async fn record_failure(state: &AppState, email: &str) -> Result<Option<AppError>, AppError> {
    let id = account(email);
    let now = Utc::now().timestamp();
    let kept = i64::try_from(FAILURES_KEPT.as_secs()).unwrap_or(i64::MAX);
    let n = state
        .store
        .count_signin_failure(&id, now, now.saturating_sub(kept))
        .await?;
    let threshold = i64::from(state.config.lockout_threshold.max(1));
    if n < threshold {
        return Ok(None);
    }
    let doublings = u32::try_from(n - threshold).unwrap_or(u32::MAX).min(16);
    let secs = state
        .config
        .lockout_base_secs
        .saturating_mul(1u64 << doublings)
        .min(MAX_LOCK_SECS);
    state
        .store
        .lock_signin(&id, now + i64::try_from(secs).unwrap_or(0))
        .await?;
    Ok(Some(locked(secs)))
}

pub async fn clear(state: &AppState, email: &str) -> Result<(), AppError> {
    Ok(state.store.clear_signin_failures(&account(email)).await?)
}

/// Forgets failures older than the counting window (hourly maintenance).
pub async fn purge_old(state: &AppState) -> Result<u64, AppError> {
    let kept = i64::try_from(FAILURES_KEPT.as_secs()).unwrap_or(i64::MAX);
    Ok(state
        .store
        .purge_signin_failures(Utc::now().timestamp().saturating_sub(kept))
        .await?)
}
