//! In-process kv store for a single daemon. Expired entries are dropped
//! lazily on access and swept when the map grows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Kv, KvResult};

#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

const SWEEP_AT: usize = 10_000;

impl MemoryKv {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-operation;
        // every operation leaves the map consistent, so keep using it.
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() >= SWEEP_AT {
            map.retain(|_, e| e.live(now));
        }
        f(&mut map, now)
    }
}

#[async_trait]
impl Kv for MemoryKv {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> KvResult<()> {
        Ok(())
    }

    async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        Ok(self.with(|m, now| match m.get(key) {
            Some(e) if e.live(now) => Some(e.value.clone()),
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        }))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> KvResult<()> {
        self.with(|m, now| {
            m.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires: ttl.map(|t| now + t),
                },
            );
        });
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<bool> {
        Ok(self.with(|m, now| {
            if m.get(key).is_some_and(|e| e.live(now)) {
                return false;
            }
            m.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires: Some(now + ttl),
                },
            );
            true
        }))
    }

    async fn delete(&self, key: &str) -> KvResult<bool> {
        Ok(self.with(|m, now| m.remove(key).is_some_and(|e| e.live(now))))
    }

    async fn incr(&self, key: &str, by: i64, ttl: Duration) -> KvResult<i64> {
        Ok(self.with(|m, now| {
            let current = m
                .get(key)
                .filter(|e| e.live(now))
                .and_then(|e| std::str::from_utf8(&e.value).ok()?.parse::<i64>().ok());
            let (value, expires) = match current {
                Some(v) => (v.saturating_add(by), m.get(key).and_then(|e| e.expires)),
                None => (by, Some(now + ttl)),
            };
            m.insert(
                key.to_owned(),
                Entry {
                    value: value.to_string().into_bytes(),
                    expires,
                },
            );
            value
        }))
    }
}
