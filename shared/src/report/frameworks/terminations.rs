//! Terminations (SOC 2 CC6.2, ISO A.5.18): the time from each removal to
//! the last revocation of what the member held, and what a removed member
//! still holds when the snapshot was taken.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::report::revocation::Termination;

/// Revocation counts as timely within this long of the removal.
pub(super) const REVOKE_WITHIN_HOURS: i64 = 24;

/// "0.35 s", "4 min 2 s", "3 h 10 min", "2 d 5 h".
pub(super) fn human(d: Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    let s = ms / 1000;
    match s {
        0..=59 => format!("{:.2} s", ms as f64 / 1000.0),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// What one termination revoked and what is still open.
struct Revoked {
    sessions_ended: usize,
    keys_revoked: Vec<(String, DateTime<Utc>)>,
    still_open: Vec<String>,
    took: Option<Duration>,
}

fn outcome(t: &Termination, snap: Option<&ReportSnapshot>) -> Revoked {
    let is = |r: &&Row, a: Action| &*r.action == a.as_str();
    let sessions: Vec<DateTime<Utc>> = t
        .revocations
        .iter()
        .filter(|r| is(r, Action::SessionRevoked))
        .map(|r| r.at)
        .collect();
    let mut keys: Vec<(String, DateTime<Utc>)> = t
        .revocations
        .iter()
        .filter(|r| is(r, Action::ApiKeyRevoked))
        .map(|r| (r.resource_id.clone().unwrap_or_default(), r.at))
        .collect();
    let mut still_open = Vec::new();
    // Re-admitted members legitimately hold sessions and keys again.
    let member_again = snap.is_some_and(|s| s.members.iter().any(|m| m.user_id == t.user));
    if let Some(s) = snap.filter(|_| !member_again) {
        for k in s.api_keys.iter().filter(|k| k.created_by == t.user) {
            let id = k.id.to_string();
            match k.revoked_at {
                // Revoked after the removal (perhaps created before the
                // bundle starts, so only the snapshot knows).
                Some(at) if at >= t.removal.at && !keys.iter().any(|(k, _)| *k == id) => {
                    keys.push((id, at));
                }
                Some(_) => {}
                None if k.expires_at.is_none_or(|x| x > s.taken_at) => {
                    still_open.push(format!("API key {}", k.key_id));
                }
                None => {}
            }
        }
        for x in s.sessions.iter().filter(|x| x.user_id == t.user) {
            still_open.push(format!(
                "session {} (last seen {})",
                x.id,
                rfc3339(x.last_seen_at)
            ));
        }
    }
    let last = sessions
        .iter()
        .copied()
        .chain(keys.iter().map(|k| k.1))
        .max();
    Revoked {
        sessions_ended: sessions.len(),
        keys_revoked: keys,
        still_open,
        took: last.map(|l| l - t.removal.at),
    }
}

pub(super) fn terminations(d: &mut Draft, ev: &Evidence, snap: Option<&ReportSnapshot>) {
    let list = &ev.terminations.list;
    if list.is_empty() {
        return;
    }
    let limit = Duration::hours(REVOKE_WITHIN_HOURS);
    let mut rows = Vec::new();
    let (mut timely, mut longest) = (0usize, None::<Duration>);
    for t in list {
        let o = outcome(t, snap);
        let who = ev
            .email_of(t.user)
            .map_or_else(|| t.user.to_string(), |e| format!("{e} ({})", t.user));
        let by = t
            .removal
            .actor
            .email
            .as_deref()
            .map(str::to_owned)
            .or(t.removal.actor.user_id.map(|u| u.to_string()))
            .unwrap_or_else(|| t.removal.actor.kind.to_string());
        // Revocation is complete only when nothing is still open.
        let took = match (o.took, o.still_open.is_empty()) {
            (Some(x), true) => human(x),
            (None, true) => "nothing open to revoke".into(),
            (Some(x), false) => format!("NOT COMPLETE (last revocation after {})", human(x)),
            (None, false) => "NOT REVOKED".into(),
        };
        if o.still_open.is_empty() && o.took.is_none_or(|x| x <= limit) {
            timely += 1;
        }
        if let Some(x) = o.took {
            longest = Some(longest.map_or(x, |l: Duration| l.max(x)));
            if x > limit {
                d.finding(format!(
                    "{who} was removed at {} but the last of their access was revoked {} later (more than {REVOKE_WITHIN_HOURS} h).",
                    t.removal.time,
                    human(x)
                ));
            }
        }
        if !o.still_open.is_empty() {
            d.finding(format!(
                "{who} was removed at {} and still holds: {}.",
                t.removal.time,
                o.still_open.join(", ")
            ));
        }
        rows.push(vec![
            who,
            format!("{} (seq {}) by {by}", t.removal.time, t.removal.seq),
            o.sessions_ended.to_string(),
            if o.keys_revoked.is_empty() {
                "0".into()
            } else {
                o.keys_revoked
                    .iter()
                    .map(|(k, at)| format!("{k} at {}", rfc3339(*at)))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
            took,
            if snap.is_none() {
                "not checked (no snapshot)".into()
            } else if o.still_open.is_empty() {
                "none".into()
            } else {
                o.still_open.join("; ")
            },
        ]);
    }
    d.evidence(format!(
        "Time to revoke (removal to the last session ended or API key revoked): {timely} of {} removals fully revoked within {REVOKE_WITHIN_HOURS} h{}.",
        list.len(),
        longest.map_or(String::new(), |l| format!("; the longest took {}", human(l)))
    ));
    d.table(Table::new(
        "Terminations: time from removal to revocation",
        &[
            "Member",
            "Removed (time, seq, by)",
            "Sessions ended",
            "API keys revoked",
            "Time to revoke",
            "Still open at the snapshot",
        ],
        rows,
    ));
}
