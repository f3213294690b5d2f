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

pub(super) fn subject_access(
    o: &ReportOptions,
    ev: &Evidence,
    snap: Option<&ReportSnapshot>,
) -> Section {
    let mut d = Draft::new(
        "Art.15",
        "Right of access by the data subject",
        "The data subject obtains confirmation of processing and a copy of their personal data: their profile, every event where they are actor or subject, their sessions, addresses, user agents, keys and role history; other people's data is redacted.",
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
        "Subject {subject}: {} events, {} sessions, {} addresses, {} user agents, {} API keys, {} role changes in the period.",
        s.rows.len(),
        s.sessions.len(),
        s.ips.len(),
        s.user_agents.len(),
        s.api_keys.len(),
        s.role_history.len()
    ));
    d.evidence("Other people in these events (who acted on the subject) are redacted: their identity, address, user agent and session are replaced by \"[redacted]\".".into());
    let member = snap.and_then(|sn| sn.members.iter().find(|m| m.user_id == subject));
    let mut profile = vec![
        vec!["User id".into(), subject.to_string()],
        vec![
            "Email".into(),
            member
                .map(|m| m.email.clone())
                .or(ev.email_of(subject).map(str::to_owned))
                .unwrap_or_else(|| "(not named in the chain)".into()),
        ],
    ];
    match member {
        Some(m) => profile.extend([
            vec!["Roles".into(), m.roles.join(", ")],
            vec![
                "Second factor (TOTP)".into(),
                if m.mfa_enabled {
                    "enabled"
                } else {
                    "not enabled"
                }
                .into(),
            ],
            vec!["Member since".into(), rfc3339(m.joined_at)],
        ]),
        None => profile.push(vec![
            "Membership".into(),
            if snap.is_some() {
                "not a member when the snapshot was taken".into()
            } else {
                "not known (no snapshot)".into()
            },
        ]),
    }
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
    let counted = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| vec![k.clone(), n.to_string()])
            .collect::<Vec<_>>()
    };
    let keys = s.api_keys.iter().map(|k| vec![k.to_string()]).collect();
    let redact = |rows: &[Row]| -> Vec<Row> {
        rows.iter()
            .cloned()
            .map(|mut r| {
                if r.actor.user_id != Some(subject) {
                    r.actor.user_id = None;
                    r.actor.email = Some("[redacted]".into());
                    r.actor.session_id = None;
                    r.actor.api_key_id = None;
                    r.ip = r.ip.map(|_| "[redacted]".into());
                    r.user_agent = r.user_agent.map(|_| "[redacted]".into());
                }
                r
            })
            .collect()
    };
    d.table(Table::new("Profile", &["Item", "Value"], profile));
    d.table(Table::new(
        "Sessions",
        &["Session", "First seen", "Last seen", "Events"],
        sessions,
    ));
    d.table(Table::new(
        "IP addresses",
        &["Address", "Events"],
        counted(&s.ips),
    ));
    d.table(Table::new(
        "User agents",
        &["User agent", "Events"],
        counted(&s.user_agents),
    ));
    d.table(Table::new("API keys", &["Key"], keys));
    d.table(rows_table("Role history", &redact(&s.role_history)));
    d.table(rows_table(
        "Every event about the subject",
        &redact(&s.rows),
    ));
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
    // What only the controller knows is asked for, never presumed.
    let notified = match o.notified_at {
        None => {
            d.evidence("Controller input needed: when the supervisory authority was notified (--notified-at). A notification is made outside LOKI, so no event can show it; without it this article is not tested.".into());
            false
        }
        Some(n) if n <= deadline => {
            d.evidence(format!(
                "Notified at {} (controller's statement), {} after awareness: within 72 hours.",
                rfc3339(n),
                human(n - aware)
            ));
            true
        }
        Some(n) => {
            d.finding(format!(
                "Notified at {} (controller's statement), {} after awareness: later than 72 hours; Art. 33(1) requires the reasons for the delay to accompany the notification.",
                rfc3339(n),
                human(n - aware)
            ));
            true
        }
    };
    match o.incident {
        Some((from, to)) => {
            d.evidence(format!(
                "Potentially affected within the incident window {} to {}: {} people (who acted or were acted upon) and {} records (resources touched).",
                rfc3339(from),
                rfc3339(to),
                ev.people.len(),
                ev.records.len()
            ));
        }
        None => {
            d.evidence("Controller input needed: the incident window (--incident-from, --incident-to). Without it nobody is counted as affected: everyone active in the period is not the same as everyone affected.".into());
        }
    }
    let mut timeline: Vec<Row> = [
        Kind::Refusal,
        Kind::SignInFailure,
        Kind::TokenReuse,
        Kind::Privileged,
        Kind::Configuration,
    ]
    .iter()
    .flat_map(|k| ev.rows(*k).iter().cloned())
    .filter(|r| {
        o.incident
            .is_none_or(|(from, to)| r.at >= from && r.at <= to)
    })
    .collect();
    timeline.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.action.cmp(&b.action)));
    timeline.dedup_by(|a, b| a.event_id == b.event_id);
    let people = ev
        .people
        .iter()
        .map(|p| {
            vec![
                ev.email_of(*p)
                    .unwrap_or("(not named in the chain)")
                    .to_owned(),
                p.to_string(),
            ]
        })
        .collect();
    d.table(rows_table(
        if o.incident.is_some() {
            "Security-relevant events in the incident window"
        } else {
            "Security-relevant events in the period"
        },
        &timeline,
    ));
    if o.incident.is_some() {
        d.table(Table::new(
            "Potentially affected people",
            &["Email", "User id"],
            people,
        ));
    }
    d.done(notified)
}
