//! The desktop's commands (their `ops` functions) against a real lokid:
//! sign-in with TOTP, distinct errors, rotation, pinning, chain status,
//! explorer paging and filters online and offline, exports, reports.

mod common;

use common::{next_code, Fixture};
use loki_desktop::client::AuditFilter;
use loki_desktop::error::ErrorKind;
use loki_desktop::ops::audit::{self, ExportFormat, Source};
use loki_desktop::ops::auth;
use loki_desktop::ops::{offline, reports};
use loki_desktop::trust::PinState;
use loki_desktop::vault::{account, Vault};
use loki_tests::PASSWORD;

#[tokio::test]
async fn sign_in_with_totp_stores_tokens_and_sign_out_revokes_the_session() {
    let f = Fixture::new().await;
    // A wrong code is told apart from a wrong password.
    let out = auth::sign_in(&f.state, &f.server(), &f.email, PASSWORD)
        .await
        .expect("password");
    assert!(matches!(out, auth::SignInOutcome::MfaRequired));
    let e = auth::verify_totp(&f.state, "000000")
        .await
        .expect_err("wrong code");
    assert_eq!(e.kind, ErrorKind::MfaInvalid);
    let view = auth::verify_totp(&f.state, &next_code(&f.totp))
        .await
        .expect("code");
    // Opened in the first organization, keys pinned at first use.
    assert_eq!(view.org, Some(f.org));
    assert_eq!(view.organizations.len(), 2);
    assert!(
        matches!(view.pin, PinState::PinnedNow { ref fingerprints } if fingerprints.len() == 1)
    );
    let acct = account(&f.server(), &f.email);
    let stored = f.vault.get(&acct).expect("vault").expect("tokens stored");
    // The view sent to the window carries no token.
    let json = serde_json::to_string(&view).expect("json");
    assert!(!json.contains(&stored.access_token) && !json.contains(&stored.refresh_token));

    // Even with an expired access token, sign-out ends the session on the
    // server (it refreshes first).
    f.state
        .session
        .lock()
        .await
        .as_mut()
        .expect("session")
        .expire_access_token();
    auth::sign_out(&f.state).await.expect("sign out");
    assert!(
        f.vault.get(&acct).expect("vault").is_none(),
        "keyring entry deleted"
    );
    let r = f.app.get("/api/v1/auth/me", &stored.access_token).await;
    r.assert_error(401, "session_revoked");
}

#[tokio::test]
async fn sign_in_failures_have_distinct_kinds() {
    let f = Fixture::new().await;
    let e = auth::sign_in(&f.state, &f.server(), &f.email, "wrong")
        .await
        .expect_err("wrong");
    assert_eq!(e.kind, ErrorKind::WrongPassword);
    assert!(
        e.message.contains("email or password is wrong"),
        "{}",
        e.message
    );
    for _ in 0..6 {
        let _ = auth::sign_in(&f.state, &f.server(), &f.email, "wrong").await;
    }
    let e = auth::sign_in(&f.state, &f.server(), &f.email, PASSWORD)
        .await
        .expect_err("locked");
    assert_eq!(e.kind, ErrorKind::Locked, "{}", e.message);
    assert!(e.message.contains("locked"), "{}", e.message);

    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let e = auth::sign_in(
        &f.state,
        &format!("http://127.0.0.1:{port}"),
        &f.email,
        PASSWORD,
    )
    .await
    .expect_err("unreachable");
    assert_eq!(e.kind, ErrorKind::Unreachable, "{}", e.message);
    // TLS spoken to a plain-HTTP server: the handshake fails.
    let e = auth::sign_in(
        &f.state,
        &format!("https://{}", f.app.addr),
        &f.email,
        PASSWORD,
    )
    .await
    .expect_err("tls");
    assert_eq!(e.kind, ErrorKind::Tls, "{}", e.message);
    let e = auth::sign_in(&f.state, "ftp://x", &f.email, PASSWORD)
        .await
        .expect_err("bad url");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
}

