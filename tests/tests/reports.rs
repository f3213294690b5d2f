//! Golden tests of the compliance reports: a scripted scenario against a
//! real daemon produces a bundle and a snapshot; the report model's figures
//! and populations are checked, the PDF's text is extracted (lopdf),
//! the PDF is reproducible byte for byte, and a tampered bundle says so on
//! page 1.

use chrono::{TimeZone, Utc};
use loki_shared::api::ReportSnapshot;
use loki_shared::report::{self, Report, ReportOptions, Status};
use loki_shared::Framework;
use loki_tests::{json, Backend, TestApp};
use uuid::Uuid;

/// Wrong passwords alice types (the last one reaches the lockout threshold).
const FAILED_SIGN_INS: u64 = 5;

struct Scenario {
    bundle: String,
    /// `GET /api/v1/audit/keys`, as an auditor saves it to pin.
    keys: String,
    snapshot: ReportSnapshot,
    bob: Uuid,
}

/// Not 7-bit: the PDF must draw and extract it as written.
const ORG_NAME: &str = "Acme Söhne & Töchter Ελλάς";

const BOB_AGENT: &str = "Mozilla/5.0 (bob's laptop)";

/// Admin creates Acme; alice (compliance officer), bob (viewer) and carol
/// (auditor and compliance officer) join; bob gets and loses `auditor`, is
/// granted a document, is refused a role change, and is removed; the
/// admin changes the IP rules.
async fn scenario(app: &TestApp) -> Scenario {
    let (org, admin) = app.user_with_org("admin@acme.test", "Acme").await;
    let mut ids = Vec::new();
    for (email, role) in [
        ("alice@acme.test", "compliance_officer"),
        ("bob@acme.test", "viewer"),
        ("carol@acme.test", "auditor"),
    ] {
        ids.push(app.register(email).await);
        app.join(org, &admin, json!({"email": email, "role": role}))
            .await;
    }
    let (bob, carol) = (ids[1], ids[2]);
    let members = format!("/api/v1/orgs/{org}/members");
    app.post(
        &format!("{members}/{carol}/roles"),
        Some(&admin),
        json!({"role": "compliance_officer"}),
    )
    .await
    .assert_status(200);
    app.post(
        &format!("{members}/{bob}/roles"),
        Some(&admin),
        json!({"role": "auditor"}),
    )
    .await
    .assert_status(200);
    app.delete(&format!("{members}/{bob}/roles/auditor"), &admin)
        .await
        .assert_status(200);
    let doc = TestApp::reply(
        app.client
            .post(app.url(&format!(
                "/api/v1/orgs/{org}/documents?name=policy.txt&controls=CC6.1"
            )))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("Access control policy v1")
            .send()
            .await
            .expect("upload"),
    )
    .await;
    let doc_id = doc.assert_status(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.post(
        &format!("/api/v1/orgs/{org}/grants"),
        Some(&admin),
        json!({"resource_type": "document", "resource_id": doc_id, "subject_type": "user", "subject": bob.to_string(), "permission": "doc:download"}),
    )
    .await
    .assert_status(201);
    let bob_token = app.login("bob@acme.test", Some(&org.to_string())).await;
    // From his browser: the user agent is his personal data (Art. 15).
    TestApp::reply(
        app.client
            .post(app.url(&format!("/api/v1/orgs/{org}/roles")))
            .bearer_auth(&bob_token)
            .header("user-agent", BOB_AGENT)
            .json(&json!({"name": "sneaky", "permissions": ["org:read"]}))
            .send()
            .await
            .expect("request"),
    )
    .await
    .assert_error(403, "permission_denied");
    // The snapshot needs report:generate, which a viewer lacks.
    app.get(&format!("/api/v1/orgs/{org}/reports/snapshot"), &bob_token)
        .await
        .assert_error(403, "permission_denied");
    app.patch(
        &format!("/api/v1/orgs/{org}"),
        &admin,
        json!({"settings": {"audit_retention_days": 400, "ip_deny": ["198.51.100.0/24"]}}),
    )
    .await
    .assert_status(200);
    // Renamed to a name no 7-bit font can print: the report must keep it.
    app.patch(
        &format!("/api/v1/orgs/{org}"),
        &admin,
        json!({"name": ORG_NAME}),
    )
    .await
    .assert_status(200);
    app.delete(&format!("{members}/{bob}"), &admin)
        .await
        .assert_status(204);
    // Removed, bob still tries to sign in to Acme: refused, on Acme's chain.
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "bob@acme.test", "password": loki_tests::PASSWORD, "org": org}),
    )
    .await
    .assert_error(403, "not_a_member");
    // alice mistypes her password: member failures reach Acme's chain (not
    // only the system chain), and five within minutes make a burst.
    for _ in 0..FAILED_SIGN_INS {
        let r = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": "alice@acme.test", "password": "not her password"}),
            )
            .await;
        // The last one also locks the account.
        assert!(r.status.is_client_error(), "{}", r.status);
    }

    let snapshot = app
        .get(&format!("/api/v1/orgs/{org}/reports/snapshot"), &admin)
        .await;
    let snapshot: ReportSnapshot =
        serde_json::from_value(snapshot.assert_status(200).clone()).expect("snapshot");
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/orgs/{org}/audit/export?format=bundle")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("export");
    assert!(resp.status().is_success());
    let bundle = resp.text().await.expect("bundle");
    let keys = app
        .client
        .get(app.url("/api/v1/audit/keys"))
        .send()
        .await
        .expect("keys");
    Scenario {
        keys: keys.text().await.expect("keys"),
        bundle,
        snapshot,
        bob,
    }
}

