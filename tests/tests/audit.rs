//! The audit trail through the API: what is recorded, search, export
//! (bundle and CSV), verification, and tampering found by both verifiers.

use std::sync::Arc;

use loki_shared::audit::{verify_str, FailureKind};
use loki_tests::{backend_tests, json, Backend, TestApp, TestEnv};
use serde_json::Value;
use uuid::Uuid;

async fn app_with_checkpoints_every(b: Backend, n: u64) -> TestApp {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.audit_checkpoint_every = n;
    TestApp::spawn_with(env, config).await
}

async fn export(app: &TestApp, org: Uuid, token: &str, query: &str) -> String {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/orgs/{org}/audit/export?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("export");
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.expect("body")
}

async fn events(app: &TestApp, org: Uuid, token: &str, query: &str) -> Vec<Value> {
    app.audit_events(org, token, query).await
}

async fn state_changes_and_denials_are_recorded(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("audit@example.com", "Audited").await;
    let member = app.register("m@example.com").await;
    app.join(org, &admin, json!({"user_id": member, "role": "viewer"}))
        .await;
    app.patch(
        &format!("/api/v1/orgs/{org}/members/{member}"),
        &admin,
        json!({"roles": ["auditor"]}),
    )
    .await
    .assert_status(200);
    let viewer = app.login("m@example.com", Some("audited")).await;
    app.delete(&format!("/api/v1/orgs/{org}"), &viewer)
        .await
        .assert_error(403, "permission_denied");

    let all = events(&app, org, &admin, "limit=100").await;
    let actions: Vec<&str> = all.iter().filter_map(|e| e["action"].as_str()).collect();
    for a in [
        "org.created",
        "member.invited",
        "member.added",
        "member.role_changed",
        "auth.login_succeeded",
        "access.denied",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // Newest first, seqs strictly decreasing, every event hashed and linked.
    let seqs: Vec<i64> = all.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] == w[1] + 1), "{seqs:?}");
    let changed = all
        .iter()
        .find(|e| e["action"] == "member.role_changed")
        .expect("role change");
    assert_eq!(changed["before"]["roles"], json!(["viewer"]));
    assert_eq!(changed["after"]["roles"], json!(["auditor"]));
    assert_eq!(changed["actor"]["kind"], "user");
    assert!(changed["request_id"].is_string() && changed["ip"] == "127.0.0.1");
    let denied = events(&app, org, &admin, "outcome=denied").await;
    assert!(denied.iter().all(|e| e["outcome"] == "denied") && !denied.is_empty());
    assert_eq!(denied[0]["metadata"]["permission"], "org:delete");
    let prefixed = events(&app, org, &admin, "action_prefix=member.").await;
    assert!(prefixed.iter().all(|e| e["action"]
        .as_str()
        .is_some_and(|a| a.starts_with("member."))));
    // Invited, joined (by accepting), role changed.
    assert_eq!(prefixed.len(), 3);
    let by_actor = events(&app, org, &admin, &format!("actor={member}")).await;
    assert!(by_actor
        .iter()
        .all(|e| e["actor"]["user_id"] == member.to_string()));
    // Paging.
    let page = app
        .get(&format!("/api/v1/orgs/{org}/audit/events?limit=2"), &admin)
        .await;
    let cursor = page.assert_status(200)["next_cursor"]
        .as_i64()
        .expect("cursor");
    let next = events(&app, org, &admin, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(next[0]["seq"].as_i64(), Some(cursor - 1));
    // One by id.
    let id = changed["id"].as_str().unwrap_or_default();
    let one = app
        .get(&format!("/api/v1/orgs/{org}/audit/events/{id}"), &admin)
        .await;
    assert_eq!(one.assert_status(200)["hash"], changed["hash"]);
    // Bad parameters.
    for q in [
        "limit=0",
        "outcome=maybe",
        "from=yesterday",
        "from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z",
        "cursor=-1",
    ] {
        app.get(&format!("/api/v1/orgs/{org}/audit/events?{q}"), &admin)
            .await
            .assert_error(422, "validation_failed");
    }
    app.get(&format!("/api/v1/orgs/{org}/audit/events?bogus=1"), &admin)
        .await
        .assert_error(400, "invalid_query");
    // Viewers may not read the trail; auditors may.
    app.get(&format!("/api/v1/orgs/{org}/audit/events"), &viewer)
        .await
        .assert_status(200);
    app.stop().await;
}

