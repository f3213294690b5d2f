//! SOC 2 from the scenario: figures, populations, PDF text and reproducibility.

use super::scenario::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soc2_report_from_a_scripted_scenario() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let s = scenario(&app).await;
    app.stop().await;
    // As an auditor runs it: with the keys saved from the daemon pinned.
    let mut pinned = loki_shared::audit::Pinned::default();
    pinned.add(&s.keys).expect("keys document");
    let mut builder = report::ReportBuilder::new(options(Framework::Soc2));
    for l in s.bundle.lines() {
        builder.line(l);
    }
    let checks = loki_shared::audit::Checks {
        pinned: Some(pinned),
        witness: Default::default(),
    };
    let (mut r, _) = builder.finish_with(Some(&s.snapshot), &checks);
    // As `lokid report` does, which hashes the file while it reads it.
    r.bundle_sha256 = Some(loki_shared::audit::sha256_hex(s.bundle.as_bytes()));

    assert!(r.integrity.verified, "{}", r.integrity.statement);
    assert!(r.integrity.trusted, "{}", r.integrity.statement);
    assert_eq!(r.integrity.signer_fingerprints.len(), 1);
    assert!(r.integrity.signed_head.is_some());
    // Taking the snapshot was recorded (before the export).
    assert!(s.bundle.contains("\"report.generated\""));
    assert_eq!(r.org_name.as_deref(), Some(ORG_NAME));
    let ids: Vec<&str> = r.summary.iter().map(|s| s.control_id.as_str()).collect();
    assert_eq!(ids, ["CC6.1", "CC6.2", "CC6.3", "CC6.6", "CC7.2", "CC8.1"]);

    // Member sign-in failures are on the organization's chain, counted once
    // each (folded repeats carry their count), and make one burst.
    let failed: u64 = s
        .bundle
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"]["action"] == "auth.login_failed")
        .map(|v| v["event"]["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(failed, FAILED_SIGN_INS);
    let cc72 = section(&r, "CC7.2");
    assert!(
        cc72.evidence
            .iter()
            .any(|e| e.starts_with("1 failed sign-in bursts")),
        "{:?}",
        cc72.evidence
    );
    // bob's refused sign-in after removal is evidence, not an exception.
    assert!(s.bundle.contains("\"auth.membership_refused\""));
    let cc62 = section(&r, "CC6.2");
    assert!(
        cc62.evidence
            .iter()
            .any(|e| e.starts_with("1 attempts by removed members were refused")),
        "{:?}",
        cc62.evidence
    );
    table(cc62, "Refused attempts after removal");
    // Removal ended bob's session at once (audited): the time to revoke is
    // measured from the events, not assumed.
    assert!(s.bundle.contains("\"member_removed\""));
    assert!(
        cc62.evidence
            .iter()
            .any(|e| e.contains("1 of 1 removals fully revoked within 24 h")),
        "{:?}",
        cc62.evidence
    );
    let term = table(cc62, "Terminations: time from removal to revocation");
    assert_eq!(term.rows.len(), 1, "{:?}", term.rows);
    assert!(
        term.rows[0][0].starts_with("bob@acme.test"),
        "{:?}",
        term.rows
    );
    assert_eq!(term.rows[0][2], "1", "sessions ended: {:?}", term.rows);
    assert!(term.rows[0][4].ends_with(" s"), "{:?}", term.rows);
    assert_eq!(term.rows[0][5], "none");
    assert_eq!(
        table(
            cc62,
            "Sessions revoked (by their user, an admin, or at removal)"
        )
        .records[0]
            .details["reason"],
        "member_removed"
    );

    // A key bob created is still active after he left: flagged. (Injected
    // into the snapshot: the free tier of this scenario has no API keys.)
    let mut snap = serde_json::to_value(&s.snapshot).expect("json");
    snap["api_keys"] = json!([{
        "id": Uuid::from_u128(42), "org_id": s.snapshot.org_id, "key_id": "k_bob",
        "name": "bob's script", "scopes": ["org:read"], "created_by": s.bob,
        "created_at": "2026-11-27T10:00:00Z"
    }]);
    // ...and a session of his that something left open.
    snap["sessions"] = json!([{
        "id": Uuid::from_u128(43), "user_id": s.bob, "org_id": s.snapshot.org_id,
        "kind": "token", "created_at": "2026-11-27T10:00:00Z",
        "last_seen_at": "2026-11-27T11:00:00Z", "expires_at": "2026-11-28T10:00:00Z"
    }]);
    // The snapshot lists open sessions (report:generate is not
    // session:read: no addresses or user agents), none of them bob's.
    assert!(!s.snapshot.sessions.is_empty());
    assert!(s
        .snapshot
        .sessions
        .iter()
        .all(|x| x.ip.is_none() && x.user_agent.is_none() && x.user_id != s.bob));
    let with_key: ReportSnapshot = serde_json::from_value(snap).expect("snapshot");
    let keyed = report::from_bundle(&s.bundle, options(Framework::Soc2), Some(&with_key));
    let cc62k = section(&keyed, "CC6.2");
    assert_eq!(cc62k.status, Status::Exceptions);
    // Flagged once, with his termination (not again as an orphaned key),
    // and listed among the active keys of departed members.
    assert_eq!(
        cc62k
            .findings
            .iter()
            .filter(|f| f.contains("k_bob"))
            .count(),
        1,
        "{:?}",
        cc62k.findings
    );
    assert_eq!(
        table(cc62k, "Active API keys of departed members").rows[0][2],
        "bob@acme.test"
    );
    let held = format!(
        "still holds: API key k_bob, session {} (last seen 2026-11-27T11:00:00Z)",
        Uuid::from_u128(43)
    );
    assert!(
        cc62k
            .findings
            .iter()
            .any(|f| f.starts_with("bob@acme.test") && f.contains(&held)),
        "{:?}",
        cc62k.findings
    );

    // CC6.1: nobody has MFA, so the admin is an exception; the matrix lists the roles.
    let cc61 = section(&r, "CC6.1");
    assert_eq!(cc61.status, Status::Exceptions);
    assert!(
        cc61.findings.iter().any(|f| f.contains("admin@acme.test")),
        "{:?}",
        cc61.findings
    );
    assert!(
        cc61.evidence
            .iter()
            .any(|e| e.starts_with("0 of 3 members have MFA")),
        "{:?}",
        cc61.evidence
    );
    let matrix = table(cc61, "Role matrix (current)");
    assert!(matrix
        .rows
        .iter()
        .any(|row| row[0] == "auditor" && row[3] == "1"));

    // CC6.2: three joined, one left, no activity after removal.
    let cc62 = section(&r, "CC6.2");
    assert_eq!(cc62.status, Status::Effective);
    assert!(
        cc62.evidence[0].starts_with("3 members added and 1 removed"),
        "{:?}",
        cc62.evidence
    );
    let provisioning = table(cc62, "Members added and removed");
    assert_eq!(provisioning.rows.len(), 4);
    assert_eq!(provisioning.records.len(), 4);
    assert!(provisioning
        .records
        .iter()
        .any(|row| &*row.action == "member.removed"
            && row.resource_id.as_deref() == Some(s.bob.to_string().as_str())));

    // CC6.3: role assignments with before and after, the grant.
    let cc63 = section(&r, "CC6.3");
    let changes = table(cc63, "Access changes with before and after");
    let actions: Vec<&str> = changes.records.iter().map(|row| &*row.action).collect();
    for a in [
        "member.added",
        "role.assigned",
        "role.revoked",
        "grant.created",
        "member.removed",
    ] {
        assert!(actions.contains(&a), "{a} missing: {actions:?}");
    }
    // Before/after as a field-level diff, whole.
    let revoked = changes
        .records
        .iter()
        .find(|row| &*row.action == "role.revoked")
        .expect("revoke row");
    assert!(
        revoked.changes.iter().any(|c| c
            .before
            .as_ref()
            .is_some_and(|v| v.to_string().contains("auditor"))),
        "{revoked:?}"
    );

    // CC6.6: the boundary's refusals only; bob's refused role change is an
    // internal permission denial, stated apart; the IP rule from the snapshot.
    let cc66 = section(&r, "CC6.6");
    assert!(
        cc66.evidence
            .iter()
            .any(|e| e == "request.ip_denied: 0 refused"),
        "{:?}",
        cc66.evidence
    );
    assert!(!cc66.evidence.iter().any(|e| e.starts_with("access.denied")));
    assert!(
        cc66.evidence
            .iter()
            .any(|e| e.contains("refusals inside the boundary")),
        "{:?}",
        cc66.evidence
    );
    assert!(table(cc66, "Refused requests")
        .records
        .iter()
        .all(|r| &*r.action != "access.denied"));
    assert!(cc66.evidence.iter().any(|e| e.contains("198.51.100.0/24")));
    // CC8.1: the settings change is recorded with before and after.
    let cc81 = section(&r, "CC8.1");
    let config = table(cc81, "Configuration changes");
    assert!(
        config.records.iter().any(|row| {
            &*row.action == "security.settings_changed"
                && row.changes.iter().any(|c| {
                    c.field.ends_with("audit_retention_days") && c.after == Some(json!(400))
                })
        }),
        "{:?}",
        config.records
    );

    // Populations are traceable: every row's seq and event id are an event
    // of the bundle, with its time as stored; actors carry their email.
    let events: std::collections::HashMap<u64, (String, String)> = s
        .bundle
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "event")
        .map(|v| {
            let e = &v["event"];
            (
                e["seq"].as_u64().expect("seq"),
                (
                    e["id"].as_str().expect("id").to_owned(),
                    e["time"].as_str().expect("time").to_owned(),
                ),
            )
        })
        .collect();
    let mut traced = 0;
    for t in r.sections.iter().flat_map(|s| &s.tables) {
        for row in &t.records {
            let (id, time) = events.get(&row.seq).expect("row seq in the bundle");
            assert_eq!(
                id,
                &row.event_id.to_string(),
                "{}: seq {}",
                t.title,
                row.seq
            );
            assert_eq!(time, &*row.time);
            traced += 1;
        }
    }
    assert!(traced > 10, "{traced} rows traced");
    let signins = table(section(&r, "CC6.1"), "Sign-ins");
    assert!(
        signins
            .records
            .iter()
            .any(|row| row.actor.email.as_deref() == Some("admin@acme.test")),
        "{:?}",
        signins.records
    );
    assert!(signins.records.iter().all(|row| row.request_id.is_some()));
    // The JSON rendering is typed: numbers and ids, not display strings.
    let as_json = serde_json::to_value(&r).expect("json");
    let first = &as_json["sections"][0]["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["title"] == "Sign-ins")
        .expect("sign-ins")["records"][0];
    assert!(first["seq"].is_u64(), "{first}");
    assert!(first["event_id"].is_string() && first["actor"]["user_id"].is_string());

    // The PDF: every control, the figures, page numbers; reproducible.
    let pdf = report::pdf::render(&r);
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(pdf, report::pdf::render(&r), "same report, same bytes");
    let text = pdf_text(&pdf, None);
    for needle in [
        "SOC 2 evidence report",
        "AUDIT TRAIL INTEGRITY: VERIFIED AND TRUSTED",
        r.integrity.signer_fingerprints[0].as_str(),
        "CC6.1",
        "CC6.2",
        "CC6.3",
        "CC6.6",
        "CC7.2",
        "CC8.1",
        "Logical access security",
        "admin@acme.test",
        "security.settings_changed",
        "Audit events per day",
        "Page 1 of",
    ] {
        assert!(text.contains(needle), "{needle} not in the PDF text");
    }
    // Without a snapshot, the cover still names the organization: the
    // chain's own organization events carry the name.
    let bare = report::from_bundle(&s.bundle, options(Framework::Soc2), None);
    assert!(bare.partial);
    assert_eq!(bare.org_name.as_deref(), Some(ORG_NAME));
    assert!(pdf_text(&report::pdf::render(&bare), Some((1, 1))).contains(ORG_NAME));
    assert!(text.contains("Statement of Applicability"));
    assert!(text.contains("Exception narrative"));
    // The statement names every control of the scope; what has a section
    // is marked evidenced with its status, and nothing else is.
    assert_eq!(r.applicability.len(), Framework::Soc2.controls().len());
    for a in &r.applicability {
        let sec = r.sections.iter().find(|s| s.control_id == a.control_id);
        assert_eq!(a.coverage == "Evidenced", sec.is_some(), "{a:?}");
        assert_eq!(a.status, sec.map(|s| s.status), "{a:?}");
    }
    // Every section with exceptions carries its narrative, naming each.
    for sec in r.sections.iter().filter(|s| s.status == Status::Exceptions) {
        let n = sec.narrative.as_deref().unwrap_or_default();
        assert!(n.starts_with(&sec.control_id), "{n}");
        for f in &sec.findings {
            assert!(n.contains(f.trim_end_matches('.')), "{f} not in {n}");
        }
    }
    let first = pdf_text(&pdf, Some((1, 1)));
    assert!(
        first.contains(ORG_NAME) && first.contains("VERIFIED"),
        "{first}"
    );
    // And as poppler extracts it (what an auditor's tools see).
    match pdftotext(&pdf) {
        Some(text) => assert!(text.contains(ORG_NAME), "pdftotext lost the name: {text}"),
        None => loki_tests::skipped(
            "pdftotext (poppler-utils) is not installed: the embedded font was checked with lopdf only",
        ),
    }
}