#[tokio::test]
async fn expired_access_token_is_refreshed_with_rotation_and_stored() {
    let f = Fixture::new().await;
    f.sign_in().await;
    let acct = account(&f.server(), &f.email);
    let before = f.vault.get(&acct).expect("vault").expect("tokens");
    f.state
        .session
        .lock()
        .await
        .as_mut()
        .expect("session")
        .expire_access_token();
    let page = audit::search(&f.state, Source::Online, &AuditFilter::default(), None, 50)
        .await
        .expect("search after refresh");
    assert!(!page.events.is_empty());
    let after = f.vault.get(&acct).expect("vault").expect("tokens");
    assert_ne!(before.refresh_token, after.refresh_token, "rotated");
    assert_eq!(before.session_id, after.session_id, "same session");
    // The old refresh token is spent.
    let r = f
        .app
        .post(
            "/api/v1/auth/refresh",
            None,
            serde_json::json!({"refresh_token": before.refresh_token}),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn chain_status_verifies_here_and_keeps_a_witness() {
    let f = Fixture::new().await;
    f.sign_in().await;
    let first = audit::chain_status(&f.state).await.expect("status");
    assert!(
        first.report.ok && first.report.trusted,
        "{:?}",
        first.report
    );
    assert!(first.alarm.is_none());
    assert!(first.witness_updated, "head recorded");
    let second = audit::chain_status(&f.state).await.expect("status");
    assert!(second.report.witnessed >= 1, "checked against the witness");
    assert!(second.report.ok);
    // The same server, signed in again (another user, no TOTP): its key
    // matches the pin.
    auth::sign_out(&f.state).await.expect("out");
    f.app
        .user_with_org("auditor@acme.example", "Audit Co")
        .await;
    let out = auth::sign_in(&f.state, &f.server(), "auditor@acme.example", PASSWORD)
        .await
        .expect("sign in");
    let auth::SignInOutcome::SignedIn { session: view } = out else {
        panic!("no TOTP for this user");
    };
    assert!(matches!(view.pin, PinState::Match { .. }), "{:?}", view.pin);
}

#[tokio::test]
async fn explorer_pages_and_filters_match_online_and_offline() {
    let f = Fixture::new().await;
    f.sign_in().await;
    // Page through everything, 2 at a time.
    let mut seqs = Vec::new();
    let mut cursor = None;
    loop {
        let page = audit::search(&f.state, Source::Online, &AuditFilter::default(), cursor, 2)
            .await
            .expect("page");
        seqs.extend(page.events.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats: {seqs:?}"
    );

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bundle.jsonl");
    let done = audit::export(
        &f.state,
        ExportFormat::Bundle,
        path.to_str().expect("utf8"),
        |_| {},
    )
    .await
    .expect("export");
    assert!(done.bytes > 0.0);
    // CSV too, with the progress reported as it streams.
    let csv = dir.path().join("audit.csv");
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s2 = seen.clone();
    audit::export(
        &f.state,
        ExportFormat::Csv,
        csv.to_str().expect("utf8"),
        move |n| s2.store(n, std::sync::atomic::Ordering::Relaxed),
    )
    .await
    .expect("csv");
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(
        text.lines().next().is_some_and(|h| h.contains("action")),
        "{text}"
    );
    assert!(text.contains("org.updated"));
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        text.len() as u64
    );
    let summary = offline::open(&f.state, path.to_str().expect("utf8"), |_, _| {})
        .await
        .expect("open");
    assert!(
        summary.report.ok && summary.report.trusted,
        "{:?}",
        summary.report
    );
    assert!(summary.alarm.is_none());

    let filter = AuditFilter {
        action: Some("org.updated".into()),
        ..Default::default()
    };
    let online = audit::search(&f.state, Source::Online, &filter, None, 100)
        .await
        .expect("online");
    let offline = audit::search(&f.state, Source::Offline, &filter, None, 100)
        .await
        .expect("offline");
    let ids =
        |l: &loki_shared::api::AuditEventList| l.events.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&online), ids(&offline));
    assert_eq!(online.events.len(), 1);
    // The diff of the rename names the field with both values.
    let detail = audit::event(&f.state, Source::Offline, online.events[0].id)
        .await
        .expect("event");
    let name = detail
        .changes
        .iter()
        .find(|c| c.field == "name")
        .expect("name diff");
    assert_eq!(name.before, Some(serde_json::json!("Acme Corp")));
    assert_eq!(name.after, Some(serde_json::json!("Acme Corporation")));

    let prefix = AuditFilter {
        action: Some("auth.*".into()),
        outcome: Some("success".into()),
        ..Default::default()
    };
    let a = audit::search(&f.state, Source::Online, &prefix, None, 100)
        .await
        .expect("online");
    let b = audit::search(&f.state, Source::Offline, &prefix, None, 100)
        .await
        .expect("offline");
    // The online search also sees the events the export itself recorded.
    let offline_ids = ids(&b);
    assert!(!offline_ids.is_empty());
    assert!(offline_ids.iter().all(|id| ids(&a).contains(id)));
    assert!(b
        .events
        .iter()
        .all(|e| e.action.starts_with("auth.") && e.outcome == "success"));

    // Not into the app's own folder (pins and witnesses).
    let inside = f.state.data_dir.join("trust").join("pinned-keys.json");
    let e = audit::export(
        &f.state,
        ExportFormat::Csv,
        inside.to_str().expect("utf8"),
        |_| {},
    )
    .await
    .expect_err("refused");
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{}", e.message);

    let bad = AuditFilter {
        from: Some("yesterday".into()),
        ..Default::default()
    };
    let e = audit::search(&f.state, Source::Online, &bad, None, 10)
        .await
        .expect_err("bad time");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
}