async fn exports_verify_offline(b: Backend) {
    let app = app_with_checkpoints_every(b, 5).await;
    let (org, admin) = app.user_with_org("exp@example.com", "Exported").await;
    // An attacker-controlled field that lands in its own CSV cell.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/orgs/{org}")))
        .bearer_auth(&admin)
        .header("user-agent", "=HYPERLINK(\"http://evil\")")
        .json(&json!({"name": "Exported"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status().as_u16(), 200);
    for i in 0..7 {
        app.patch(
            &format!("/api/v1/orgs/{org}"),
            &admin,
            json!({"name": format!("Exported {i}")}),
        )
        .await
        .assert_status(200);
    }
    let bundle = export(&app, org, &admin, "format=bundle").await;
    let report = verify_str(&bundle);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.first_seq, Some(1));
    assert_eq!(report.signed_head.as_ref().map(|h| h.0), report.last_seq);
    assert!(bundle
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("{\"type\":\"manifest\"")));

    // A time range is anchored and verifies on its own.
    let all = events(&app, org, &admin, "limit=500").await;
    let mid = all[all.len() / 2]["time"]
        .as_str()
        .unwrap_or_default()
        .replace('+', "%2B");
    let part = export(&app, org, &admin, &format!("format=bundle&from={mid}")).await;
    let r = verify_str(&part);
    assert!(r.ok && r.first_seq > Some(1), "{r:?}");

    // CSV: one row per event, formulas neutralised.
    let csv = export(&app, org, &admin, "format=csv").await;
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .is_some_and(|h| h.starts_with("seq,time,org_id,action")));
    assert!(csv.contains("'=HYPERLINK"), "formula neutralised");
    assert!(!csv.contains(",=HYPERLINK"));
    let verify = app
        .get(&format!("/api/v1/orgs/{org}/audit/verify"), &admin)
        .await;
    assert_eq!(verify.assert_status(200)["ok"], true);
    app.get(
        &format!("/api/v1/orgs/{org}/audit/export?format=xml"),
        &admin,
    )
    .await
    .assert_error(422, "validation_failed");
    app.stop().await;
}

/// Runs a SQL statement against the daemon's database as its owner.
async fn tamper(app: &TestApp, sql: &str) {
    use sqlx::Connection;
    match &app.env.pg {
        Some(pg) => {
            let mut c = sqlx::PgConnection::connect(&pg.url).await.expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect("tamper");
        }
        None => {
            let mut c = sqlx::SqliteConnection::connect(&app.env.config().database_url())
                .await
                .expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect("tamper");
        }
    }
}

/// A chain of about 20 events with checkpoints every 5; returns the org and
/// an admin token obtained before any tampering.
async fn chain(app: &TestApp) -> (Uuid, String) {
    let (org, admin) = app.user_with_org("t@example.com", "Tampered").await;
    for i in 0..16 {
        app.patch(
            &format!("/api/v1/orgs/{org}"),
            &admin,
            json!({"name": format!("Name {i}")}),
        )
        .await
        .assert_status(200);
    }
    (org, admin)
}

async fn both_verifiers(
    app: &TestApp,
    org: Uuid,
    token: &str,
) -> (Value, loki_shared::audit::VerifyReport) {
    let server = app
        .get(&format!("/api/v1/orgs/{org}/audit/verify"), token)
        .await
        .assert_status(200)
        .clone();
    let offline = verify_str(&export(app, org, token, "format=bundle").await);
    (server, offline)
}

fn kind(k: FailureKind) -> Value {
    serde_json::to_value(k).expect("kind")
}

