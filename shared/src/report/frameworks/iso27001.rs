//! ISO/IEC 27001:2022 Annex A controls.

use super::*;
use crate::audit::actions::Action;

/// Permissions that change state (for segregation of duties).
pub(super) fn writes(perms: &[String]) -> Vec<&String> {
    perms
        .iter()
        .filter(|p| {
            let verb = p.split(':').nth(1).unwrap_or_default();
            !["read", "download", "export", "verify", "generate"].contains(&verb)
        })
        .collect()
}

pub(super) fn segregation(snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        "A.5.3",
        "Segregation of duties",
        "Conflicting duties and areas of responsibility are segregated: nobody both grants access and can erase its evidence, and auditors cannot change what they audit.",
    );
    let Some(s) = snap else {
        d.evidence(
            "No current-state snapshot: generate the report online to evaluate role assignments."
                .into(),
        );
        return d.done(false);
    };
    let perms_of = |role: &str| {
        s.roles
            .iter()
            .find(|r| r.name == role)
            .map(|r| r.effective_permissions.clone())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let mut owners = Vec::new();
    for m in &s.members {
        let mut perms: Vec<String> = m.roles.iter().flat_map(|r| perms_of(r)).collect();
        perms.sort();
        perms.dedup();
        let has = |p: &str| perms.iter().any(|x| x == p);
        let both = (has("role:assign") || has("grant:create")) && has("audit:purge");
        // The predefined admin role is the organization's owner and holds
        // both by design (purges leave a signed anchor); a conflict is a
        // combination someone built (a custom role) or an auditor who can write.
        if both && m.roles.iter().any(|r| r == "admin") {
            owners.push(m.email.clone());
        } else if both {
            rows.push(vec![
                m.email.clone(),
                m.roles.join(", "),
                "grants access and can purge the audit trail".to_owned(),
            ]);
        }
        if m.roles.iter().any(|r| r == "auditor") {
            let w = writes(&perms);
            if !w.is_empty() {
                rows.push(vec![
                    m.email.clone(),
                    m.roles.join(", "),
                    format!(
                        "auditor who can also change state ({})",
                        w.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ]);
            }
        }
    }
    d.evidence(format!(
        "{} members evaluated against the conflict rules; {} conflicts.",
        s.members.len(),
        rows.len()
    ));
    if !owners.is_empty() {
        d.evidence(format!(
            "{} admins hold both access granting and audit purge through the predefined admin role (by design: every purge leaves a signed anchor in the chain): {}.",
            owners.len(),
            owners.join(", ")
        ));
    }
    if !rows.is_empty() {
        d.finding(format!(
            "{} segregation-of-duties conflicts (see table); document compensating controls or split the roles.",
            rows.len()
        ));
    }
    d.table(Table::new(
        "Conflicts",
        &["Member", "Roles", "Conflict"],
        rows,
    ));
    d.table(role_matrix(s));
    d.done(true)
}

pub(super) fn access_control_policy(ev: &Evidence, snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        "A.5.15",
        "Access control",
        "Rules to control physical and logical access are established and implemented based on business and security requirements.",
    );
    let denied = ev.count("access.denied");
    d.evidence(format!(
        "Role-based access control with per-resource grants; {denied} requests refused for a missing permission in the period."
    ));
    if let Some(s) = snap {
        d.table(role_matrix(s));
    }
    let refusals: Vec<Row> = ev
        .rows(Kind::Refusal)
        .iter()
        .filter(|r| &*r.action == Action::AccessDenied.as_str())
        .cloned()
        .collect();
    d.table(rows_table("Permission denials", &refusals));
    d.done(snap.is_some() || denied > 0)
}

pub(super) fn identity_management(ev: &Evidence, snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        "A.5.16",
        "Identity management",
        "The full life cycle of identities is managed: registration, joining and leaving organizations.",
    );
    let reg = ev.rows(Kind::Registration);
    let prov = ev.rows(Kind::Provisioning);
    d.evidence(format!(
        "{} registrations and {} membership changes in the period.",
        total(reg),
        total(prov)
    ));
    // Leaving is part of the life cycle: what was revoked, and how fast.
    terminations(&mut d, ev, snap);
    if let Some(s) = snap {
        d.table(members_table(s));
    }
    d.table(rows_table("Registrations", reg));
    d.table(rows_table("Memberships added and removed", prov));
    d.done(!reg.is_empty() || !prov.is_empty() || snap.is_some())
}

