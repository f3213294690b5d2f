//! Sections per framework, keyed by control id: what each control asks,
//! the evidence (figures and populations) and the exceptions.

use crate::audit::actions::Action;
use std::collections::BTreeMap;

use crate::api::ReportSnapshot;
use crate::controls::Framework;
use crate::report::collect::{Evidence, Kind, Row, BURST, ROW_COLUMNS};
use crate::report::{rfc3339, Integrity, ReportOptions, Section, Status, Table};

mod gdpr;
mod iso27001;
mod soc2;
mod terminations;

use gdpr::*;
use iso27001::*;
use soc2::*;
use terminations::*;

pub(super) fn rows_table(title: &str, rows: &[Row]) -> Table {
    let mut t = Table::new(title, &ROW_COLUMNS, rows.iter().map(Row::cells).collect());
    t.records = rows.to_vec();
    t
}

pub(super) fn total(rows: &[Row]) -> u64 {
    rows.iter().map(|r| r.count).sum()
}

/// How sign-ins split between single sign-on and passwords (each row's
/// `method`; older events without one were password sign-ins). Said only
/// when the period has SSO sign-ins or refusals.
pub(super) fn signin_methods(ev: &Evidence) -> Option<String> {
    let signins = ev.rows(Kind::SignIn);
    let sso: u64 = signins
        .iter()
        .filter(|r| r.details.get("method").and_then(|m| m.as_str()) == Some("sso"))
        .map(|r| r.count)
        .sum();
    let sso_failed = ev.count("auth.sso_failed");
    let sso_required = ev.count("auth.sso_required");
    if sso == 0 && sso_failed == 0 && sso_required == 0 {
        return None;
    }
    Some(format!(
        "Of the sign-ins, {sso} went through an organization's identity provider (single sign-on) and {} used a password; {sso_failed} single sign-ons were refused and {sso_required} password sign-ins were refused because single sign-on is required.",
        total(signins) - sso
    ))
}

/// A section being written.
pub(super) struct Draft(Section);

impl Draft {
    pub(super) fn new(id: &str, title: &str, asks: &str) -> Self {
        Self(Section {
            control_id: id.to_owned(),
            title: title.to_owned(),
            asks: asks.to_owned(),
            evidence: Vec::new(),
            findings: Vec::new(),
            narrative: None,
            tables: Vec::new(),
            status: Status::NotTested,
        })
    }
    pub(super) fn evidence(&mut self, s: String) -> &mut Self {
        self.0.evidence.push(s);
        self
    }
    pub(super) fn finding(&mut self, s: String) -> &mut Self {
        self.0.findings.push(s);
        self
    }
    pub(super) fn table(&mut self, t: Table) -> &mut Self {
        self.0.tables.push(t);
        self
    }
    /// Effective when anything was found, Exceptions with findings.
    pub(super) fn done(mut self, has_evidence: bool) -> Section {
        self.0.status = if !self.0.findings.is_empty() {
            Status::Exceptions
        } else if has_evidence {
            Status::Effective
        } else {
            Status::NotTested
        };
        self.0
    }
}