async fn tampering_is_found_by_both_verifiers(b: Backend) {
    use FailureKind::*;
    // (statements with {org}, seq, kind the server reports, kinds the offline
    // verifier may report for that seq)
    let cases: [(&[&str], u64, FailureKind, &[FailureKind]); 5] = [
        // Altered content.
        (&["UPDATE audit_events SET body = REPLACE(body, 'Name 3', 'Name X') WHERE seq = 7 AND org_id = {org}"], 7, HashMismatch, &[HashMismatch]),
        // An event deleted in the middle.
        (&["DELETE FROM audit_events WHERE seq = 9 AND org_id = {org}"], 9, Gap, &[Gap]),
        // The newest events deleted (a checkpoint had covered them). The
        // export appends its own event after the hole: a gap at that seq.
        (&["DELETE FROM audit_events WHERE seq >= 14 AND org_id = {org}"], 14, TruncatedTail, &[Gap, TruncatedTail]),
        // Two events swapped.
        (
            &[
                "UPDATE audit_events SET seq = -1 WHERE seq = 11 AND org_id = {org}",
                "UPDATE audit_events SET seq = 11 WHERE seq = 12 AND org_id = {org}",
                "UPDATE audit_events SET seq = 12 WHERE seq = -1 AND org_id = {org}",
            ],
            11,
            ChainBroken,
            &[ChainBroken, HashMismatch, OutOfOrder, Gap],
        ),
        // A checkpoint's signature changed (its first character always
        // becomes a different one).
        (&["UPDATE audit_checkpoints SET signature = (CASE WHEN SUBSTR(signature, 1, 1) = 'A' THEN 'B' ELSE 'A' END) || SUBSTR(signature, 2) WHERE seq = 10 AND org_id = {org}"], 10, BadSignature, &[BadSignature]),
    ];
    for (statements, seq, server_kind, offline_kinds) in cases {
        let app = app_with_checkpoints_every(b, 5).await;
        let (org, admin) = chain(&app).await;
        for sql in statements {
            tamper(&app, &sql.replace("{org}", &id_sql(&app, org))).await;
        }
        let (server, offline) = both_verifiers(&app, org, &admin).await;
        assert_eq!(
            server["failure"]["seq"].as_u64(),
            Some(seq),
            "{statements:?}: {server}"
        );
        if server_kind != ChainBroken {
            assert_eq!(
                server["failure"]["kind"],
                kind(server_kind),
                "{statements:?}: {server}"
            );
        }
        let f = offline.failure.expect("offline failure");
        assert_eq!(f.seq, seq, "{statements:?}: {f:?}");
        assert!(offline_kinds.contains(&f.kind), "{statements:?}: {f:?}");
        app.stop().await;
    }
}

/// The org id as a SQL literal for the backend (UUID text or 16-byte blob).
fn id_sql(app: &TestApp, org: Uuid) -> String {
    match app.env.pg {
        Some(_) => format!("'{org}'"),
        None => format!("X'{}'", org.simple()),
    }
}

async fn concurrent_writers_make_one_linear_chain(b: Backend) {
    let app = app_with_checkpoints_every(b, 7).await;
    let (org, admin) = app.user_with_org("busy@example.com", "Busy").await;
    let writes = (0..40).map(|i| {
        let (app, admin) = (&app, &admin);
        async move {
            app.patch(
                &format!("/api/v1/orgs/{org}"),
                admin,
                json!({"name": format!("Busy {i}")}),
            )
            .await
        }
    });
    for r in futures_util::future::join_all(writes).await {
        r.assert_status(200);
    }
    let report = app
        .get(&format!("/api/v1/orgs/{org}/audit/verify"), &admin)
        .await;
    assert_eq!(report.assert_status(200)["ok"], true, "{}", report.body);
    let all = events(&app, org, &admin, "limit=500").await;
    let mut seqs: Vec<i64> = all.iter().filter_map(|e| e["seq"].as_i64()).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    app.stop().await;
}

