//! Change counters that the request path's caches compare on every request:
//! an organization's (its row, memberships, roles, grants) and a user's
//! (their account row). A change bumps the counters of what it touched
//! after it commits (`Auditor::committed` does it for every audited change);
//! a cached entry is used only while its counter still holds the value it
//! was loaded under. The counters live in the kv store, so with Redis a
//! change on one daemon is seen by the next request on every other.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{Kv, KvResult};

/// Counters outlive any cache entry (entries are reloaded after
/// [`MAX_AGE`] whatever the counter says).
const TTL: Duration = Duration::from_secs(30 * 24 * 3600);

pub fn org(org: Uuid) -> String {
    format!("authz_version:{org}")
}

pub fn user(user: Uuid) -> String {
    format!("user_version:{user}")
}

/// A counter's value; an absent or unreadable one is 0.
pub fn parse(raw: Option<&[u8]>) -> i64 {
    raw.and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0)
}

pub async fn read(kv: &dyn Kv, key: &str) -> KvResult<i64> {
    Ok(parse(kv.get(key).await?.as_deref()))
}

pub async fn bump(kv: &dyn Kv, key: &str) -> KvResult<()> {
    kv.incr(key, 1, TTL).await.map(|_| ())
}

/// Even without a bump, entries are reloaded this often (a safety net
/// should the kv store lose its counters).
pub const MAX_AGE: Duration = Duration::from_secs(300);

struct Entry<T> {
    version: i64,
    at: Instant,
    value: T,
}

/// Values each loaded under a version of their counter; a lookup under
/// another version misses. Bounded: past `max` entries all are dropped.
pub struct VersionedCache<K, T> {
    map: RwLock<HashMap<K, Entry<T>>>,
    max: usize,
}

impl<K: Hash + Eq, T: Clone> VersionedCache<K, T> {
    pub fn new(max: usize) -> Self {
        Self {
            map: RwLock::default(),
            max,
        }
    }

    pub fn get(&self, key: &K, version: i64) -> Option<T> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .filter(|e| e.version == version && e.at.elapsed() < MAX_AGE)
            .map(|e| e.value.clone())
    }

    pub fn put(&self, key: K, version: i64, value: T) {
        let mut m = self.map.write().unwrap_or_else(|e| e.into_inner());
        if m.len() >= self.max {
            m.clear();
        }
        let at = Instant::now();
        m.insert(key, Entry { version, at, value });
    }
}
