//! Rate limiting: three strategies over a limit of `limit` requests per
//! `window`, decided in the kv store (in-process, or atomically in Redis so
//! every daemon shares one budget).
//!
//! - **Fixed window**: one counter per aligned window (`now / window`). Cheap,
//!   but a client may spend a whole budget at the end of one window and
//!   another at the start of the next (the boundary burst).
//! - **Sliding window (counter-based)**: the previous window's count is
//!   weighted by how much of it still overlaps the sliding window,
//!   `estimate = previous * (window - elapsed) / window + current`, and a
//!   request is admitted while `estimate + 1 <= limit`. Two counters per key
//!   (not a log of every request), so memory stays constant even for 100,000
//!   requests an hour; it assumes the previous window's requests were spread
//!   evenly, and smooths away the boundary burst.
//! - **Token bucket**: `limit` tokens, refilled continuously at
//!   `limit / window`; a request takes one. Allows a burst of `limit`, then
//!   the steady rate.
//!
//! Time is the caller's clock in milliseconds, passed in so that every
//! backend computes the same answer for the same inputs (daemons are
//! expected to keep their clocks in sync, as token expiry already needs).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    FixedWindow,
    SlidingWindow,
    TokenBucket,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [
        Strategy::FixedWindow,
        Strategy::SlidingWindow,
        Strategy::TokenBucket,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::FixedWindow => "fixed_window",
            Strategy::SlidingWindow => "sliding_window",
            Strategy::TokenBucket => "token_bucket",
        }
    }
}

/// `limit` requests per `window_ms`, counted with `strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub strategy: Strategy,
    pub limit: u32,
    pub window_ms: u64,
}

impl Rule {
    /// How long a key's state must be kept to decide correctly.
    pub fn state_ttl_ms(&self) -> u64 {
        self.window_ms.max(1).saturating_mul(2)
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests still admitted now (after this one).
    pub remaining: u32,
    /// Until the budget is whole again (fixed: the window's end).
    pub reset_ms: u64,
    /// For a refusal: until the next request would be admitted.
    pub retry_after_ms: u64,
}

/// What a backend keeps per key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum State {
    Window {
        window: i64,
        current: u64,
        previous: u64,
    },
    Bucket {
        tokens: f64,
        last_ms: i64,
    },
}

/// Decides one request and updates `state` (`None` for a new key).
pub fn decide(rule: &Rule, state: &mut Option<State>, now_ms: i64) -> Decision {
    let w = i64::try_from(rule.window_ms.max(1)).unwrap_or(i64::MAX);
    let limit = u64::from(rule.limit);
    match rule.strategy {
        Strategy::FixedWindow | Strategy::SlidingWindow => {
            let win = now_ms.div_euclid(w);
            let elapsed = now_ms - win * w;
            let (current, previous) = match *state {
                Some(State::Window {
                    window,
                    current,
                    previous,
                }) if window == win => (current, previous),
                Some(State::Window {
                    window, current, ..
                }) if window == win - 1 => (0, current),
                _ => (0, 0),
            };
            let left_ms = (w - elapsed) as u64;
            let (decision, current) = if rule.strategy == Strategy::FixedWindow {
                fixed(limit, current, left_ms)
            } else {
                sliding(limit, current, previous, w as u64, left_ms)
            };
            *state = Some(State::Window {
                window: win,
                current,
                previous,
            });
            decision
        }
        Strategy::TokenBucket => {
            let rate = limit as f64 / w as f64; // tokens per ms
            let (tokens, last) = match *state {
                Some(State::Bucket { tokens, last_ms }) => (tokens, last_ms),
                _ => (limit as f64, now_ms),
            };
            let refill = (now_ms - last).max(0) as f64 * rate;
            let mut tokens = (tokens + refill).min(limit as f64);
            let allowed = tokens >= 1.0;
            if allowed {
                tokens -= 1.0;
            }
            *state = Some(State::Bucket {
                tokens,
                last_ms: now_ms.max(last),
            });
            let ms_for = |need: f64| {
                if rate > 0.0 {
                    (need / rate).ceil() as u64
                } else {
                    u64::MAX
                }
            };
            Decision {
                allowed,
                limit: rule.limit,
                remaining: tokens.floor() as u32,
                reset_ms: ms_for(limit as f64 - tokens),
                retry_after_ms: if allowed { 0 } else { ms_for(1.0 - tokens) },
            }
        }
    }
}

