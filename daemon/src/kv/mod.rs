//! The coordination store: short-lived shared state (sessions, counters,
//! nonces, revocations, cache invalidation). In-process by default; Redis
//! when several daemons must agree. Durable facts never live only here.

pub mod memory;
pub mod redis;
pub mod versions;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::security::rate_limit::{Decision, Rule};

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("kv store unavailable: {0}")]
    Unavailable(String),
}

pub type KvResult<T> = Result<T, KvError>;

#[async_trait]
pub trait Kv: Send + Sync + 'static {
    /// A short name for logs and readiness (`memory` or `redis`).
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> KvResult<()>;
    async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>>;
    /// Sets the value, replacing any; `ttl` of `None` keeps it until deleted.
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> KvResult<()>;
    /// Sets the value only if the key is absent; true when it was set.
    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<bool>;
    /// True when the key existed.
    async fn delete(&self, key: &str) -> KvResult<bool>;
    /// Atomically adds `by` and returns the new value; a new key expires after `ttl`.
    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> KvResult<i64>;
    /// Adds a member to a set and (re)sets the set's expiry to `ttl`.
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> KvResult<()>;
    async fn set_remove(&self, key: &str, member: &str) -> KvResult<()>;
    async fn set_members(&self, key: &str) -> KvResult<Vec<String>>;
    /// Decides one request against a rate-limit rule and records it,
    /// atomically (see [`crate::security::rate_limit`]).
    async fn rate_limit(&self, key: &str, rule: &Rule, now_ms: i64) -> KvResult<Decision>;

    /// Several values at once (Redis: one MGET), in the order asked.
    async fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await?);
        }
        Ok(out)
    }

    /// Several rate-limit decisions, each recorded, in one call (Redis: one
    /// script run). Every budget is charged, even when an earlier one refuses.
    async fn rate_limit_many(
        &self,
        budgets: &[(String, Rule)],
        now_ms: i64,
    ) -> KvResult<Vec<Decision>> {
        let mut out = Vec::with_capacity(budgets.len());
        for (k, rule) in budgets {
            out.push(self.rate_limit(k, rule, now_ms).await?);
        }
        Ok(out)
    }
}

pub type DynKv = Arc<dyn Kv>;

/// Opens the kv store: Redis for a `redis://` URL, in-process otherwise.
pub async fn connect(url: Option<&str>, prefix: &str) -> anyhow::Result<DynKv> {
    match url {
        Some(url) => Ok(Arc::new(redis::RedisKv::connect(url, prefix).await?)),
        None => Ok(Arc::new(memory::MemoryKv::default())),
    }
}