async fn a_change_and_its_event_commit_together(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("atomic@example.com", "Atomic").await;
    app.post(
        "/api/v1/orgs",
        Some(&admin),
        json!({"name": "Taken", "slug": "taken"}),
    )
    .await
    .assert_status(201);
    let count = |evs: &[Value], action: &str| evs.iter().filter(|e| e["action"] == action).count();
    // A change that fails leaves no event.
    app.patch(
        &format!("/api/v1/orgs/{org}"),
        &admin,
        json!({"slug": "taken"}),
    )
    .await
    .assert_error(409, "slug_taken");
    let evs = events(&app, org, &admin, "limit=500").await;
    assert_eq!(
        count(&evs, "org.updated"),
        0,
        "no event for a change that did not happen"
    );
    // An event that cannot be written stops the change (fail closed).
    tamper(&app, "ALTER TABLE audit_events RENAME TO audit_events_away").await;
    let r = app
        .patch(
            &format!("/api/v1/orgs/{org}"),
            &admin,
            json!({"name": "Unrecorded"}),
        )
        .await;
    assert!(r.status.is_server_error(), "{:?}", r.body);
    tamper(&app, "ALTER TABLE audit_events_away RENAME TO audit_events").await;
    let now = app.get(&format!("/api/v1/orgs/{org}"), &admin).await;
    assert_eq!(
        now.assert_status(200)["name"],
        "Atomic",
        "the change was rolled back with its event"
    );
    app.patch(
        &format!("/api/v1/orgs/{org}"),
        &admin,
        json!({"name": "Recorded"}),
    )
    .await
    .assert_status(200);
    let evs = events(&app, org, &admin, "limit=500").await;
    assert_eq!(count(&evs, "org.updated"), 1);
    let report = app
        .get(&format!("/api/v1/orgs/{org}/audit/verify"), &admin)
        .await;
    assert_eq!(report.assert_status(200)["ok"], true, "{}", report.body);
    app.stop().await;
}

async fn retention_purges_behind_a_signed_anchor(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("old@example.com", "Old").await;
    app.patch(
        &format!("/api/v1/orgs/{org}"),
        &admin,
        json!({"settings": {"audit_retention_days": 30}}),
    )
    .await
    .assert_status(200);
    for i in 0..6 {
        app.patch(
            &format!("/api/v1/orgs/{org}"),
            &admin,
            json!({"name": format!("Old {i}")}),
        )
        .await
        .assert_status(200);
    }
    // The first six events become four hundred days old.
    tamper(&app, &format!("UPDATE audit_events SET time = '2020-01-01T00:00:00+00:00' WHERE seq <= 6 AND org_id = {}", id_sql(&app, org))).await;
    let r = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{org}/audit/purge"),
            Some(&admin),
            None,
        )
        .await;
    let result = r.assert_status(200).clone();
    assert_eq!(
        (
            result["purged_events"].as_u64(),
            result["through_seq"].as_i64()
        ),
        (Some(6), Some(6))
    );
    let all = events(&app, org, &admin, "limit=500").await;
    assert_eq!(
        all.last().and_then(|e| e["seq"].as_i64()),
        Some(7),
        "oldest kept event"
    );
    assert_eq!(all[0]["action"], "audit.purged");
    // What remains verifies, on the server and offline.
    let server = app
        .get(&format!("/api/v1/orgs/{org}/audit/verify"), &admin)
        .await;
    assert_eq!(server.assert_status(200)["ok"], true, "{}", server.body);
    let offline = verify_str(&export(&app, org, &admin, "format=bundle").await);
    assert!(offline.ok && offline.first_seq == Some(7), "{offline:?}");
    // Nothing more to purge.
    let again = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{org}/audit/purge"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(again.assert_status(200)["purged_events"], 0);
    app.stop().await;
}

/// An org with a viewer who is refused twelve times in a row.
async fn flood(app: &TestApp) -> (Uuid, String) {
    let (org, admin) = app.user_with_org("flood@example.com", "Flooded").await;
    let viewer = app.register("v@example.com").await;
    app.join(org, &admin, json!({"user_id": viewer, "role": "viewer"}))
        .await;
    let token = app.login("v@example.com", Some("flooded")).await;
    for _ in 0..12 {
        app.delete(&format!("/api/v1/orgs/{org}"), &token)
            .await
            .assert_error(403, "permission_denied");
    }
    (org, admin)
}

fn denials(evs: &[Value]) -> Vec<u64> {
    evs.iter()
        .filter(|e| e["action"] == "access.denied")
        .filter_map(|e| e["count"].as_u64())
        .collect()
}

