//! In-process kv store for a single daemon. Expired entries are dropped
//! lazily on access and swept when the map grows.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Kv, KvResult};
use crate::security::rate_limit::{self, Decision, Rule, State};

/// Rate-limit state by key (with its expiry) and the size of the next sweep.
type Limits = (HashMap<String, (State, i64)>, usize);

#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<Map>,
    // Rate-limit state runs on the callers' clock (milliseconds), not Instant.
    limits: Mutex<Limits>,
}

struct Entry {
    value: Value,
    expires: Option<Instant>,
}

enum Value {
    Bytes(Vec<u8>),
    Set(HashSet<String>),
}

impl Value {
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::Set(_) => None,
        }
    }
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

const SWEEP_AT: usize = 10_000;

/// The entries and the size at which expired ones are swept next: twice
/// what survived the last sweep, so many live entries do not make every
/// access a full scan.
#[derive(Default)]
struct Map {
    entries: HashMap<String, Entry>,
    sweep_at: usize,
}

impl MemoryKv {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-operation;
        // every operation leaves the map consistent, so keep using it.
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.entries.len() >= map.sweep_at.max(SWEEP_AT) {
            map.entries.retain(|_, e| e.live(now));
            map.sweep_at = map.entries.len() * 2;
        }
        f(&mut map.entries, now)
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
            Some(e) if e.live(now) => e.value.bytes().map(<[u8]>::to_vec),
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
                    value: Value::Bytes(value.to_vec()),
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
                    value: Value::Bytes(value.to_vec()),
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
            let current = m.get(key).filter(|e| e.live(now)).and_then(|e| {
                std::str::from_utf8(e.value.bytes()?)
                    .ok()?
                    .parse::<i64>()
                    .ok()
            });
            let (value, expires) = match current {
                Some(v) => (v.saturating_add(by), m.get(key).and_then(|e| e.expires)),
                None => (by, Some(now + ttl)),
            };
            m.insert(
                key.to_owned(),
                Entry {
                    value: Value::Bytes(value.to_string().into_bytes()),
                    expires,
                },
            );
            value
        }))
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> KvResult<()> {
        self.with(|m, now| {
            let entry = m.entry(key.to_owned()).or_insert_with(|| Entry {
                value: Value::Set(HashSet::new()),
                expires: None,
            });
            if !entry.live(now) || !matches!(entry.value, Value::Set(_)) {
                entry.value = Value::Set(HashSet::new());
            }
            if let Value::Set(set) = &mut entry.value {
                set.insert(member.to_owned());
            }
            entry.expires = Some(now + ttl);
        });
        Ok(())
    }

    async fn set_remove(&self, key: &str, member: &str) -> KvResult<()> {
        self.with(|m, _| {
            if let Some(Entry {
                value: Value::Set(set),
                ..
            }) = m.get_mut(key)
            {
                set.remove(member);
            }
        });
        Ok(())
    }

    async fn set_members(&self, key: &str) -> KvResult<Vec<String>> {
        Ok(self.with(|m, now| match m.get(key) {
            Some(e) if e.live(now) => match &e.value {
                Value::Set(set) => set.iter().cloned().collect(),
                Value::Bytes(_) => Vec::new(),
            },
            _ => Vec::new(),
        }))
    }

    async fn rate_limit(&self, key: &str, rule: &Rule, now_ms: i64) -> KvResult<Decision> {
        let mut guard = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let (map, sweep_at) = &mut *guard;
        if map.len() >= (*sweep_at).max(SWEEP_AT) {
            map.retain(|_, (_, expires)| *expires > now_ms);
            *sweep_at = map.len() * 2;
        }
        let mut state = map
            .get(key)
            .filter(|(_, expires)| *expires > now_ms)
            .map(|(s, _)| *s);
        let decision = rate_limit::decide(rule, &mut state, now_ms);
        if let Some(s) = state {
            let ttl = i64::try_from(rule.state_ttl_ms()).unwrap_or(i64::MAX);
            map.insert(key.to_owned(), (s, now_ms.saturating_add(ttl)));
        }
        Ok(decision)
    }
}
