//! The fold of repeated denials and failures into one event per series and
//! window (see `aggregate` for when the series are written).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use loki_shared::audit::AuditEvent;

struct Pending {
    draft: AuditEvent,
    repeats: u64,
    closes: Instant,
}

#[derive(Default)]
pub struct Aggregator {
    pending: Mutex<HashMap<String, Pending>>,
}

fn key(e: &AuditEvent) -> String {
    format!(
        "{}|{:?}|{:?}|{:?}|{}|{}|{:?}|{:?}|{}",
        e.org_id,
        e.actor.user_id,
        e.actor.api_key_id,
        e.ip,
        e.action,
        e.outcome,
        e.resource_type,
        e.resource_id,
        e.metadata
    )
}

impl Aggregator {
    /// True when the event was folded into a series already written once
    /// in this window; false when the caller must write it now.
    pub fn fold(&self, e: &AuditEvent, window: Duration) -> bool {
        let now = Instant::now();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(&key(e)) {
            Some(p) if p.closes > now => {
                p.repeats += 1;
                true
            }
            _ => {
                pending.insert(
                    key(e),
                    Pending {
                        draft: e.clone(),
                        repeats: 0,
                        closes: now + window,
                    },
                );
                false
            }
        }
    }

    /// The series whose window closed (all of them when `all`), as events
    /// to write: one per series, `count` = the repeats folded into it.
    pub fn due(&self, all: bool) -> Vec<AuditEvent> {
        let now = Instant::now();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let closed: Vec<String> = pending
            .iter()
            .filter(|(_, p)| all || p.closes <= now)
            .map(|(k, _)| k.clone())
            .collect();
        closed
            .into_iter()
            .filter_map(|k| pending.remove(&k))
            .filter(|p| p.repeats > 0)
            .map(|p| {
                let mut e = p.draft;
                e.id = uuid::Uuid::now_v7();
                e.time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                e.count = p.repeats;
                if let Some(m) = e.metadata.as_object_mut() {
                    m.insert("aggregated".into(), serde_json::Value::Bool(true));
                }
                e
            })
            .collect()
    }
}