pub fn sections(
    o: &ReportOptions,
    ev: &Evidence,
    snap: Option<&ReportSnapshot>,
    integrity: &Integrity,
) -> Vec<Section> {
    let mut out = match o.framework {
        Framework::Soc2 => vec![
            logical_access("CC6.1", ev, snap),
            provisioning("CC6.2", ev, snap),
            access_changes("CC6.3", "Role, grant and access changes", ev),
            boundary(
                "CC6.6",
                "Protection against threats from outside the system boundary",
                ev,
                snap,
            ),
            anomalies("CC7.2", ev),
            configuration("CC8.1", "Change management (configuration)", ev),
        ],
        Framework::Iso27001 => vec![
            segregation(snap),
            access_control_policy(ev, snap),
            identity_management(ev, snap),
            authentication_information(ev, snap),
            access_changes("A.5.18", "Access rights", ev),
            event_assessment(ev),
            incident_response(ev),
            privileged_access(ev, snap),
            information_access(ev),
            secure_authentication(ev, snap),
            configuration("A.8.9", "Configuration management", ev),
            logging(ev, snap, integrity),
            monitoring(ev),
            boundary("A.8.20", "Network security", ev, snap),
            change_management(ev),
        ],
        Framework::Gdpr => vec![
            record_of_processing(snap),
            subject_access(o, ev, snap),
            breach_timeline(o, ev),
        ],
    };
    // Without current state, what only the snapshot can show was not tested.
    if snap.is_none() {
        for s in out.iter_mut().filter(|s| needs_snapshot(&s.control_id)) {
            if s.status == Status::Effective {
                s.status = Status::NotTested;
            }
            s.evidence.push(
                "Not tested in full: this report was made without the current-state snapshot (members, roles, keys), which this control needs.".into(),
            );
        }
    }
    if !integrity.verified {
        for s in &mut out {
            s.findings.insert(
                0,
                "The audit bundle failed verification: this section's evidence cannot be relied upon.".into(),
            );
            s.status = Status::Exceptions;
        }
    }
    for s in out.iter_mut().filter(|s| s.status == Status::Exceptions) {
        s.narrative = Some(narrative(s, ev, snap));
    }
    out
}

/// One paragraph per section with exceptions: the test, each exception,
/// where it is traced, and what it means for the conclusion.
fn narrative(s: &Section, ev: &Evidence, snap: Option<&ReportSnapshot>) -> String {
    let basis = match snap {
        Some(sn) => format!(
            "{} audit events of the period and the signed current-state snapshot of {}",
            ev.in_period,
            rfc3339(sn.taken_at)
        ),
        None => format!(
            "{} audit events of the period (no current-state snapshot)",
            ev.in_period
        ),
    };
    let n = s.findings.len();
    let listed: Vec<String> = s
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| format!("({}) {}", i + 1, f.trim_end_matches('.')))
        .collect();
    format!(
        "{id} ({title}) was tested against {basis}. The test found {n} exception{plural}: {list}. \
         Each is traceable to the events in the tables below by seq and event id{snap_note}. \
         Until management has explained and remediated {them}, and the control has been tested again, \
         the report does not conclude that {id} operated effectively over the period.",
        id = s.control_id,
        title = s.title,
        plural = if n == 1 { "" } else { "s" },
        list = listed.join("; "),
        snap_note = if snap.is_some() {
            ", or to the snapshot's entries"
        } else {
            ""
        },
        them = if n == 1 { "it" } else { "each" },
    )
}

/// Controls whose conclusion rests on current state (the snapshot).
fn needs_snapshot(control: &str) -> bool {
    matches!(
        control,
        "CC6.1"
            | "CC6.2"
            | "CC6.6"
            | "A.5.3"
            | "A.5.15"
            | "A.5.16"
            | "A.5.17"
            | "A.8.2"
            | "A.8.5"
            | "A.8.20"
            | "Art.30"
    )
}

pub(super) fn role_matrix(snap: &ReportSnapshot) -> Table {
    let rows = snap
        .roles
        .iter()
        .map(|r| {
            let holders = snap
                .members
                .iter()
                .filter(|m| m.roles.contains(&r.name))
                .count();
            vec![
                r.name.clone(),
                if r.predefined { "predefined" } else { "custom" }.to_owned(),
                r.parent.clone().unwrap_or_default(),
                holders.to_string(),
                r.effective_permissions.join(", "),
            ]
        })
        .collect();
    Table::new(
        "Role matrix (current)",
        &["Role", "Kind", "Parent", "Members", "Effective permissions"],
        rows,
    )
}

