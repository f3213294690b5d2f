//! SOC 2 (Trust Services Criteria) common criteria.

use super::*;
use crate::audit::actions::Action;
use uuid::Uuid;

pub(super) fn logical_access(id: &str, ev: &Evidence, snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        id,
        "Logical access security",
        "Access to information assets is restricted through logical access security: identified users, role-based permissions, and strong authentication.",
    );
    let signins = ev.rows(Kind::SignIn);
    d.evidence(format!(
        "{} successful sign-ins and {} failed or refused sign-in attempts in the period.",
        total(signins),
        total(ev.rows(Kind::SignInFailure))
    ));
    if let Some(split) = signin_methods(ev) {
        d.evidence(split);
    }
    if let Some(s) = snap {
        mfa_coverage(&mut d, s);
        d.table(role_matrix(s)).table(members_table(s));
    }
    let keys = ev.rows(Kind::KeyLifecycle);
    let n = |a: Action| keys.iter().filter(|r| &*r.action == a.as_str()).count();
    d.evidence(format!(
        "API keys: {} created, {} rotated, {} revoked in the period{}.",
        n(Action::ApiKeyCreated),
        n(Action::ApiKeyRotated),
        n(Action::ApiKeyRevoked),
        snap.map_or(String::new(), |s| format!(
            "; {} active at the snapshot",
            s.api_keys
                .iter()
                .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|t| t > s.taken_at))
                .count()
        ))
    ));
    d.table(rows_table("Sign-ins", signins));
    d.table(rows_table("API key lifecycle", keys));
    d.done(snap.is_some() || !signins.is_empty())
}

pub(super) fn provisioning(id: &str, ev: &Evidence, snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        id,
        "Provisioning and deprovisioning",
        "Users are registered and authorized before access is granted, and access is removed promptly when no longer needed.",
    );
    let rows = ev.rows(Kind::Provisioning);
    let added = rows
        .iter()
        .filter(|r| &*r.action == Action::MemberAdded.as_str())
        .count();
    let removed = rows
        .iter()
        .filter(|r| &*r.action == Action::MemberRemoved.as_str())
        .count();
    d.evidence(format!(
        "{added} members added and {removed} removed in the period; the trail is checked for any activity by a removed member after their removal."
    ));
    terminations(&mut d, ev, snap);
    if !ev.refused_after_removal.is_empty() {
        d.evidence(format!(
            "{} attempts by removed members were refused after their removal (evidence that revocation works; see table).",
            ev.refused_after_removal.iter().map(|r| r.count).sum::<u64>()
        ));
        d.table(rows_table(
            "Refused attempts after removal",
            &ev.refused_after_removal,
        ));
    }
    if ev.after_removal.is_empty() {
        if removed > 0 {
            d.evidence("No successful activity by a removed member after their removal.".into());
        }
    } else {
        d.finding(format!(
            "{} events by members after their removal (see table).",
            ev.after_removal.len()
        ));
        d.table(rows_table("Activity after removal", &ev.after_removal));
    }
    if let Some(s) = snap {
        d.evidence(format!(
            "{} members currently hold access.",
            s.members.len()
        ));
        // Keys outlive their creator's membership unless revoked.
        let orphaned: Vec<_> = s
            .api_keys
            .iter()
            .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|t| t > s.taken_at))
            .filter(|k| !s.members.iter().any(|m| m.user_id == k.created_by))
            .collect();
        // Creators removed in the period are reported with their termination.
        let terminated = |u: Uuid| ev.terminations.list.iter().any(|t| t.user == u);
        for k in orphaned.iter().filter(|k| !terminated(k.created_by)) {
            d.finding(format!(
                "API key {} (\"{}\", {}) was created by {}, who is no longer a member, and is still active.",
                k.key_id,
                k.name,
                k.id,
                k.created_by
            ));
        }
        if !orphaned.is_empty() {
            d.table(Table::new(
                "Active API keys of departed members",
                &["Key", "Name", "Created by", "Created", "Last used"],
                orphaned
                    .iter()
                    .map(|k| {
                        vec![
                            k.key_id.clone(),
                            k.name.clone(),
                            ev.email_of(k.created_by)
                                .map_or_else(|| k.created_by.to_string(), str::to_owned),
                            rfc3339(k.created_at),
                            k.last_used_at
                                .map(rfc3339)
                                .unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect(),
            ));
        }
    }
    d.table(rows_table("Members added and removed", rows));
    d.table(rows_table(
        "Sessions revoked (by their user, an admin, or at removal)",
        ev.rows(Kind::SessionRevocation),
    ));
    d.done(!rows.is_empty() || snap.is_some())
}

/// Refusals at the system boundary (requests from outside).
const BOUNDARY: [&str; 7] = [
    "request.rate_limited",
    "request.ip_denied",
    "request.signature_rejected",
    "auth.csrf_failed",
    "auth.signin_rate_limited",
    "api_key.rejected",
    "auth.refresh_refused",
];

pub(super) fn boundary(
    id: &str,
    title: &str,
    ev: &Evidence,
    snap: Option<&ReportSnapshot>,
) -> Section {
    let mut d = Draft::new(
        id,
        title,
        "Requests from outside are filtered: rate limits, network (IP) rules, request signatures and CSRF protection refuse what should not enter.",
    );
    // Only what the boundary filters: a permission denial of a signed-in
    // member is access control inside the system (CC6.3, A.5.15), not here.
    let all = ev.rows(Kind::Refusal);
    let rows: Vec<Row> = all
        .iter()
        .filter(|r| BOUNDARY.contains(&&*r.action))
        .cloned()
        .collect();
    let mut by_action: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &rows {
        *by_action.entry(&*r.action).or_default() += r.count;
    }
    for a in BOUNDARY {
        d.evidence(format!(
            "{a}: {} refused",
            by_action.get(a).copied().unwrap_or(0)
        ));
    }
    let inside = total(all) - total(&rows);
    if inside > 0 {
        d.evidence(format!(
            "{inside} refusals inside the boundary (permission denials, escalation and membership refusals of signed-in accounts) are not counted here."
        ));
    }
    let rows = rows.as_slice();
    if let Some(s) = snap {
        let st = &s.organization.settings;
        d.evidence(format!(
            "Organization IP rules: allow [{}], deny [{}]; signed requests required: {}.",
            st.ip_allow
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            st.ip_deny
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if st.require_signed_requests {
                "yes"
            } else {
                "no"
            }
        ));
    }
    d.table(rows_table("Refused requests", rows));
    d.done(!rows.is_empty() || snap.is_some())
}

pub(super) fn anomalies(id: &str, ev: &Evidence) -> Section {
    let mut d = Draft::new(
        id,
        "Detection of anomalies",
        "The system is monitored for anomalies that indicate malicious acts or errors, and anomalies are analysed.",
    );
    d.table(rows_table("Failed sign-ins", ev.rows(Kind::SignInFailure)));
    let has = anomaly_findings(&mut d, ev);
    d.done(has)
}

pub(super) fn configuration(id: &str, title: &str, ev: &Evidence) -> Section {
    let mut d = Draft::new(
        id,
        title,
        "Changes to the system's configuration are authorized, recorded and traceable.",
    );
    let rows = ev.rows(Kind::Configuration);
    d.evidence(format!(
        "{} configuration changes in the period (security settings, tier, organization, signing keys), each with its actor and before/after values.",
        total(rows)
    ));
    d.table(rows_table("Configuration changes", rows));
    d.done(!rows.is_empty())
}