fn options(framework: Framework) -> ReportOptions {
    ReportOptions::new(
        framework,
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .single()
            .expect("time"),
    )
}

fn section<'a>(r: &'a Report, id: &str) -> &'a report::Section {
    r.sections
        .iter()
        .find(|s| s.control_id == id)
        .unwrap_or_else(|| panic!("no section {id}"))
}

fn table<'a>(s: &'a report::Section, title: &str) -> &'a report::Table {
    s.tables
        .iter()
        .find(|t| t.title == title)
        .unwrap_or_else(|| panic!("no table {title} in {}", s.control_id))
}

/// The text of some pages (all when `None`), pages separated by form
/// feeds, read back with lopdf: no program outside Rust needed.
fn pdf_text(pdf: &[u8], pages: Option<(u32, u32)>) -> String {
    let doc = lopdf::Document::load_mem(pdf).expect("the report is a readable PDF");
    doc.get_pages()
        .keys()
        .filter(|n| pages.is_none_or(|(first, last)| (first..=last).contains(*n)))
        .map(|n| doc.extract_text(&[*n]).expect("page text"))
        .collect::<Vec<_>>()
        .join("\u{c}")
}

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

/// The PDF's text as poppler's `pdftotext` gives it, when installed.
fn pdftotext(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).expect("write");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .ok()?;
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    Some(String::from_utf8(out.stdout).expect("utf-8"))
}

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

/// A bundle altered after export: the report says so on its first page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_bundle_is_reported_on_page_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let s = scenario(&app).await;
    app.stop().await;
    // Make bob an admin in the record of his last role change.
    let tampered: String = s
        .bundle
        .lines()
        .map(|l| {
            if l.contains("\"role.revoked\"") {
                l.replace(
                    "\"after\":{\"roles\":[\"viewer\"]}",
                    "\"after\":{\"roles\":[\"admin\"]}",
                )
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        tampered,
        s.bundle.trim_end(),
        "the tamper changed something"
    );
    let r = report::from_bundle(&tampered, options(Framework::Soc2), Some(&s.snapshot));
    assert!(!r.integrity.verified);
    assert!(
        r.integrity
            .statement
            .starts_with("VERIFICATION FAILED at seq"),
        "{}",
        r.integrity.statement
    );
    assert!(r.sections.iter().all(|s| s.status == Status::Exceptions));
    let first = pdf_text(&report::pdf::render(&r), Some((1, 1)));
    assert!(first.contains("VERIFICATION FAILED"), "{first}");
}

/// A population longer than a page continues on the next pages under its
/// header row, and every page is numbered.
#[test]
fn long_tables_repeat_their_header_on_every_page() {
    let rows: Vec<Vec<String>> = (0..400)
        .map(|i| {
            vec![
                format!("2026-11-{:02} 10:00:00Z", i % 28 + 1),
                format!("row-{i:04}"),
            ]
        })
        .collect();
    let r = Report {
        title: "Header test".into(),
        framework: Framework::Soc2,
        org_id: None,
        org_name: Some("Acme".into()),
        period_from: None,
        period_to: None,
        generated_at: "2026-11-27T12:00:00Z".into(),
        integrity: report::Integrity {
            verified: true,
            events: 0,
            checkpoints: 0,
            first_seq: None,
            last_seq: None,
            signed_head: None,
            trusted: false,
            signer_fingerprints: Vec::new(),
            witnessed: 0,
            statement: "VERIFIED".into(),
        },
        snapshot_taken_at: None,
        snapshot_sha256: None,
        partial: true,
        bundle_sha256: None,
        events_in_period: 0,
        summary: Vec::new(),
        charts: Vec::new(),
        applicability: Vec::new(),
        sections: vec![report::Section {
            control_id: "CC6.1".into(),
            title: "Long".into(),
            asks: "Rows.".into(),
            evidence: Vec::new(),
            findings: Vec::new(),
            narrative: None,
            tables: vec![report::Table {
                title: "Population".into(),
                columns: vec!["Sample column".into(), "Identifier".into()],
                rows,
                records: Vec::new(),
            }],
            status: Status::Effective,
        }],
    };
    let pdf = report::pdf::render(&r);
    let text = pdf_text(&pdf, None);
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert!(pages.len() >= 6, "{} pages", pages.len());
    let n = pages.len();
    let mut seen = 0;
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains(&format!("Page {} of {n}", i + 1)),
            "page {}",
            i + 1
        );
        if page.contains("row-") {
            assert!(
                page.contains("Sample column"),
                "page {} lacks the header",
                i + 1
            );
            seen += page.matches("row-").count();
        }
    }
    assert_eq!(seen, 400, "every row printed once");
}