pub(super) fn members_table(snap: &ReportSnapshot) -> Table {
    let rows = snap
        .members
        .iter()
        .map(|m| {
            vec![
                m.email.clone(),
                m.user_id.to_string(),
                m.roles.join(", "),
                if m.mfa_enabled { "yes" } else { "NO" }.to_owned(),
                rfc3339(m.joined_at),
            ]
        })
        .collect();
    Table::new(
        "Members (current)",
        &["Email", "User id", "Roles", "MFA", "Member since"],
        rows,
    )
}

pub(super) fn admins_without_mfa(snap: &ReportSnapshot) -> Vec<String> {
    snap.members
        .iter()
        .filter(|m| (m.is_super_admin || m.roles.iter().any(|r| r == "admin")) && !m.mfa_enabled)
        .map(|m| m.email.clone())
        .collect()
}

pub(super) fn mfa_coverage(d: &mut Draft, snap: &ReportSnapshot) {
    let with = snap.members.iter().filter(|m| m.mfa_enabled).count();
    d.evidence(format!(
        "{with} of {} members have MFA enabled; MFA required of admins: {}.",
        snap.members.len(),
        if snap.organization.settings.require_mfa_for_admins {
            "yes"
        } else {
            "no"
        }
    ));
    let missing = admins_without_mfa(snap);
    if !missing.is_empty() {
        d.finding(format!("Admins without MFA: {}.", missing.join(", ")));
    }
}

pub(super) fn access_changes(id: &str, title: &str, ev: &Evidence) -> Section {
    let mut d = Draft::new(
        id,
        title,
        "Access is granted, changed and removed on authorization, with a record of each change (who, when, before and after).",
    );
    let rows = ev.rows(Kind::AccessChange);
    let mut by_action: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        *by_action.entry(&*r.action).or_default() += r.count;
    }
    let list: Vec<String> = by_action.iter().map(|(a, n)| format!("{a}: {n}")).collect();
    d.evidence(format!(
        "{} access changes in the period{}{}.",
        total(rows),
        if list.is_empty() { "" } else { " — " },
        list.join(", ")
    ));
    d.table(rows_table("Access changes with before and after", rows));
    d.done(!rows.is_empty())
}

pub(super) fn anomaly_findings(d: &mut Draft, ev: &Evidence) -> bool {
    let bursts = ev.bursts();
    let reuse = ev.rows(Kind::TokenReuse);
    let privileged = ev.rows(Kind::Privileged);
    let verify_failures: Vec<Row> = ev
        .rows(Kind::AuditOperation)
        .iter()
        .filter(|r| &*r.action == Action::AuditVerified.as_str() && &*r.outcome != "success")
        .cloned()
        .collect();
    d.evidence(format!(
        "{} failed sign-in bursts ({BURST} or more failed attempts from one address within any 10 minutes), {} refresh-token reuses, {} privilege changes, {} failed verifications of the audit trail.",
        bursts.len(),
        total(reuse),
        total(privileged),
        verify_failures.len()
    ));
    for (ip, at, n) in &bursts {
        d.finding(format!(
            "{n} failed sign-in attempts from {ip}, the first at {}.",
            rfc3339(*at)
        ));
    }
    if !reuse.is_empty() {
        d.finding(format!(
            "{} refresh-token reuses: the sessions were revoked; investigate possible token theft.",
            total(reuse)
        ));
    }
    if !verify_failures.is_empty() {
        d.finding(format!(
            "{} audit verifications failed.",
            verify_failures.len()
        ));
    }
    if !bursts.is_empty() {
        let rows = bursts
            .iter()
            .map(|(ip, at, n)| vec![ip.clone(), rfc3339(*at), n.to_string()])
            .collect();
        d.table(Table::new(
            "Failed sign-in bursts",
            &["Address", "10-minute slot from", "Failures"],
            rows,
        ));
    }
    d.table(rows_table("Refresh-token reuse", reuse));
    d.table(rows_table("Privilege changes", privileged));
    ev.in_period > 0
}
