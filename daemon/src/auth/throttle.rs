//! Brute-force protection for sign-in: a limit per client IP (kv store) and
//! a progressive lockout per account (database: durable, shared by every
//! daemon, survives a Redis restart). Unknown emails are counted and locked
//! exactly like real ones, so the answers reveal nothing about existence.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;

use super::secrets::sha256_hex;
use crate::config::Config;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::security::limits;
use crate::store::DynStore;
use std::sync::Arc;

/// Sign-in throttling by address and account lockout.
#[derive(Clone)]
pub struct Throttle {
    pub(crate) store: DynStore,
    pub(crate) kv: DynKv,
    pub(crate) config: Arc<Config>,
}

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

impl Throttle {
    /// Counts this attempt against the client's IP (with the configured
    /// strategy); refuses past the limit. Without a kv store it refuses unless
    /// `rate_limit.signin_on_store_error = "open"`.
    pub async fn check_ip(&self, ip: IpAddr) -> Result<(), AppError> {
        let cfg = &self.config.rate_limit;
        if !cfg.enabled {
            return Ok(());
        }
        let decision = limits::spend(
            &self.kv,
            &self.config,
            &format!("signin_ip:{ip}"),
            self.config.signin_ip_limit,
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
    pub async fn check_account(&self, email: &str) -> Result<(), AppError> {
        let Some(until) = self.store.signin_locked_until(&account(email)).await? else {
            return Ok(());
        };
        let left = until - Utc::now().timestamp();
        if left > 0 {
            return Err(locked(u64::try_from(left).unwrap_or(1)));
        }
        Ok(())
    }

    /// Counts a failure (a wrong password, TOTP or recovery code); from the
    /// threshold on, locks the account for a doubling time. Returns the lock
    /// error when this failure locked it.
    pub async fn record_failure(&self, email: &str) -> Result<Option<AppError>, AppError> {
        let id = account(email);
        let now = Utc::now().timestamp();
        let kept = i64::try_from(FAILURES_KEPT.as_secs()).unwrap_or(i64::MAX);
        let n = self
            .store
            .count_signin_failure(&id, now, now.saturating_sub(kept))
            .await?;
        let threshold = i64::from(self.config.lockout_threshold.max(1));
        if n < threshold {
            return Ok(None);
        }
        let doublings = u32::try_from(n - threshold).unwrap_or(u32::MAX).min(16);
        let secs = self
            .config
            .lockout_base_secs
            .saturating_mul(1u64 << doublings)
            .min(MAX_LOCK_SECS);
        self.store
            .lock_signin(&id, now + i64::try_from(secs).unwrap_or(0))
            .await?;
        Ok(Some(locked(secs)))
    }

    pub async fn clear(&self, email: &str) -> Result<(), AppError> {
        Ok(self.store.clear_signin_failures(&account(email)).await?)
    }

    /// Forgets failures older than the counting window (hourly maintenance).
    pub async fn purge_old(&self) -> Result<u64, AppError> {
        let kept = i64::try_from(FAILURES_KEPT.as_secs()).unwrap_or(i64::MAX);
        Ok(self
            .store
            .purge_signin_failures(Utc::now().timestamp().saturating_sub(kept))
            .await?)
    }
}

fn locked(secs: u64) -> AppError {
    AppError::TooManyRequests {
        code: "too_many_attempts",
        message: format!("too many failed sign-ins for this account; try again in {secs} seconds"),
        retry_after_secs: secs,
        rate: None,
    }
}
