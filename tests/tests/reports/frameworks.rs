//! ISO 27001 and GDPR from the same scenario.

use super::scenario::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iso_and_gdpr_reports() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let s = scenario(&app).await;
    app.stop().await;

    let iso = report::from_bundle(&s.bundle, options(Framework::Iso27001), Some(&s.snapshot));
    let ids: Vec<&str> = iso.summary.iter().map(|s| s.control_id.as_str()).collect();
    for id in [
        "A.5.15", "A.5.16", "A.5.17", "A.5.18", "A.5.3", "A.8.2", "A.8.5", "A.8.15", "A.8.16",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
    // Segregation of duties: carol (auditor who can also change state) is
    // a conflict; the admin holds both duties by the predefined role's
    // design, which is stated, not flagged.
    let sod = section(&iso, "A.5.3");
    let conflicts = table(sod, "Conflicts");
    let who: Vec<&str> = conflicts.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(who, ["carol@acme.test"]);
    assert!(
        sod.evidence
            .iter()
            .any(|e| e.starts_with("1 admins hold both") && e.contains("admin@acme.test")),
        "{:?}",
        sod.evidence
    );
    assert_eq!(sod.status, Status::Exceptions);
    // Tier and settings changes are configuration, not privilege changes.
    let privileged = table(section(&iso, "A.8.2"), "Privileged changes");
    assert!(privileged
        .records
        .iter()
        .all(|r| &*r.action != "security.settings_changed"));
    let logging = section(&iso, "A.8.15");
    assert!(logging
        .evidence
        .iter()
        .any(|e| e.contains("Retention: 400 days")));

    let mut o = options(Framework::Gdpr);
    o.subject = Some(s.bob);
    o.awareness = Some(
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
            .single()
            .expect("time"),
    );
    let gdpr = report::from_bundle(&s.bundle, o, Some(&s.snapshot));
    let access = section(&gdpr, "Art.15");
    let history = table(access, "Role history");
    let actions: Vec<&str> = history.records.iter().map(|r| &*r.action).collect();
    assert_eq!(
        actions,
        [
            "member.added",
            "role.assigned",
            "role.revoked",
            "member.removed"
        ]
    );
    let everything = table(access, "Every event about the subject");
    assert!(
        everything
            .records
            .iter()
            .any(|r| &*r.action == "access.denied"),
        "bob's own refused request"
    );
    assert!(everything
        .records
        .iter()
        .any(|r| &*r.action == "grant.created"));
    // Others who acted on bob are redacted; his own requests are not.
    let by_admin = everything
        .records
        .iter()
        .find(|r| &*r.action == "grant.created")
        .expect("grant");
    assert_eq!(by_admin.actor.email.as_deref(), Some("[redacted]"));
    assert_eq!(by_admin.actor.user_id, None);
    assert_eq!(by_admin.ip.as_deref(), Some("[redacted]"));
    let own = everything
        .records
        .iter()
        .find(|r| &*r.action == "access.denied")
        .expect("denied");
    assert_eq!(own.actor.user_id, Some(s.bob));
    assert_eq!(table(access, "User agents").rows, [[BOB_AGENT, "1"]]);
    assert_eq!(
        table(access, "Profile").rows[1],
        ["Email", "bob@acme.test"],
        "the profile names the subject"
    );
    assert!(!serde_json::to_string(&everything.records)
        .expect("json")
        .contains("admin@acme.test"));
    // Art. 33 without the controller's input: asked for, not presumed.
    let breach = section(&gdpr, "Art.33");
    assert!(
        breach.evidence[0].contains("notification due by 2026-11-30T09:00:00Z"),
        "{:?}",
        breach.evidence
    );
    assert_eq!(breach.status, Status::NotTested);
    assert!(breach
        .evidence
        .iter()
        .any(|e| e
            .starts_with("Controller input needed: when the supervisory authority was notified")));
    assert!(breach
        .tables
        .iter()
        .all(|t| t.title != "Potentially affected people"));
    // With it: a late notification is an exception, and only the incident
    // window's people count as affected (a window before anything happened
    // has nobody).
    let mut o = options(Framework::Gdpr);
    let aware = Utc
        .with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .single()
        .expect("t");
    o.awareness = Some(aware);
    o.notified_at = Some(aware + chrono::Duration::hours(80));
    o.incident = Some((
        aware - chrono::Duration::days(30),
        aware - chrono::Duration::days(29),
    ));
    let late = report::from_bundle(&s.bundle, o.clone(), Some(&s.snapshot));
    let breach = section(&late, "Art.33");
    assert_eq!(breach.status, Status::Exceptions);
    assert!(
        breach.findings[0].contains("3 d 8 h after awareness"),
        "{:?}",
        breach.findings
    );
    assert!(
        breach.evidence.iter().any(|e| e.contains(": 0 people")),
        "{:?}",
        breach.evidence
    );
    o.notified_at = Some(aware + chrono::Duration::hours(20));
    o.incident = Some((
        Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .expect("t"),
        Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
            .single()
            .expect("t"),
    ));
    let timely = report::from_bundle(&s.bundle, o, Some(&s.snapshot));
    let breach = section(&timely, "Art.33");
    assert_eq!(breach.status, Status::Effective);
    let affected = table(breach, "Potentially affected people");
    // admin, alice, bob, carol: each acted or was acted upon.
    assert_eq!(affected.rows.len(), 4, "{:?}", affected.rows);
    let text = pdf_text(&report::pdf::render(&gdpr), None);
    assert!(text.contains("Art.15") && text.contains("Art.30") && text.contains("Art.33"));
}
