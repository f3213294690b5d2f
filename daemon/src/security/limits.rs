//! The deployment's rate limits on top of [`super::rate_limit`]: which
//! budgets a request spends, what happens when the kv store cannot be
//! reached, and the `RateLimit-*` headers.

use loki_shared::audit::actions::Action;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::Utc;
use loki_shared::api::Organization;
use serde::{Deserialize, Serialize};

use super::rate_limit::{Decision, Rule, Strategy};
use crate::audit::Outcome;
use crate::auth::{Credential, Principal};
use crate::config::Config;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::state::AppState;

/// What to do when the kv store cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Admit the request (and log that limits are not enforced).
    Open,
    /// Refuse it with 503.
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// `fixed_window`, `sliding_window` or `token_bucket`.
    pub strategy: Strategy,
    /// Requests a minute for one session or API key (0: no limit).
    pub per_credential_per_minute: u32,
    /// When the kv store (Redis) is unreachable, for API requests...
    pub on_store_error: FailMode,
    /// ...and for sign-in attempts.
    pub signin_on_store_error: FailMode,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            strategy: Strategy::SlidingWindow,
            per_credential_per_minute: 600,
            on_store_error: FailMode::Open,
            signin_on_store_error: FailMode::Closed,
        }
    }
}

const HOUR_MS: u64 = 3_600_000;
const MINUTE_MS: u64 = 60_000;

/// Spends one request from the budget of `key`; `Ok(None)` when the store
/// failed and the fail mode is open.
pub async fn spend(
    kv: &DynKv,
    config: &Config,
    key: &str,
    limit: u32,
    window_ms: u64,
    on_error: FailMode,
) -> Result<Option<Decision>, AppError> {
    let rule = Rule {
        strategy: config.rate_limit.strategy,
        limit,
        window_ms,
    };
    match kv
        .rate_limit(&format!("rl:{key}"), &rule, Utc::now().timestamp_millis())
        .await
    {
        Ok(d) => Ok(Some(d)),
        Err(e) => match on_error {
            FailMode::Open => {
                warn_unenforced(&e);
                Ok(None)
            }
            FailMode::Closed => Err(AppError::Unavailable(format!("rate limiter: {e}"))),
        },
    }
}

/// Logs at most every 10 s that limits are not being enforced.
fn warn_unenforced(e: &crate::kv::KvError) {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = Utc::now().timestamp();
    if now - LAST.swap(now, Ordering::Relaxed) >= 10 {
        tracing::warn!(error = %e, "rate limits not enforced: the kv store is unreachable (fail open)");
    }
}

/// The organization's hourly budget (its tier's) and the credential's.
/// Returns the tighter of the two decisions for the response headers.
pub async fn check_request(
    state: &AppState,
    principal: &Principal,
    org: Option<&Organization>,
) -> Result<Option<Decision>, AppError> {
    let cfg = &state.config.rate_limit;
    if !cfg.enabled {
        return Ok(None);
    }
    let mut tightest: Option<Decision> = None;
    let mut budgets = Vec::with_capacity(2);
    if let Some(org) = org {
        let per_hour = state.config.limits(org.tier).requests_per_hour;
        budgets.push(("organization", format!("org:{}", org.id), per_hour, HOUR_MS));
    }
    if cfg.per_credential_per_minute > 0 {
        let id = match &principal.credential {
            Credential::Session(s) => format!("session:{}", s.id),
            Credential::ApiKey { id, .. } => format!("api_key:{id}"),
        };
        budgets.push(("credential", id, cfg.per_credential_per_minute, MINUTE_MS));
    }
    // One kv call decides every budget (one round trip with Redis).
    let rules: Vec<(String, Rule)> = budgets
        .iter()
        .map(|(_, key, limit, window)| {
            let rule = Rule {
                strategy: cfg.strategy,
                limit: *limit,
                window_ms: *window,
            };
            (format!("rl:{key}"), rule)
        })
        .collect();
    let decisions = match state
        .kv
        .rate_limit_many(&rules, Utc::now().timestamp_millis())
        .await
    {
        Ok(d) => d,
        Err(e) => match cfg.on_store_error {
            FailMode::Open => {
                warn_unenforced(&e);
                return Ok(None);
            }
            FailMode::Closed => return Err(AppError::Unavailable(format!("rate limiter: {e}"))),
        },
    };
    for ((scope, _, limit, window), d) in budgets.into_iter().zip(decisions) {
        if !d.allowed {
            state.auditor.record(principal
                    .event(Action::RequestRateLimited, Outcome::Denied)
                    .meta(serde_json::json!({"limit": scope, "requests": limit, "window_secs": window / 1000})),
            )
            .await?;
            let per = if window == HOUR_MS { "hour" } else { "minute" };
            return Err(refusal(
                format!("the {scope}'s limit of {limit} requests per {per} is spent"),
                d,
            ));
        }
        if tightest.is_none_or(|t| d.remaining < t.remaining) {
            tightest = Some(d);
        }
    }
    Ok(tightest)
}

/// A 429 carrying the decision (for `Retry-After` and `RateLimit-*`).
pub fn refusal(message: String, d: Decision) -> AppError {
    AppError::TooManyRequests {
        code: "rate_limited",
        message,
        retry_after_secs: secs(d.retry_after_ms),
        rate: Some(d),
    }
}

fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).
pub fn set_headers(headers: &mut HeaderMap, d: &Decision) {
    let set = |h: &mut HeaderMap, name: &'static str, v: u64| {
        h.insert(HeaderName::from_static(name), HeaderValue::from(v));
    };
    set(headers, "ratelimit-limit", u64::from(d.limit));
    set(headers, "ratelimit-remaining", u64::from(d.remaining));
    set(headers, "ratelimit-reset", secs(d.reset_ms));
}

/// How long a sign-in address budget lasts.
pub const SIGNIN_WINDOW: Duration = Duration::from_secs(300);