fn fixed(limit: u64, current: u64, left_ms: u64) -> (Decision, u64) {
    let allowed = current < limit;
    let current = if allowed { current + 1 } else { current };
    let d = Decision {
        allowed,
        limit: limit as u32,
        remaining: limit.saturating_sub(current) as u32,
        reset_ms: left_ms,
        retry_after_ms: if allowed { 0 } else { left_ms },
    };
    (d, current)
}

fn sliding(limit: u64, current: u64, previous: u64, w: u64, left_ms: u64) -> (Decision, u64) {
    let weight = left_ms as f64 / w as f64;
    let estimate = previous as f64 * weight + current as f64;
    let allowed = estimate + 1.0 <= limit as f64;
    let current = if allowed { current + 1 } else { current };
    let estimate = previous as f64 * weight + current as f64;
    let remaining = (limit as f64 - estimate).floor().max(0.0) as u32;
    let elapsed = w - left_ms;
    // When does `previous' * (w - e) / w + current' + 1 <= limit` hold again?
    let retry_after_ms = if allowed {
        0
    } else if current < limit {
        // Within this window, once enough of the previous one slid out.
        let need = 1.0 - (limit - 1 - current) as f64 / previous.max(1) as f64;
        ((w as f64 * need).ceil() as u64)
            .saturating_sub(elapsed)
            .max(1)
    } else {
        // In the next window, where this window's count is the previous one.
        let need = 1.0 - (limit.saturating_sub(1)) as f64 / current.max(1) as f64;
        left_ms + (w as f64 * need).ceil() as u64
    };
    let d = Decision {
        allowed,
        limit: limit as u32,
        remaining,
        reset_ms: if allowed { left_ms } else { retry_after_ms },
        retry_after_ms,
    };
    (d, current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(strategy: Strategy, limit: u32, window_ms: u64, times: &[i64]) -> Vec<bool> {
        let rule = Rule {
            strategy,
            limit,
            window_ms,
        };
        let mut state = None;
        times
            .iter()
            .map(|t| decide(&rule, &mut state, *t).allowed)
            .collect()
    }

    #[test]
    fn sliding_retry_after_is_when_the_next_request_passes() {
        let rule = Rule {
            strategy: Strategy::SlidingWindow,
            limit: 10,
            window_ms: 10_000,
        };
        let mut state = None;
        for _ in 0..10 {
            assert!(decide(&rule, &mut state, 9_000).allowed);
        }
        let refused = decide(&rule, &mut state, 9_500);
        assert!(!refused.allowed);
        let at = 9_500 + refused.retry_after_ms as i64;
        let mut probe = state;
        assert!(!decide(&rule, &mut probe, at - 1).allowed);
        assert!(decide(&rule, &mut state, at).allowed);
    }

    #[test]
    fn bucket_retry_after_is_when_a_token_is_back() {
        let rule = Rule {
            strategy: Strategy::TokenBucket,
            limit: 4,
            window_ms: 4_000,
        };
        let mut state = None;
        for _ in 0..4 {
            assert!(decide(&rule, &mut state, 0).allowed);
        }
        let refused = decide(&rule, &mut state, 0);
        assert_eq!(refused.retry_after_ms, 1_000);
        assert!(!decide(&rule, &mut state, 999).allowed);
        assert!(decide(&rule, &mut state, 1_000).allowed);
    }

    #[test]
    fn clock_going_backwards_does_not_refill() {
        assert_eq!(
            run(Strategy::TokenBucket, 1, 1_000, &[5_000, 4_000, 4_500]),
            [true, false, false]
        );
    }
}
