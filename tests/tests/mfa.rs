//! TOTP enrolment, sign-in with a second factor, replay refusal, recovery
//! codes, the organization's MFA policy for admins.

use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};
use totp_rs::{Algorithm, Secret, TOTP};

fn totp(secret_b32: &str) -> TOTP {
    let bytes = Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .expect("base32");
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".into()).expect("totp")
}

fn code_at(t: &TOTP, offset_steps: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    t.generate(u64::try_from(now + offset_steps * 30).unwrap_or(0))
}

/// Enrols and confirms TOTP for the token's user; returns the generator.
async fn enable_mfa(app: &TestApp, token: &str) -> TOTP {
    let enrol = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/mfa/enroll",
            Some(token),
            None,
        )
        .await;
    let t = totp(
        enrol.assert_status(200)["secret"]
            .as_str()
            .unwrap_or_default(),
    );
    app.post(
        "/api/v1/auth/mfa/confirm",
        Some(token),
        json!({"code": code_at(&t, 0)}),
    )
    .await
    .assert_status(200);
    t
}

async fn challenge(app: &TestApp, email: &str) -> String {
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    let body = r.assert_status(200);
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("access_token").is_none());
    body["challenge"].as_str().unwrap_or_default().to_owned()
}

async fn enrol_sign_in_replay_and_recovery(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("mfa@example.com").await;
    let token = app.login("mfa@example.com", None).await;

    let r = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/mfa/enroll",
            Some(&token),
            None,
        )
        .await;
    let enrol = r.assert_status(200).clone();
    let uri = enrol["provisioning_uri"].as_str().unwrap_or_default();
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains("issuer=LOKI"),
        "{uri}"
    );
    let t = totp(enrol["secret"].as_str().unwrap_or_default());

    app.post(
        "/api/v1/auth/mfa/confirm",
        Some(&token),
        json!({"code": "000000x"}),
    )
    .await
    .assert_error(422, "validation_failed");
    let r = app
        .post(
            "/api/v1/auth/mfa/confirm",
            Some(&token),
            json!({"code": code_at(&t, 0)}),
        )
        .await;
    let codes: Vec<String> =
        serde_json::from_value(r.assert_status(200)["recovery_codes"].clone()).unwrap_or_default();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.body["user"]["mfa_enabled"],
        true
    );

    // Sign-in now stops at the second factor.
    let c = challenge(&app, "mfa@example.com").await;
    app.post(
        "/api/v1/auth/mfa/verify",
        None,
        json!({"challenge": c, "code": "123456"}),
    )
    .await
    .assert_error(401, "invalid_mfa_code");
    // The confirm code's step is spent; the next step's code works once.
    let next = code_at(&t, 1);
    let r = app
        .post(
            "/api/v1/auth/mfa/verify",
            None,
            json!({"challenge": c, "code": next}),
        )
        .await;
    assert!(r.assert_status(200)["access_token"].is_string());
    app.post(
        "/api/v1/auth/mfa/verify",
        None,
        json!({"challenge": c, "code": next}),
    )
    .await
    .assert_error(401, "invalid_mfa_challenge");
    let c2 = challenge(&app, "mfa@example.com").await;
    app.post(
        "/api/v1/auth/mfa/verify",
        None,
        json!({"challenge": c2, "code": next}),
    )
    .await
    .assert_error(401, "mfa_code_reused");
    app.post(
        "/api/v1/auth/mfa/verify",
        None,
        json!({"challenge": c2, "code": code_at(&t, 0)}),
    )
    .await
    .assert_error(401, "mfa_code_reused");

    // Recovery codes: once each, formatting forgiven.
    let rc = codes[0].to_uppercase().replace('-', " ");
    let r = app
        .post(
            "/api/v1/auth/mfa/verify",
            None,
            json!({"challenge": c2, "recovery_code": rc}),
        )
        .await;
    r.assert_status(200);
    let c3 = challenge(&app, "mfa@example.com").await;
    app.post(
        "/api/v1/auth/mfa/verify",
        None,
        json!({"challenge": c3, "recovery_code": codes[0]}),
    )
    .await
    .assert_error(401, "invalid_recovery_code");
    app.post(
        "/api/v1/auth/mfa/verify",
        None,
        json!({"challenge": "bogus", "recovery_code": codes[1]}),
    )
    .await
    .assert_error(401, "invalid_mfa_challenge");

    // Disabling needs a valid second factor.
    app.post(
        "/api/v1/auth/mfa/disable",
        Some(&token),
        json!({"code": "000000"}),
    )
    .await
    .assert_error(401, "invalid_mfa_code");
    let r = app
        .post(
            "/api/v1/auth/mfa/disable",
            Some(&token),
            json!({"recovery_code": codes[1]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "mfa@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(r.assert_status(200)["access_token"].is_string());
    app.stop().await;
}

async fn challenges_allow_few_attempts(b: Backend) {
    // The account lockout (which wrong codes also feed) is out of the way
    // here: this is about the challenge's own attempt limit.
    let env = std::sync::Arc::new(loki_tests::TestEnv::new(b).await);
    let mut config = env.config();
    config.lockout_threshold = 100;
    let app = TestApp::spawn_with(env, config).await;
    app.register("guess@example.com").await;
    let token = app.login("guess@example.com", None).await;
    let t = enable_mfa(&app, &token).await;
    let c = challenge(&app, "guess@example.com").await;
    for _ in 0..5 {
        app.post(
            "/api/v1/auth/mfa/verify",
            None,
            json!({"challenge": c, "code": "000000"}),
        )
        .await
        .assert_error(401, "invalid_mfa_code");
    }
    // Even the right code is refused now: the challenge is spent.
    app.post(
        "/api/v1/auth/mfa/verify",
        None,
        json!({"challenge": c, "code": code_at(&t, 1)}),
    )
    .await
    .assert_error(401, "invalid_mfa_challenge");
    app.stop().await;
}

async fn organizations_can_require_mfa_for_admins(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("strict@example.com", "Strict").await;
    let policy = json!({"settings": {"require_mfa_for_admins": true}});
    // An admin without MFA cannot require it (it would lock them out).
    app.patch(&format!("/api/v1/orgs/{org}"), &admin, policy.clone())
        .await
        .assert_error(422, "validation_failed");
    // With MFA on, the first admin sets the policy.
    enable_mfa(&app, &admin).await;
    app.patch(&format!("/api/v1/orgs/{org}"), &admin, policy)
        .await
        .assert_status(200);

    // A second admin without MFA loses org access until enrolled...
    app.register("second@example.com").await;
    app.join(
        org,
        &admin,
        json!({"email": "second@example.com", "role": "admin"}),
    )
    .await;
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "second@example.com", "password": PASSWORD, "org": "strict"}),
    )
    .await
    .assert_error(403, "mfa_enrollment_required");
    let second = app.login("second@example.com", None).await;
    let switched = app
        .post(
            "/api/v1/auth/switch-org",
            Some(&second),
            json!({"org": "strict"}),
        )
        .await;
    switched.assert_error(403, "mfa_enrollment_required");
    // ...and an unscoped session can enrol.
    let t2 = enable_mfa(&app, &second).await;
    let c = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "second@example.com", "password": PASSWORD, "org": "strict"}),
        )
        .await
        .body["challenge"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = app
        .post(
            "/api/v1/auth/mfa/verify",
            None,
            json!({"challenge": c, "code": code_at(&t2, 1)}),
        )
        .await;
    let scoped = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.get(&format!("/api/v1/orgs/{org}"), &scoped)
        .await
        .assert_status(200);

    // Non-admin members are not affected.
    app.register("view@example.com").await;
    app.join(
        org,
        &scoped,
        json!({"email": "view@example.com", "role": "viewer"}),
    )
    .await;
    let viewer = app.login("view@example.com", Some("strict")).await;
    app.get(&format!("/api/v1/orgs/{org}"), &viewer)
        .await
        .assert_status(200);
    // An admin who turns MFA off is locked out of the org again.
    let second_sid_token = scoped;
    let codes_off = app
        .post(
            "/api/v1/auth/mfa/disable",
            Some(&second_sid_token),
            json!({"code": "000000"}),
        )
        .await;
    codes_off.assert_error(401, "invalid_mfa_code");
    app.stop().await;
}

backend_tests!(
    enrol_sign_in_replay_and_recovery,
    challenges_allow_few_attempts,
    organizations_can_require_mfa_for_admins,
);
