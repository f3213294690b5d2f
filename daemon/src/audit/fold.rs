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
    /// Wall-clock times of the first and last repeat (stated in the folded
    /// event, whose own time is when it was written).
    first: Option<String>,
    last: Option<String>,
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
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
                let t = now_text();
                p.first.get_or_insert_with(|| t.clone());
                p.last = Some(t);
                true
            }
            _ => {
                pending.insert(
                    key(e),
                    Pending {
                        draft: e.clone(),
                        repeats: 0,
                        closes: now + window,
                        first: None,
                        last: None,
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
                e.time = now_text();
                e.count = p.repeats;
                if let Some(m) = e.metadata.as_object_mut() {
                    m.insert("aggregated".into(), serde_json::Value::Bool(true));
                    for (k, t) in [("first_at", p.first), ("last_at", p.last)] {
                        if let Some(t) = t {
                            m.insert(k.into(), serde_json::Value::String(t));
                        }
                    }
                }
                e
            })
            .collect()
    }
}