async fn floods_are_aggregated_not_dropped(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.audit_aggregate_secs = 1;
    let app = TestApp::spawn_with(env, config).await;
    let (org, admin) = flood(&app).await;
    // The first is written at once; the eleven repeats as one event when
    // the one-second window closes.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        let evs = events(&app, org, &admin, "action=access.denied").await;
        let counts = denials(&evs);
        if counts.len() == 2 {
            assert_eq!(counts.iter().sum::<u64>(), 12, "{counts:?}");
            assert!(counts.contains(&1) && counts.contains(&11), "{counts:?}");
            // The fold states its first and last occurrence (its own time
            // is when the window closed), between the single and the fold.
            let time = |e: &Value, k: &str| {
                chrono::DateTime::parse_from_rfc3339(e[k].as_str().unwrap_or_default())
                    .unwrap_or_else(|_| panic!("{k} in {e}"))
            };
            let single = evs.iter().find(|e| e["count"] == 1).expect("single");
            let fold = evs.iter().find(|e| e["count"] == 11).expect("fold");
            let (first, last) = (
                time(&fold["metadata"], "first_at"),
                time(&fold["metadata"], "last_at"),
            );
            assert!(time(single, "time") <= first && first <= last, "{fold}");
            assert!(last <= time(fold, "time"), "{fold}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "aggregate never written: {counts:?}"
        );
        tick.tick().await;
    }
    let report = app
        .get(&format!("/api/v1/orgs/{org}/audit/verify"), &admin)
        .await;
    assert_eq!(report.assert_status(200)["ok"], true);
    app.stop().await;
}

async fn pending_aggregates_are_written_at_shutdown(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.audit_aggregate_secs = 3600;
    let app = TestApp::spawn_with(env.clone(), config.clone()).await;
    let (org, _) = flood(&app).await;
    app.stop().await; // graceful: flushes the open window
    let again = TestApp::spawn_with(env, config).await;
    let admin = again.login("flood@example.com", Some("flooded")).await;
    let counts = denials(&events(&again, org, &admin, "action=access.denied").await);
    assert_eq!(counts.iter().sum::<u64>(), 12, "{counts:?}");
    again.stop().await;
}

async fn super_admins_read_the_system_chain(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("someone@example.com").await;
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "nobody@example.com", "password": "wrong password"}),
    )
    .await
    .assert_error(401, "invalid_credentials");
    let user = app.login("someone@example.com", None).await;
    let r = app.get("/api/v1/system/audit/events", &user).await;
    r.assert_error(403, "permission_denied");
    assert_eq!(r.body["error"]["permission"], "system:audit");

    let root = app.super_admin("root@example.com").await;
    let r = app
        .get("/api/v1/system/audit/events?limit=500", &root)
        .await;
    let evs = r.assert_status(200)["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let actions: Vec<&str> = evs.iter().filter_map(|e| e["action"].as_str()).collect();
    for a in [
        "user.registered",
        "auth.login_failed",
        "user.super_admin_granted",
        "access.denied",
    ] {
        assert!(actions.contains(&a), "{a} missing: {actions:?}");
    }
    assert!(evs.iter().all(|e| e["org_id"] == Uuid::nil().to_string()));
    let verify = app.get("/api/v1/system/audit/verify", &root).await;
    assert_eq!(verify.assert_status(200)["ok"], true, "{}", verify.body);
    let resp = app
        .client
        .get(app.url("/api/v1/system/audit/export"))
        .bearer_auth(&root)
        .send()
        .await
        .expect("export");
    let report = verify_str(&resp.text().await.expect("body"));
    assert!(
        report.ok && report.org_id == Some(Uuid::nil()),
        "{report:?}"
    );
    app.stop().await;
}

backend_tests!(
    super_admins_read_the_system_chain,
    floods_are_aggregated_not_dropped,
    pending_aggregates_are_written_at_shutdown,
    retention_purges_behind_a_signed_anchor,
    a_change_and_its_event_commit_together,
    state_changes_and_denials_are_recorded,
    exports_verify_offline,
    tampering_is_found_by_both_verifiers,
    concurrent_writers_make_one_linear_chain,
);
