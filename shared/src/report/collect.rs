//! What a report keeps while a bundle streams through: counters per day
//! and per action, and the populations (rows) of the events the controls
//! speak about. Everything else passes by.

use crate::audit::actions::Action;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::ReportOptions;
use crate::audit::AuditEvent;

/// A population row: the event's time, action, actor, subject, address,
/// outcome, count and details.
/// Values that repeat across rows (actions, actors, addresses, outcomes)
/// are shared, so a population of 100,000 rows costs little more than
/// its resources and details.
#[derive(Debug, Clone)]
pub struct Row {
    pub time: DateTime<Utc>,
    pub action: Arc<str>,
    pub actor: Arc<str>,
    pub resource: String,
    pub ip: Arc<str>,
    pub outcome: Arc<str>,
    pub count: u64,
    pub detail: String,
}

#[derive(Default)]
struct Interner(HashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(v) = self.0.get(s) {
            return v.clone();
        }
        let v: Arc<str> = Arc::from(s);
        self.0.insert(v.clone());
        v
    }
}

impl Row {
    fn of(e: &AuditEvent, time: DateTime<Utc>, strings: &mut Interner) -> Self {
        let actor = match (&e.actor.user_id, &e.actor.api_key_id) {
            (_, Some(k)) => format!("api key {k}"),
            (Some(u), None) => u.to_string(),
            (None, None) => e.actor.kind.clone(),
        };
        let resource = match (&e.resource_type, &e.resource_id) {
            (Some(t), Some(id)) => format!("{t} {id}"),
            (Some(t), None) => t.clone(),
            _ => String::new(),
        };
        Self {
            time,
            action: strings.get(&e.action),
            actor: strings.get(&actor),
            resource,
            ip: strings.get(e.ip.as_deref().unwrap_or_default()),
            outcome: strings.get(&e.outcome),
            count: e.count.max(1),
            detail: detail(e),
        }
    }

    /// Time, action (with the count of a folded flood), actor (with the
    /// address), resource, details.
    pub fn cells(&self) -> Vec<String> {
        let action = if self.count > 1 {
            format!("{} (x{})", self.action, self.count)
        } else {
            self.action.to_string()
        };
        let actor = if self.ip.is_empty() {
            self.actor.to_string()
        } else {
            format!("{} from {}", self.actor, self.ip)
        };
        vec![
            cell_time(self.time),
            action,
            actor,
            self.resource.clone(),
            self.detail.clone(),
        ]
    }
}

pub const ROW_COLUMNS: [&str; 5] = ["Time (UTC)", "Action", "Actor", "Resource", "Details"];

/// Before/after and the reason, compactly.
fn detail(e: &AuditEvent) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &e.before {
        parts.push(format!("before {}", compact(b)));
    }
    if let Some(a) = &e.after {
        parts.push(format!("after {}", compact(a)));
    }
    if let Some(obj) = e.metadata.as_object() {
        for (k, v) in obj {
            if [
                "reason",
                "limit",
                "scope",
                "permission",
                "path",
                "kind",
                "mfa",
            ]
            .contains(&k.as_str())
            {
                parts.push(format!("{k}={}", compact(v)));
            }
        }
    }
    parts.join("; ")
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

/// `2026-11-27 10:13:33Z`: a break opportunity between date and time.
pub fn cell_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Populations by what they evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    SignIn,
    SignInFailure,
    Provisioning,
    AccessChange,
    Refusal,
    Configuration,
    TokenReuse,
    Credential,
    AuditOperation,
    Registration,
    Privileged,
}

/// Which populations an event of this action belongs to. Unknown names
/// (events from a newer daemon) belong to none.
fn kinds(action: &str) -> &'static [Kind] {
    Action::from_name(action).map_or(&[], action_kinds)
}