#[tokio::test]
async fn reports_are_made_online_and_offline_and_saved() {
    let f = Fixture::new().await;
    f.sign_in().await;
    let request = reports::ReportRequest {
        framework: "soc2".into(),
        ..Default::default()
    };
    let online = reports::generate(&f.state, Source::Online, &request, |_, _, _| {})
        .await
        .expect("online report");
    assert!(online.verified && online.trusted);
    assert!(!online.partial, "the signed snapshot was used");
    assert_eq!(online.org_name.as_deref(), Some("Acme Corporation"));
    let dir = tempfile::tempdir().expect("dir");
    let pdf = dir.path().join("soc2.pdf");
    // The viewer opens only the file the user saved, and only once saved.
    assert!(reports::saved_path(&f.state).await.is_err());
    reports::save(&f.state, pdf.to_str().expect("utf8"))
        .await
        .expect("save");
    assert_eq!(reports::saved_path(&f.state).await.expect("saved"), pdf);
    let bytes = std::fs::read(&pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF"));

    let bundle = dir.path().join("bundle.jsonl");
    audit::export(
        &f.state,
        ExportFormat::Bundle,
        bundle.to_str().expect("utf8"),
        |_| {},
    )
    .await
    .expect("export");
    auth::sign_out(&f.state).await.expect("out");
    offline::open(&f.state, bundle.to_str().expect("utf8"), |_, _| {})
        .await
        .expect("open");
    let off = reports::generate(&f.state, Source::Offline, &request, |_, _, _| {})
        .await
        .expect("offline report");
    assert!(
        off.verified && off.trusted,
        "checked against the key pinned at sign-in"
    );
    assert!(off.partial, "no snapshot offline");

    let bad = reports::ReportRequest {
        framework: "hipaa".into(),
        ..Default::default()
    };
    let e = reports::generate(&f.state, Source::Offline, &bad, |_, _, _| {})
        .await
        .expect_err("framework");
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    let period = reports::ReportRequest {
        framework: "gdpr".into(),
        from: Some("2026-12-02".into()),
        to: Some("2026-12-01".into()),
        ..Default::default()
    };
    let e = reports::generate(&f.state, Source::Offline, &period, |_, _, _| {})
        .await
        .expect_err("period");
    assert!(e.message.contains("starts after"), "{}", e.message);
}

#[tokio::test]
async fn a_member_of_one_org_cannot_switch_into_another() {
    let f = Fixture::new().await;
    // Someone else's organization.
    let (stranger_org, _) = f
        .app
        .user_with_org("mallory@evil.example", "Evil Inc")
        .await;
    f.sign_in().await;
    let e = auth::switch_org(&f.state, stranger_org)
        .await
        .expect_err("not a member");
    assert_eq!(e.kind, ErrorKind::Forbidden, "{}", e.message);
    // Still in the original organization, which still answers.
    let view = auth::switch_org(&f.state, f.other_org)
        .await
        .expect("own org");
    assert_eq!(view.org, Some(f.other_org));
}
