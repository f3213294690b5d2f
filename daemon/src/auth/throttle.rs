//! Brute-force protection for sign-in: a limit per client IP and a
//! progressive lockout per account. Counters live in the kv store so every
//! daemon enforces the same numbers. Unknown emails are counted and locked
//! exactly like real ones, so the answers reveal nothing about existence.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;

use super::secrets::sha256_hex;
use crate::app::AppState;
use crate::error::AppError;
use crate::security::limits;

const IP_WINDOW: Duration = limits::SIGNIN_WINDOW;
const FAILURES_KEPT: Duration = Duration::from_secs(24 * 3600);
const MAX_LOCK_SECS: u64 = 3600;

fn kv_err(e: crate::kv::KvError) -> AppError {
    AppError::Unavailable(e.to_string())
}

fn account(email: &str) -> String {
    sha256_hex(email.trim().to_lowercase().as_bytes())
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

/// Refuses while the account is locked.
pub async fn check_account(state: &AppState, email: &str) -> Result<(), AppError> {
    let Some(until) = state
        .kv
        .get(&format!("signin_lock:{}", account(email)))
        .await
        .map_err(kv_err)?
    else {
        return Ok(());
    };
    let until: i64 = std::str::from_utf8(&until)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
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

/// Counts a failure; from the threshold on, locks the account for a
/// doubling time. Returns the lock error when this failure locked it.
pub async fn record_failure(state: &AppState, email: &str) -> Result<Option<AppError>, AppError> {
    let id = account(email);
    let n = state
        .kv
        .incr(&format!("signin_fail:{id}"), 1, FAILURES_KEPT)
        .await
        .map_err(kv_err)?;
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
    let until = Utc::now().timestamp() + i64::try_from(secs).unwrap_or(0);
    state
        .kv
        .set(
            &format!("signin_lock:{id}"),
            until.to_string().as_bytes(),
            Some(Duration::from_secs(secs)),
        )
        .await
        .map_err(kv_err)?;
    Ok(Some(locked(secs)))
}

pub async fn clear(state: &AppState, email: &str) -> Result<(), AppError> {
    let id = account(email);
    state
        .kv
        .delete(&format!("signin_fail:{id}"))
        .await
        .map_err(kv_err)?;
    state
        .kv
        .delete(&format!("signin_lock:{id}"))
        .await
        .map_err(kv_err)?;
    Ok(())
}