/// Every action, matched exhaustively: a new action does not compile until
/// it is given its populations or listed as not evidence.
fn action_kinds(action: Action) -> &'static [Kind] {
    use Action::*;
    use Kind::*;
    match action {
        AuthLoginSucceeded => &[SignIn],
        AuthLoginFailed | AuthLoginLocked | AuthAccountLocked | AuthMfaFailed => &[SignInFailure],
        MemberAdded | MemberRemoved => &[Provisioning, AccessChange],
        RoleAssigned | RoleRevoked | MemberRoleChanged => &[AccessChange, Privileged],
        RoleCreated | RoleUpdated | RoleDeleted | GrantCreated | GrantRevoked => &[AccessChange],
        RequestRateLimited
        | RequestIpDenied
        | RequestSignatureRejected
        | AuthCsrfFailed
        | AuthSigninRateLimited
        | AccessDenied
        | AccessEscalationRefused
        | AuthMembershipRefused
        | ApiKeyRejected
        | AuthRefreshRefused => &[Refusal],
        SecuritySettingsChanged | OrgTierChanged => &[Configuration, Privileged],
        OrgUpdated | OrgCreated | OrgDeleted | SystemSigningKeyRotated | AuditKeyRotated => {
            &[Configuration]
        }
        AuthRefreshTokenReused => &[TokenReuse],
        UserPasswordChanged | UserPasswordReset | MfaEnabled | MfaDisabled | ApiKeyCreated
        | ApiKeyRotated | ApiKeyRevoked | AuthRecoveryCodeUsed => &[Credential],
        AuditExported | AuditVerified | AuditPurged => &[AuditOperation],
        UserRegistered | UserSuperAdminGranted => &[Registration],
        // Recorded, but no report population draws on them (yet).
        UserPasswordChangeFailed
        | AuthTokenRefreshed
        | AuthOrgSwitched
        | AuthLogout
        | ReportGenerated
        | SessionRevoked
        | MfaEnrollmentStarted
        | MfaDisableFailed
        | OrgPurged
        | MemberInvited
        | InvitationRevoked
        | InvitationDeclined
        | InvitationTokenRejected
        | DocumentCreated
        | DocumentUpdated
        | DocumentContentReplaced
        | DocumentDownloaded
        | DocumentDeleted
        | AuditRead => &[],
    }
}

/// GDPR Art. 15: everything about one person.
#[derive(Debug, Default)]
pub struct Subject {
    pub rows: Vec<Row>,
    pub sessions: BTreeMap<Uuid, (DateTime<Utc>, DateTime<Utc>, u64)>,
    pub ips: BTreeMap<String, u64>,
    pub api_keys: BTreeSet<Uuid>,
    pub role_history: Vec<Row>,
}

pub struct Evidence {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    subject_id: Option<Uuid>,
    pub first_time: Option<DateTime<Utc>>,
    pub last_time: Option<DateTime<Utc>>,
    pub in_period: u64,
    pub per_day: BTreeMap<NaiveDate, u64>,
    pub denials_per_day: BTreeMap<NaiveDate, u64>,
    pub per_action: BTreeMap<String, u64>,
    pub populations: HashMap<Kind, Vec<Row>>,
    /// Members removed in the period: user -> when.
    pub removed: HashMap<Uuid, DateTime<Utc>>,
    /// Events by a member after their removal that succeeded (access not revoked).
    pub after_removal: Vec<Row>,
    /// Attempts by removed members that were refused (the revocation works).
    pub refused_after_removal: Vec<Row>,
    pub subject: Subject,
    /// Distinct people and records touched in the period (Art. 33).
    pub people: BTreeSet<Uuid>,
    pub records: BTreeSet<String>,
    /// Failed sign-in attempts per address in the last 10 minutes
    /// (sliding-window burst detection).
    attempts: HashMap<Arc<str>, Window>,
    found_bursts: Vec<(String, DateTime<Utc>, u64)>,
    strings: Interner,
}

/// Failed sign-ins from one address within 10 minutes that make a burst.
pub const BURST: u64 = 5;
/// The sliding window of burst detection.
const BURST_WINDOW_SECS: i64 = 600;

