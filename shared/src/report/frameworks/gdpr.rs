//! GDPR articles: record of processing, subject access, breach timeline.

use super::*;

pub(super) fn record_of_processing(snap: Option<&ReportSnapshot>) -> Section {
    let mut d = Draft::new(
        "Art.30",
        "Record of processing activities (the LOKI console)",
        "The controller keeps a record of processing: purposes, categories of data subjects and personal data, recipients, transfers, retention and security measures.",
    );
    let retention = snap.map_or("as configured (default 365 days)".to_owned(), |s| {
        format!("{} days", s.organization.settings.audit_retention_days)
    });
    let rows = vec![
        vec!["Controller".into(), snap.map_or("the organization".into(), |s| s.organization.name.clone())],
        vec!["Purposes".into(), "Access control to compliance evidence; security monitoring; audit trail for accountability".into()],
        vec!["Data subjects".into(), "Members of the organization and API key holders".into()],
        vec!["Personal data".into(), "Email, display name, password hash (Argon2id), TOTP secret (encrypted), IP addresses, user agents, session and activity records".into()],
        vec!["Recipients".into(), "Organization admins and auditors; operators (super admins) of the deployment".into()],
        vec!["Transfers to third countries".into(), "None by the software; depends on where the deployment runs".into()],
        vec!["Retention".into(), format!("Audit events: {retention}; sessions until expiry or revocation")],
        vec!["Security measures".into(), "TLS, Argon2id, MFA, RBAC, rate limits, IP rules, request signing, tamper-evident signed audit chain".into()],
    ];
    d.evidence("The console's own processing, as an Art. 30 record.".into());
    if let Some(s) = snap {
        d.evidence(format!(
            "{} data subjects (members) at the time of the snapshot.",
            s.members.len()
        ));
    }
    d.table(Table::new("Record of processing", &["Item", "Entry"], rows));
    d.done(true)
}

pub(super) fn subject_access(o: &ReportOptions, ev: &Evidence) -> Section {
    let mut d = Draft::new(
        "Art.15",
        "Right of access by the data subject",
        "The data subject obtains confirmation of processing and a copy of their personal data: every event where they are actor or subject, their sessions, addresses, keys and role history.",
    );
    let Some(subject) = o.subject else {
        d.evidence(
            "No subject given: generate with --subject USER_ID for a subject access report.".into(),
        );
        let mut section = d.done(false);
        section.status = Status::NotApplicable;
        return section;
    };
    let s = &ev.subject;
    d.evidence(format!(
        "Subject {subject}: {} events, {} sessions, {} addresses, {} API keys, {} role changes in the period.",
        s.rows.len(),
        s.sessions.len(),
        s.ips.len(),
        s.api_keys.len(),
        s.role_history.len()
    ));
    let sessions = s
        .sessions
        .iter()
        .map(|(id, (first, last, n))| {
            vec![
                id.to_string(),
                rfc3339(*first),
                rfc3339(*last),
                n.to_string(),
            ]
        })
        .collect();
    let ips = s
        .ips
        .iter()
        .map(|(ip, n)| vec![ip.clone(), n.to_string()])
        .collect();
    let keys = s.api_keys.iter().map(|k| vec![k.to_string()]).collect();
    d.table(Table::new(
        "Sessions",
        &["Session", "First seen", "Last seen", "Events"],
        sessions,
    ));
    d.table(Table::new("IP addresses", &["Address", "Events"], ips));
    d.table(Table::new("API keys", &["Key"], keys));
    d.table(rows_table("Role history", &s.role_history));
    d.table(rows_table("Every event about the subject", &s.rows));
    d.done(!s.rows.is_empty())
}

pub(super) fn breach_timeline(o: &ReportOptions, ev: &Evidence) -> Section {
    let mut d = Draft::new(
        "Art.33",
        "Notification of a personal data breach (timeline)",
        "A breach is notified to the supervisory authority without undue delay and, where feasible, within 72 hours of becoming aware of it.",
    );
    let Some(aware) = o.awareness else {
        d.evidence(
            "No awareness time given: generate with --awareness TIME for a breach timeline.".into(),
        );
        return d.done(false);
    };
    let deadline = aware + chrono::Duration::hours(72);
    d.evidence(format!(
        "Aware at {}; notification due by {} (72 hours).",
        rfc3339(aware),
        rfc3339(deadline)
    ));
    d.evidence(format!(
        "Potentially affected in the period: {} people (distinct actors) and {} records (distinct resources).",
        ev.people.len(),
        ev.records.len()
    ));
    let mut timeline: Vec<Row> = [
        Kind::Refusal,
        Kind::SignInFailure,
        Kind::TokenReuse,
        Kind::Privileged,
        Kind::Configuration,
    ]
    .iter()
    .flat_map(|k| ev.rows(*k).iter().cloned())
    .collect();
    timeline.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.action.cmp(&b.action)));
    timeline.dedup_by(|a, b| a.event_id == b.event_id);
    let people = ev.people.iter().map(|p| vec![p.to_string()]).collect();
    d.table(rows_table("Security-relevant events (timeline)", &timeline));
    d.table(Table::new(
        "Affected people (actors in the period)",
        &["User id"],
        people,
    ));
    d.done(true)
}
