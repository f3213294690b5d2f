//! A population row: one event as the report shows and traces it, and
//! the field-level diff of its before and after.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::audit::AuditEvent;

/// A population row: one event as an auditor samples and traces it — seq
/// and event id (to find it in the bundle), the time as stored, action,
/// outcome, actor (email when the chain or snapshot names it), address,
/// user agent, request id, resource, the first and last occurrence of a
/// folded flood, and before/after as a field-level diff. Values that repeat
/// across rows are shared, so 100,000 rows cost little more than their
/// details. Serialized as typed fields (the JSON rendering of a report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub seq: u64,
    pub event_id: Uuid,
    /// The time as stored in the event (RFC 3339, full precision).
    pub time: Arc<str>,
    #[serde(skip)]
    pub at: DateTime<Utc>,
    pub action: Arc<str>,
    pub outcome: Arc<str>,
    pub actor: ActorRef,
    pub ip: Option<Arc<str>>,
    pub user_agent: Option<Arc<str>>,
    pub request_id: Option<String>,
    pub resource_type: Option<Arc<str>>,
    pub resource_id: Option<String>,
    /// Occurrences: more than 1 for a folded flood.
    pub count: u64,
    /// A folded flood's first and last occurrence (the event's time is when
    /// the fold was written).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_at: Option<String>,
    /// Every field that differs between before and after, whole.
    pub changes: Vec<FieldChange>,
    /// Reason, limit, permission and similar metadata.
    pub details: BTreeMap<String, Value>,
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub kind: Arc<str>,
    pub user_id: Option<Uuid>,
    /// From the chain's own member events or the snapshot.
    pub email: Option<Arc<str>>,
    pub api_key_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
}

/// One field of before/after (dotted path for nested objects); `None` is
/// absent on that side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Default)]
pub(super) struct Interner(HashSet<Arc<str>>);

impl Interner {
    pub(super) fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(v) = self.0.get(s) {
            return v.clone();
        }
        let v: Arc<str> = Arc::from(s);
        self.0.insert(v.clone());
        v
    }
}

/// Metadata keys shown as details (the rest is context, kept in the bundle).
const DETAIL_KEYS: [&str; 11] = [
    "reason",
    "limit",
    "scope",
    "permission",
    "missing",
    "path",
    "kind",
    "mfa",
    "method",
    "identity_provider",
    "what",
];

impl Row {
    pub(super) fn of(e: &AuditEvent, at: DateTime<Utc>, strings: &mut Interner) -> Self {
        let meta = e.metadata.as_object();
        let text = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let details = meta
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| DETAIL_KEYS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            seq: e.seq,
            event_id: e.id,
            time: Arc::from(e.time.as_str()),
            at,
            action: strings.get(&e.action),
            outcome: strings.get(&e.outcome),
            actor: ActorRef {
                kind: strings.get(&e.actor.kind),
                user_id: e.actor.user_id,
                email: None,
                api_key_id: e.actor.api_key_id,
                session_id: e.actor.session_id,
            },
            ip: e.ip.as_deref().map(|s| strings.get(s)),
            user_agent: e.user_agent.as_deref().map(|s| strings.get(s)),
            request_id: e.request_id.clone(),
            resource_type: e.resource_type.as_deref().map(|s| strings.get(s)),
            resource_id: e.resource_id.clone().filter(|s| !s.is_empty()),
            count: e.count.max(1),
            first_at: text("first_at"),
            last_at: text("last_at"),
            changes: diff(e.before.as_ref(), e.after.as_ref()),
            details,
        }
    }

    /// Display cells for the PDF, in [`ROW_COLUMNS`] order.
    pub fn cells(&self) -> Vec<String> {
        let mut when = format!("#{} {}", self.seq, cell_time(&self.time));
        if self.count > 1 {
            when.push_str(&format!(
                " (x{}, first {}, last {})",
                self.count,
                self.first_at.as_deref().map_or("-".into(), cell_time),
                self.last_at.as_deref().map_or("-".into(), cell_time)
            ));
        }
        when.push_str(&format!(" event {}", self.event_id));
        let action = format!("{} {}", self.action, self.outcome);
        let mut actor = match (&self.actor.email, self.actor.user_id) {
            (Some(e), Some(u)) => format!("{e} {u}"),
            (None, Some(u)) => u.to_string(),
            _ => self.actor.kind.to_string(),
        };
        if let Some(k) = self.actor.api_key_id {
            actor.push_str(&format!(" via api key {k}"));
        }
        if let Some(ip) = &self.ip {
            actor.push_str(&format!(" from {ip}"));
        }
        if let Some(ua) = &self.user_agent {
            actor.push_str(&format!(" UA {ua}"));
        }
        if let Some(r) = &self.request_id {
            actor.push_str(&format!(" req {r}"));
        }
        let resource = match (&self.resource_type, &self.resource_id) {
            (Some(t), Some(id)) => format!("{t} {id}"),
            (Some(t), None) => t.to_string(),
            _ => String::new(),
        };
        let mut change: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                let side = |v: &Option<Value>| v.as_ref().map_or("(absent)".into(), compact);
                format!("{}: {} -> {}", c.field, side(&c.before), side(&c.after))
            })
            .collect();
        change.extend(
            self.details
                .iter()
                .map(|(k, v)| format!("{k}={}", compact(v))),
        );
        vec![when, action, actor, resource, change.join("; ")]
    }
}

pub const ROW_COLUMNS: [&str; 5] = [
    "Seq, time (UTC), event id",
    "Action, outcome",
    "Actor, address, user agent, request id",
    "Resource",
    "Change (field: before -> after) and details",
];

/// Field-level differences of before and after: nested objects by dotted
/// path, everything else compared whole. Values are never cut.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_into("", before, after, &mut out);
    out
}

fn diff_into(path: &str, b: Option<&Value>, a: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (b, a) {
        (Some(Value::Object(bo)), Some(Value::Object(ao))) => {
            let keys: BTreeSet<&String> = bo.keys().chain(ao.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_into(&p, bo.get(k), ao.get(k), out);
            }
        }
        (None, Some(Value::Object(ao))) if path.is_empty() => {
            for (k, v) in ao {
                diff_into(k, None, Some(v), out);
            }
        }
        (Some(Value::Object(bo)), None) if path.is_empty() => {
            for (k, v) in bo {
                diff_into(k, Some(v), None, out);
            }
        }
        (b, a) if b != a => out.push(FieldChange {
            field: if path.is_empty() {
                "value".into()
            } else {
                path.to_owned()
            },
            before: b.cloned(),
            after: a.cloned(),
        }),
        _ => {}
    }
}

/// JSON with a space after `,` and `:`, so long values wrap in a table.
fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(quoted).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}: {}", quoted(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn quoted(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => compact(other),
    }
}

/// `2026-11-27 10:13:33.123456Z`: the stored precision, with a break
/// opportunity between date and time.
pub fn cell_time(t: &str) -> String {
    t.replacen('T', " ", 1)
}