/// One address's attempts within the window, and the burst it is in.
#[derive(Debug, Default)]
struct Window {
    recent: std::collections::VecDeque<(i64, u64)>,
    sum: u64,
    /// Index into `found_bursts` while the window stays at or above BURST.
    open: Option<usize>,
}

/// Attempts, not their consequences: a lockout event is not an attempt.
fn is_attempt(action: &str) -> bool {
    matches!(
        Action::from_name(action),
        Some(Action::AuthLoginFailed | Action::AuthMfaFailed | Action::AuthLoginLocked)
    )
}

impl Evidence {
    pub fn new(o: &ReportOptions) -> Self {
        Self {
            from: o.from,
            to: o.to,
            subject_id: o.subject,
            first_time: None,
            last_time: None,
            in_period: 0,
            per_day: BTreeMap::new(),
            denials_per_day: BTreeMap::new(),
            per_action: BTreeMap::new(),
            populations: HashMap::new(),
            removed: HashMap::new(),
            after_removal: Vec::new(),
            refused_after_removal: Vec::new(),
            subject: Subject::default(),
            people: BTreeSet::new(),
            records: BTreeSet::new(),
            attempts: HashMap::new(),
            found_bursts: Vec::new(),
            strings: Interner::default(),
        }
    }

    pub fn rows(&self, kind: Kind) -> &[Row] {
        self.populations.get(&kind).map_or(&[], Vec::as_slice)
    }

    pub fn count(&self, action: &str) -> u64 {
        self.per_action.get(action).copied().unwrap_or(0)
    }

    /// (address, first attempt, attempts) for every burst: BURST or more
    /// failed attempts from one address within any 10 minutes (a sliding
    /// window, so a burst across a clock boundary counts); attempts while
    /// the window stays at or above BURST belong to the same burst.
    pub fn bursts(&self) -> Vec<(String, DateTime<Utc>, u64)> {
        let mut out = self.found_bursts.clone();
        out.sort();
        out
    }

    fn attempt(&mut self, ip: Arc<str>, time: DateTime<Utc>, n: u64) {
        let t = time.timestamp();
        let w = self.attempts.entry(ip.clone()).or_default();
        w.recent.push_back((t, n));
        w.sum += n;
        while let Some(&(first, k)) = w.recent.front() {
            if first > t - BURST_WINDOW_SECS {
                break;
            }
            w.recent.pop_front();
            w.sum -= k;
        }
        if w.sum < BURST {
            w.open = None;
            return;
        }
        match w.open {
            Some(i) => {
                if let Some(b) = self.found_bursts.get_mut(i) {
                    b.2 += n;
                }
            }
            None => {
                let start = w.recent.front().map_or(t, |f| f.0);
                w.open = Some(self.found_bursts.len());
                self.found_bursts.push((
                    ip.to_string(),
                    DateTime::from_timestamp(start, 0).unwrap_or(time),
                    w.sum,
                ));
            }
        }
    }

    pub fn line(&mut self, line: &str) {
        // Cheap test first: most lines of a large bundle are events.
        if !line.starts_with("{\"type\":\"event\"") {
            return;
        }
        #[derive(serde::Deserialize)]
        struct EventLine {
            event: AuditEvent,
        }
        let Ok(EventLine { event: e }) = serde_json::from_str::<EventLine>(line) else {
            return; // the verifier reports malformed lines
        };
        let Ok(time) = DateTime::parse_from_rfc3339(&e.time).map(|t| t.with_timezone(&Utc)) else {
            return;
        };
        if self.from.is_some_and(|f| time < f) || self.to.is_some_and(|t| time > t) {
            return;
        }
        self.event(&e, time);
    }

