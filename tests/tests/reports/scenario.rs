//! The scripted scenario against a real daemon, and helpers to read reports.

pub(crate) use chrono::{TimeZone, Utc};
pub(crate) use loki_shared::api::ReportSnapshot;
pub(crate) use loki_shared::report::{self, Report, ReportOptions, Status};
pub(crate) use loki_shared::Framework;
pub(crate) use loki_tests::{json, section, Backend, TestApp};
pub(crate) use uuid::Uuid;

/// Wrong passwords alice types (the last one reaches the lockout threshold).
pub(crate) const FAILED_SIGN_INS: u64 = 5;

pub(crate) struct Scenario {
    pub(crate) bundle: String,
    /// `GET /api/v1/audit/keys`, as an auditor saves it to pin.
    pub(crate) keys: String,
    pub(crate) snapshot: ReportSnapshot,
    pub(crate) bob: Uuid,
}

/// Not 7-bit: the PDF must draw and extract it as written.
pub(crate) const ORG_NAME: &str = "Acme Söhne & Töchter Ελλάς";

pub(crate) const BOB_AGENT: &str = "Mozilla/5.0 (bob's laptop)";

/// Admin creates Acme; alice (compliance officer), bob (viewer) and carol
/// (auditor and compliance officer) join; bob gets and loses `auditor`, is
/// granted a document, is refused a role change, and is removed; the
/// admin changes the IP rules.
pub(crate) async fn scenario(app: &TestApp) -> Scenario {
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

pub(crate) fn options(framework: Framework) -> ReportOptions {
    ReportOptions::new(
        framework,
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .single()
            .expect("time"),
    )
}

pub(crate) fn table<'a>(s: &'a report::Section, title: &str) -> &'a report::Table {
    s.tables
        .iter()
        .find(|t| t.title == title)
        .unwrap_or_else(|| panic!("no table {title} in {}", s.control_id))
}

/// The text of some pages (all when `None`), pages separated by form
/// feeds, read back with lopdf: no program outside Rust needed.
pub(crate) fn pdf_text(pdf: &[u8], pages: Option<(u32, u32)>) -> String {
    let doc = lopdf::Document::load_mem(pdf).expect("the report is a readable PDF");
    doc.get_pages()
        .keys()
        .filter(|n| pages.is_none_or(|(first, last)| (first..=last).contains(*n)))
        .map(|n| doc.extract_text(&[*n]).expect("page text"))
        .collect::<Vec<_>>()
        .join("\u{c}")
}

/// The PDF's text as poppler's `pdftotext` gives it, when installed.
pub(crate) fn pdftotext(pdf: &[u8]) -> Option<String> {
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
