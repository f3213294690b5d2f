//! What a report keeps while a bundle streams through: counters per day
//! and per action, and the populations (rows) of the events the controls
//! speak about. Everything else passes by.

use crate::audit::actions::Action;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use serde_json::Value;
use uuid::Uuid;

use super::row::Interner;
pub use super::row::{cell_time, diff, ActorRef, FieldChange, Row, ROW_COLUMNS};
use super::ReportOptions;
use crate::audit::AuditEvent;

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
    /// Sessions ended by their user or an admin (also at a member's removal).
    SessionRevocation,
    /// API keys created, rotated and revoked.
    KeyLifecycle,
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
        AuthLoginFailed | AuthLoginLocked | AuthAccountLocked | AuthMfaFailed | AuthSsoFailed => {
            &[SignInFailure]
        }
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
        | AuthSsoRequired
        | ApiKeyRejected
        | AuthRefreshRefused => &[Refusal],
        // Configuration, not privilege: a tier or settings change is not an anomaly.
        SecuritySettingsChanged
        | OrgTierChanged
        | OrgUpdated
        | OrgCreated
        | OrgDeleted
        | SystemSigningKeyRotated
        | AuditKeyRotated
        | SsoProviderCreated
        | SsoProviderDeleted => &[Configuration],
        AuthRefreshTokenReused => &[TokenReuse],
        ApiKeyCreated | ApiKeyRotated | ApiKeyRevoked => &[Credential, KeyLifecycle],
        UserPasswordChanged | UserPasswordReset | MfaEnabled | MfaDisabled
        | AuthRecoveryCodeUsed | SsoIdentityLinked => &[Credential],
        SessionRevoked => &[SessionRevocation],
        AuditExported | AuditVerified | AuditPurged => &[AuditOperation],
        UserRegistered => &[Registration],
        UserSuperAdminGranted => &[Registration, Privileged],
        // Recorded, but no report population draws on them (yet).
        UserPasswordChangeFailed
        | AuthTokenRefreshed
        | AuthOrgSwitched
        | AuthLogout
        | ReportGenerated
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
    /// User agents of the subject's own requests, with their event counts.
    pub user_agents: BTreeMap<String, u64>,
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
    /// The organization's name as the chain last states it (the `after`
    /// of organization events), for a report made without a snapshot.
    pub org_name: Option<String>,
    /// Each removal and the revocations after it (time to revoke).
    pub terminations: super::revocation::Terminations,
    pub subject: Subject,
    /// Art. 33's incident window, from the options.
    incident: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Distinct people and records touched in the incident window (Art. 33).
    pub people: BTreeSet<Uuid>,
    pub records: BTreeSet<String>,
    /// Failed sign-in attempts per address in the last 10 minutes
    /// (sliding-window burst detection).
    attempts: HashMap<Arc<str>, Window>,
    /// Emails the chain itself names (member events), by user.
    emails: HashMap<Uuid, Arc<str>>,
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
            incident: o.incident,
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
            terminations: Default::default(),
            org_name: None,
            subject: Subject::default(),
            people: BTreeSet::new(),
            records: BTreeSet::new(),
            attempts: HashMap::new(),
            emails: HashMap::new(),
            found_bursts: Vec::new(),
            strings: Interner::default(),
        }
    }

    pub fn rows(&self, kind: Kind) -> &[Row] {
        self.populations.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// An account's email as the chain or the snapshot names it.
    pub fn email_of(&self, user: Uuid) -> Option<&str> {
        self.emails.get(&user).map(|e| &**e)
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
        // Art. 33: only what happened inside the incident window is
        // potentially affected (people acting or acted upon, records touched).
        if self
            .incident
            .is_some_and(|(from, to)| time >= from && time <= to)
        {
            if let Some(u) = e.actor.user_id {
                self.people.insert(u);
            }
            if let (Some(t), Some(id)) = (&e.resource_type, &e.resource_id) {
                if matches!(t.as_str(), "user" | "member") {
                    if let Ok(u) = id.parse() {
                        self.people.insert(u);
                    }
                }
                self.records.insert(format!("{t} {id}"));
            }
        }
        self.learn_email(e);
        if e.resource_type.as_deref() == Some("organization") && e.outcome == "success" {
            if let Some(name) = [e.after.as_ref(), e.metadata.get("after")]
                .into_iter()
                .flatten()
                .find_map(|a| a.get("name").and_then(Value::as_str))
            {
                self.org_name = Some(name.to_owned());
            }
        }
        let kinds = kinds(&e.action);
        if !kinds.is_empty() || self.is_subject(e) {
            let row = Row::of(e, time, &mut self.strings);
            if is_attempt(&e.action) {
                let ip = row.ip.clone().unwrap_or_else(|| self.strings.get(""));
                self.attempt(ip, time, n);
            }
            self.removals(e, &row);
            self.terminations.observe(e, &row);
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

    /// Fills in actors' emails: the chain's own member events first, then
    /// the snapshot's members.
    pub fn resolve_emails(&mut self, members: &[(Uuid, &str)]) {
        for (id, email) in members {
            self.emails
                .entry(*id)
                .or_insert_with(|| self.strings.get(email));
        }
        let emails = &self.emails;
        let fill = |r: &mut Row| {
            if let Some(u) = r.actor.user_id {
                r.actor.email = emails.get(&u).cloned();
            }
        };
        self.populations.values_mut().flatten().for_each(fill);
        self.after_removal.iter_mut().for_each(fill);
        self.refused_after_removal.iter_mut().for_each(fill);
        self.terminations.rows_mut().for_each(fill);
        self.subject.rows.iter_mut().for_each(fill);
        self.subject.role_history.iter_mut().for_each(fill);
    }

    /// A member event names the member's email (in `after` or in the
    /// metadata's `after`).
    fn learn_email(&mut self, e: &AuditEvent) {
        if e.resource_type.as_deref() != Some("member") {
            return;
        }
        let Some(user) = e
            .resource_id
            .as_deref()
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return;
        };
        let email = [e.after.as_ref(), e.metadata.get("after"), e.before.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|v| v.get("email").and_then(Value::as_str));
        if let Some(email) = email {
            let email = self.strings.get(email);
            self.emails.insert(user, email);
        }
    }

    fn removals(&mut self, e: &AuditEvent, row: &Row) {
        let member = e
            .resource_id
            .as_deref()
            .and_then(|s| s.parse::<Uuid>().ok());
        match (Action::from_name(&e.action), member) {
            (Some(Action::MemberRemoved), Some(m)) => {
                self.removed.insert(m, row.at);
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
                    if e.outcome != "success" && row.at >= r {
                        self.refused_after_removal.push(row.clone());
                    } else if e.outcome == "success" && row.at > r + Duration::seconds(1) {
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
                let entry = s.sessions.entry(sid).or_insert((row.at, row.at, 0));
                entry.0 = entry.0.min(row.at);
                entry.1 = entry.1.max(row.at);
                entry.2 += row.count;
            }
            if let Some(ip) = &row.ip {
                *s.ips.entry(ip.to_string()).or_default() += row.count;
            }
            if let Some(ua) = &row.user_agent {
                *s.user_agents.entry(ua.to_string()).or_default() += row.count;
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