pub(super) fn authentication_information(ev: &Evidence, snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        "A.5.17",
        "Authentication information",
        "Allocation and management of authentication information (passwords, second factors, API keys) is controlled.",
    );
    let rows = ev.rows(Kind::Credential);
    d.evidence(format!(
        "{} credential changes (passwords, MFA, API keys) in the period.",
        total(rows)
    ));
    if let Some(s) = snap {
        let now = s.taken_at;
        let keys: Vec<Vec<String>> = s
            .api_keys
            .iter()
            .map(|k| {
                let since = k.rotated_at.unwrap_or(k.created_at);
                vec![
                    k.name.clone(),
                    k.key_id.clone(),
                    k.scopes.join(", "),
                    format!("{}", (now - since).num_days()),
                    k.revoked_at
                        .map_or("active".to_owned(), |_| "revoked".to_owned()),
                    if k.require_signature { "yes" } else { "no" }.to_owned(),
                ]
            })
            .collect();
        let stale = s
            .api_keys
            .iter()
            .filter(|k| {
                k.revoked_at.is_none()
                    && (now - k.rotated_at.unwrap_or(k.created_at)).num_days() > 90
            })
            .count();
        if stale > 0 {
            d.finding(format!(
                "{stale} active API keys not rotated for more than 90 days."
            ));
        }
        d.table(Table::new(
            "API keys (current)",
            &[
                "Name",
                "Key id",
                "Scopes",
                "Days since rotation",
                "State",
                "Signed",
            ],
            keys,
        ));
    }
    d.table(rows_table("Credential changes", rows));
    d.done(!rows.is_empty() || snap.is_some())
}

pub(super) fn privileged_access(ev: &Evidence, snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        "A.8.2",
        "Privileged access rights",
        "The allocation and use of privileged access rights is restricted and managed.",
    );
    let rows = ev.rows(Kind::Privileged);
    d.evidence(format!("{} privileged changes in the period.", total(rows)));
    if let Some(s) = snap {
        let admins: Vec<Vec<String>> = s
            .members
            .iter()
            .filter(|m| m.roles.iter().any(|r| r == "admin") || m.is_super_admin)
            .map(|m| {
                vec![
                    m.email.clone(),
                    m.roles.join(", "),
                    if m.is_super_admin { "yes" } else { "no" }.to_owned(),
                    if m.mfa_enabled { "yes" } else { "NO" }.to_owned(),
                ]
            })
            .collect();
        d.evidence(format!(
            "{} members hold privileged access now.",
            admins.len()
        ));
        let missing = admins_without_mfa(s);
        if !missing.is_empty() {
            d.finding(format!(
                "Privileged members without MFA: {}.",
                missing.join(", ")
            ));
        }
        d.table(Table::new(
            "Privileged members (current)",
            &["Email", "Roles", "Super admin", "MFA"],
            admins,
        ));
    }
    d.table(rows_table("Privileged changes", rows));
    d.done(!rows.is_empty() || snap.is_some())
}

pub(super) fn secure_authentication(ev: &Evidence, snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        "A.8.5",
        "Secure authentication",
        "Secure authentication technologies and procedures are implemented: strong passwords, second factors, lockout of repeated failures.",
    );
    d.evidence(format!(
        "{} sign-ins, {} failures, {} account lockouts, {} second-factor failures in the period.",
        total(ev.rows(Kind::SignIn)),
        ev.count("auth.login_failed"),
        ev.count("auth.account_locked") + ev.count("auth.login_locked"),
        ev.count("auth.mfa_failed")
    ));
    if let Some(split) = signin_methods(ev) {
        d.evidence(split);
    }
    if let Some(s) = snap {
        mfa_coverage(&mut d, s);
    }
    d.table(rows_table(
        "Failed sign-ins and lockouts",
        ev.rows(Kind::SignInFailure),
    ));
    d.done(snap.is_some() || !ev.rows(Kind::SignIn).is_empty())
}

pub(super) fn logging(
    ev: &Evidence,
    snap: Option<&ReportSnapshot>,
    integrity: &Integrity,
) -> Section {
    let mut d = Draft::new(
        "A.8.15",
        "Logging",
        "Logs that record activities, exceptions, faults and other relevant events are produced, stored, protected and analysed.",
    );
    d.evidence(format!(
        "{} events of {} kinds in the period; integrity: {}",
        ev.in_period,
        ev.per_action.len(),
        integrity.statement
    ));
    if let Some(s) = snap {
        d.evidence(format!(
            "Retention: {} days.",
            s.organization.settings.audit_retention_days
        ));
    }
    let rows: Vec<Vec<String>> = ev
        .per_action
        .iter()
        .map(|(a, n)| vec![a.clone(), n.to_string()])
        .collect();
    d.table(Table::new(
        "Coverage: events by action",
        &["Action", "Events"],
        rows,
    ));
    d.table(rows_table(
        "Audit exports, verifications and purges",
        ev.rows(Kind::AuditOperation),
    ));
    d.done(ev.in_period > 0)
}