    fn event(&mut self, e: &AuditEvent, time: DateTime<Utc>) {
        let n = e.count.max(1);
        self.in_period += n;
        self.first_time = Some(self.first_time.map_or(time, |t| t.min(time)));
        self.last_time = Some(self.last_time.map_or(time, |t| t.max(time)));
        let day = time.date_naive();
        *self.per_day.entry(day).or_default() += n;
        *self.per_action.entry(e.action.clone()).or_default() += n;
        if e.outcome == "denied" {
            *self.denials_per_day.entry(day).or_default() += n;
        }
        if let Some(u) = e.actor.user_id {
            self.people.insert(u);
        }
        if let (Some(t), Some(id)) = (&e.resource_type, &e.resource_id) {
            self.records.insert(format!("{t} {id}"));
        }
        let kinds = kinds(&e.action);
        if !kinds.is_empty() || self.is_subject(e) {
            let row = Row::of(e, time, &mut self.strings);
            if is_attempt(&e.action) {
                self.attempt(row.ip.clone(), time, n);
            }
            self.removals(e, &row);
            if self.is_subject(e) {
                self.subject_event(e, &row);
            }
            for k in kinds {
                self.populations.entry(*k).or_default().push(row.clone());
            }
        } else if let Some(u) = e.actor.user_id {
            // Any other action by someone already removed.
            if self
                .removed
                .get(&u)
                .is_some_and(|r| time > *r + Duration::seconds(1))
            {
                self.after_removal.push(Row::of(e, time, &mut self.strings));
            }
        }
    }

    fn removals(&mut self, e: &AuditEvent, row: &Row) {
        let member = e
            .resource_id
            .as_deref()
            .and_then(|s| s.parse::<Uuid>().ok());
        match (Action::from_name(&e.action), member) {
            (Some(Action::MemberRemoved), Some(m)) => {
                self.removed.insert(m, row.time);
            }
            (Some(Action::MemberAdded), Some(m)) => {
                self.removed.remove(&m);
            }
            _ => {
                // A refusal after the removal is evidence it works; a success
                // more than a second later (the removal's own events aside) is
                // access that was not revoked.
                let removed = e.actor.user_id.and_then(|u| self.removed.get(&u).copied());
                if let Some(r) = removed {
                    if e.outcome != "success" && row.time >= r {
                        self.refused_after_removal.push(row.clone());
                    } else if e.outcome == "success" && row.time > r + Duration::seconds(1) {
                        self.after_removal.push(row.clone());
                    }
                }
            }
        }
    }

    /// The subject acted, or is the resource, or is named in the details
    /// (a grant to them, a role change of theirs).
    fn is_subject(&self, e: &AuditEvent) -> bool {
        let Some(s) = self.subject_id else {
            return false;
        };
        let id = s.to_string();
        let named = |v: &Value| v.to_string().contains(&id);
        e.actor.user_id == Some(s)
            || e.resource_id.as_deref() == Some(id.as_str())
            || named(&e.metadata)
            || e.before.as_ref().is_some_and(named)
            || e.after.as_ref().is_some_and(named)
    }

    fn subject_event(&mut self, e: &AuditEvent, row: &Row) {
        let s = &mut self.subject;
        s.rows.push(row.clone());
        if e.actor.user_id == self.subject_id {
            if let Some(sid) = e.actor.session_id {
                let entry = s.sessions.entry(sid).or_insert((row.time, row.time, 0));
                entry.0 = entry.0.min(row.time);
                entry.1 = entry.1.max(row.time);
                entry.2 += row.count;
            }
            if !row.ip.is_empty() {
                *s.ips.entry(row.ip.to_string()).or_default() += row.count;
            }
            if e.resource_type.as_deref() == Some("api_key") {
                if let Some(k) = e.resource_id.as_deref().and_then(|k| k.parse().ok()) {
                    s.api_keys.insert(k);
                }
            }
        }
        if e.resource_type.as_deref() == Some("member")
            && (e.action.starts_with("role.") || e.action.starts_with("member."))
        {
            s.role_history.push(row.clone());
        }
    }
}
