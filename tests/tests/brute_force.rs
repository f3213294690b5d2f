//! Sign-in throttling: progressive lockout per account (unknown emails
//! alike) and a limit per client IP.

use std::sync::Arc;

use loki_tests::{backend_tests, json, Backend, TestApp, TestEnv, PASSWORD};

async fn accounts_lock_after_five_failures(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("victim@example.com").await;
    for email in ["victim@example.com", "ghost@example.com"] {
        for i in 0..5 {
            let r = app
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"email": email, "password": format!("wrong guess {i}")}),
                )
                .await;
            if i < 4 {
                r.assert_error(401, "invalid_credentials");
            } else {
                // The fifth failure locks.
                r.assert_error(429, "too_many_attempts");
            }
        }
        // Locked: even the right password is refused, with a Retry-After.
        let r = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        r.assert_error(429, "too_many_attempts");
        let retry: u64 = r
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        assert!((1..=30).contains(&retry), "retry-after {retry}");
    }
    // An unknown email looks exactly like a real one.
    let real = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "victim@example.com", "password": "x"}),
        )
        .await;
    let ghost = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ghost@example.com", "password": "x"}),
        )
        .await;
    assert_eq!(real.status, ghost.status);
    assert_eq!(real.body["error"]["code"], ghost.body["error"]["code"]);
    // Other accounts are unaffected.
    app.register("bystander@example.com").await;
    app.login("bystander@example.com", None).await;
    app.stop().await;
}

async fn sign_in_is_limited_per_ip(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.signin_ip_limit = 3;
    let app = TestApp::spawn_with(env, config).await;
    for i in 0..3 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": format!("u{i}@example.com"), "password": "nope nope nope"}),
        )
        .await
        .assert_error(401, "invalid_credentials");
    }
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "u9@example.com", "password": "nope"}),
        )
        .await;
    r.assert_error(429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    app.stop().await;
}

/// A flood beyond hashing capacity: the sign-ins that cannot get a slot are
/// answered at once with 429 `signin_busy` and `Retry-After` (never a 5xx,
/// never a wait towards the timeout), each refusal audited; the rest sign in.
async fn sign_ins_beyond_capacity_are_refused_fast(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.password_hash_concurrency = 1;
    config.password_hash_queue = 0;
    let app = TestApp::spawn_with(env, config).await;
    app.register("crowd@example.com").await;
    let body = json!({"email": "crowd@example.com", "password": PASSWORD});
    let replies = futures_util::future::join_all(
        (0..16).map(|_| app.post("/api/v1/auth/login", None, body.clone())),
    )
    .await;
    let mut busy = 0;
    for r in &replies {
        match r.status.as_u16() {
            200 => {}
            429 => {
                r.assert_error(429, "signin_busy");
                assert_eq!(
                    r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
                    Some("1")
                );
                busy += 1;
            }
            other => panic!("a sign-in answered {other}: {:?}", r.body),
        }
    }
    assert!(
        busy >= 1,
        "16 concurrent sign-ins on one slot and no queue: none refused"
    );
    assert!(busy < 16, "every sign-in refused");
    let admin = app.super_admin("auditor@example.com").await;
    let events = app
        .get(
            "/api/v1/system/audit/events?action=auth.signin_rate_limited&limit=100",
            &admin,
        )
        .await;
    let refused: u64 = events.assert_status(200)["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["metadata"]["reason"] == "capacity")
                .map(|e| e["count"].as_u64().unwrap_or(1))
                .sum()
        })
        .unwrap_or(0);
    assert!(
        refused >= 1,
        "no capacity refusal on the system chain: {:?}",
        events.body
    );
    app.stop().await;
}

backend_tests!(
    accounts_lock_after_five_failures,
    sign_in_is_limited_per_ip,
    sign_ins_beyond_capacity_are_refused_fast
);
