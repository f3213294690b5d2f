//! Field-level before/after of an audit event: nested objects flattened to
//! dotted paths, each path marked added, removed or changed.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct FieldChange {
    /// Dotted path, e.g. `settings.session_timeout_minutes`.
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub change: Change,
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        other => out.push((
            if prefix.is_empty() {
                "(value)".to_owned()
            } else {
                prefix.to_owned()
            },
            other.clone(),
        )),
    }
}

/// Every field of either side, in path order.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let mut b = Vec::new();
    let mut a = Vec::new();
    if let Some(v) = before {
        flatten("", v, &mut b);
    }
    if let Some(v) = after {
        flatten("", v, &mut a);
    }
    let mut fields: Vec<String> = b.iter().chain(a.iter()).map(|(k, _)| k.clone()).collect();
    fields.sort();
    fields.dedup();
    let find = |side: &[(String, Value)], k: &str| {
        side.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone())
    };
    fields
        .into_iter()
        .map(|field| {
            let (before, after) = (find(&b, &field), find(&a, &field));
            let change = match (&before, &after) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (Some(x), Some(y)) if x == y => Change::Unchanged,
                _ => Change::Changed,
            };
            FieldChange {
                field,
                before,
                after,
                change,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_fields_are_compared_by_path() {
        let before = json!({"roles": ["viewer"], "settings": {"mfa": false, "ttl": 30}, "gone": 1});
        let after = json!({"roles": ["admin"], "settings": {"mfa": true, "ttl": 30}, "new": "x"});
        let d = diff(Some(&before), Some(&after));
        let of = |f: &str| d.iter().find(|c| c.field == f).map(|c| c.change.clone());
        assert_eq!(of("roles"), Some(Change::Changed));
        assert_eq!(of("settings.mfa"), Some(Change::Changed));
        assert_eq!(of("settings.ttl"), Some(Change::Unchanged));
        assert_eq!(of("gone"), Some(Change::Removed));
        assert_eq!(of("new"), Some(Change::Added));
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn one_sided_events_show_every_field() {
        let d = diff(None, Some(&json!({"name": "Acme"})));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].change, Change::Added);
        assert!(diff(None, None).is_empty());
    }
}