pub(super) fn monitoring(ev: &Evidence) -> Section {
    let mut d = Draft::new(
        "A.8.16",
        "Monitoring activities",
        "Networks, systems and applications are monitored for anomalous behaviour and appropriate actions taken.",
    );
    d.table(rows_table("Refused requests", ev.rows(Kind::Refusal)));
    let has = anomaly_findings(&mut d, ev);
    d.done(has)
}

/// A.8.3: access to information is restricted (resource grants, and
/// refusals of what a member's permissions do not allow).
pub(super) fn information_access(ev: &Evidence) -> Section {
    let mut d = Draft::new(
        "A.8.3",
        "Information access restriction",
        "Access to information and assets is restricted in accordance with the access control policy: per-resource grants, and refusal of what permissions do not allow.",
    );
    let grants = only(ev.rows(Kind::AccessChange), |a| a.starts_with("grant."));
    let refused = only(ev.rows(Kind::Refusal), |a| {
        a == Action::AccessDenied.as_str() || a == Action::AccessEscalationRefused.as_str()
    });
    d.evidence(format!(
        "{} resource grants created or revoked; {} requests refused for a missing permission or as an escalation.",
        total(&grants),
        total(&refused)
    ));
    d.table(rows_table("Resource grants", &grants));
    d.table(rows_table("Refused for missing permissions", &refused));
    d.done(!grants.is_empty() || !refused.is_empty())
}

/// A.8.32: changes to the system (configuration, signing keys, roles and
/// their permissions) are recorded with actor and before/after.
pub(super) fn change_management(ev: &Evidence) -> Section {
    let mut d = Draft::new(
        "A.8.32",
        "Change management",
        "Changes to information processing facilities and systems are subject to change management: each is authorized, recorded and traceable.",
    );
    let mut rows: Vec<Row> = ev.rows(Kind::Configuration).to_vec();
    // Custom roles change what the system grants; assigning one is an
    // access change (A.5.18), not a change of the system.
    rows.extend(only(ev.rows(Kind::AccessChange), |a| {
        matches!(a, "role.created" | "role.updated" | "role.deleted")
    }));
    rows.sort_by_key(|r| r.seq);
    d.evidence(format!(
        "{} changes in the period (configuration, keys, custom roles), each with its actor, time and before/after.",
        total(&rows)
    ));
    d.table(rows_table("Changes", &rows));
    d.done(!rows.is_empty())
}

/// A.5.25: security events are assessed (the detections LOKI makes).
pub(super) fn event_assessment(ev: &Evidence) -> Section {
    let mut d = Draft::new(
        "A.5.25",
        "Assessment and decision on information security events",
        "Information security events are assessed and it is decided whether they are to be categorized as incidents.",
    );
    d.evidence("LOKI classifies as possible incidents: bursts of failed sign-ins from one address, refresh-token reuse (possible token theft) and failed verifications of the audit trail; the decision itself is the organization's.".into());
    let has = anomaly_findings(&mut d, ev);
    d.done(has)
}

/// A.5.26: the response LOKI makes automatically; the rest is outside it.
pub(super) fn incident_response(ev: &Evidence) -> Section {
    let mut d = Draft::new(
        "A.5.26",
        "Response to information security incidents",
        "Information security incidents are responded to in accordance with documented procedures.",
    );
    let bursts = ev.bursts().len();
    let reuse = total(ev.rows(Kind::TokenReuse));
    let lockouts = ev.count(Action::AuthAccountLocked.as_str());
    d.evidence(format!(
        "Automatic containment in the period: {lockouts} account lockouts after repeated failures; {reuse} refresh-token reuses, each of which revoked its session family at once (by design, recorded in the event)."
    ));
    if bursts == 0 && reuse == 0 {
        d.evidence(
            "No possible incident was detected in the period, so there was nothing to respond to."
                .into(),
        );
        let mut s = d.done(false);
        s.status = Status::NotApplicable;
        return s;
    }
    d.evidence(format!(
        "{bursts} bursts and {reuse} token reuses were detected (A.5.25). The organization's own response (tickets, notifications, root cause) is not recorded by LOKI: obtain it to conclude on this control."
    ));
    d.done(false)
}

fn only(rows: &[Row], keep: impl Fn(&str) -> bool) -> Vec<Row> {
    rows.iter().filter(|r| keep(&r.action)).cloned().collect()
}
