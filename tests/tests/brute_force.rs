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

backend_tests!(accounts_lock_after_five_failures, sign_in_is_limited_per_ip);
