//! Redis kv store, shared by every daemon of a deployment. Keys carry a
//! configurable prefix so several deployments (or test runs) can share one
//! Redis without seeing each other's keys.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

use super::{Kv, KvError, KvResult};
use crate::security::rate_limit::{Decision, Rule};

pub struct RedisKv {
    conn: ConnectionManager,
    prefix: String,
    // Sent by SHA (EVALSHA), loaded once per server.
    rate_limit_script: redis::Script,
}

fn unavailable(e: redis::RedisError) -> KvError {
    KvError::Unavailable(e.to_string())
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

// INCRBY then set the expiry only on a new key, atomically.
const INCR_SCRIPT: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v
";

const RATE_LIMIT_SCRIPT: &str = include_str!("rate_limit.lua");

impl RedisKv {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        // Fail fast when Redis goes away: callers decide (fail open or
        // closed) instead of waiting on reconnection attempts.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(500)
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(3));
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))??;
        let kv = Self {
            conn,
            prefix: prefix.to_owned(),
            rate_limit_script: redis::Script::new(RATE_LIMIT_SCRIPT),
        };
        kv.ping().await?;
        Ok(kv)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

#[async_trait]
impl Kv for RedisKv {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> KvResult<()> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        c.get(self.key(key)).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> KvResult<()> {
        let mut c = self.conn.clone();
        match ttl {
            Some(t) => c.pset_ex(self.key(key), value, ttl_ms(t)).await,
            None => c.set(self.key(key), value).await,
        }
        .map_err(unavailable)
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<bool> {
        let mut c = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn delete(&self, key: &str) -> KvResult<bool> {
        let mut c = self.conn.clone();
        let n: i64 = c.del(self.key(key)).await.map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> KvResult<i64> {
        let mut c = self.conn.clone();
        redis::Script::new(INCR_SCRIPT)
            .key(self.key(key))
            .arg(by)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> KvResult<()> {
        let mut c = self.conn.clone();
        let key = self.key(key);
        redis::pipe()
            .atomic()
            .sadd(&key, member)
            .ignore()
            .pexpire(&key, i64::try_from(ttl_ms(ttl)).unwrap_or(i64::MAX))
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn set_remove(&self, key: &str, member: &str) -> KvResult<()> {
        let mut c = self.conn.clone();
        c.srem(self.key(key), member).await.map_err(unavailable)
    }

    async fn set_members(&self, key: &str) -> KvResult<Vec<String>> {
        let mut c = self.conn.clone();
        c.smembers(self.key(key)).await.map_err(unavailable)
    }

    async fn rate_limit(&self, key: &str, rule: &Rule, now_ms: i64) -> KvResult<Decision> {
        let budget = [(key.to_owned(), *rule)];
        let mut d = self.rate_limit_many(&budget, now_ms).await?;
        d.pop()
            .ok_or_else(|| KvError::Unavailable("rate limit: empty reply".into()))
    }

    async fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.conn.clone();
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        // MGET of one key answers a bare value, not a list: ask for a list.
        redis::cmd("MGET")
            .arg(&keys)
            .query_async::<Vec<Option<Vec<u8>>>>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn rate_limit_many(
        &self,
        budgets: &[(String, Rule)],
        now_ms: i64,
    ) -> KvResult<Vec<Decision>> {
        let Some(strategy) = budgets.first().map(|(_, r)| r.strategy) else {
            return Ok(Vec::new());
        };
        if budgets.iter().any(|(_, r)| r.strategy != strategy) {
            // One script run decides budgets of one strategy.
            let mut out = Vec::with_capacity(budgets.len());
            for b in budgets {
                out.extend(
                    self.rate_limit_many(std::slice::from_ref(b), now_ms)
                        .await?,
                );
            }
            return Ok(out);
        }
        let mut c = self.conn.clone();
        let mut run = self.rate_limit_script.prepare_invoke();
        for (k, _) in budgets {
            run.key(self.key(k));
        }
        run.arg(strategy.as_str()).arg(now_ms);
        for (_, r) in budgets {
            run.arg(r.limit).arg(r.window_ms.max(1));
        }
        let rows: Vec<(i64, i64, i64, i64)> =
            run.invoke_async(&mut c).await.map_err(unavailable)?;
        let ms = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(rows
            .into_iter()
            .zip(budgets)
            .map(
                |((allowed, remaining, reset_ms, retry_after_ms), (_, rule))| Decision {
                    allowed: allowed == 1,
                    limit: rule.limit,
                    remaining: u32::try_from(remaining).unwrap_or(0),
                    reset_ms: ms(reset_ms),
                    retry_after_ms: ms(retry_after_ms),
                },
            )
            .collect())
    }
}
