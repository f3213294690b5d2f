//! API keys: tier gate, create/list/use, rotation grace, revoke, expiry.

use loki_tests::{backend_tests, json, Backend, TestApp};

async fn starter_org(app: &TestApp) -> (uuid::Uuid, String) {
    app.starter_org("keys@example.com", "Keyed").await
}

async fn free_tier_has_no_api_keys(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("free@example.com", "Free").await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            Some(&admin),
            json!({"name": "ci", "scopes": ["org:read"]}),
        )
        .await;
    r.assert_error(402, "tier_limit_exceeded");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("starter"));
    app.stop().await;
}

async fn lifecycle(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = starter_org(&app).await;
    let path = format!("/api/v1/orgs/{org}/api-keys");
    let r = app
        .post(
            &path,
            Some(&admin),
            json!({"name": "ci pipeline", "scopes": ["org:read", "member:read", "org:read"]}),
        )
        .await;
    let created = r.assert_status(201).clone();
    let key = created["api_key"].as_str().unwrap_or_default().to_owned();
    let info = &created["key"];
    let key_id = info["key_id"].as_str().unwrap_or_default().to_owned();
    assert!(key.starts_with(&format!("loki_{key_id}_")));
    let secret = &key[format!("loki_{key_id}_").len()..];
    assert!(secret.len() * 6 >= 256, "at least 256 bits of secret");
    assert_eq!(info["scopes"], json!(["org:read", "member:read"]));

    // The key works as a bearer credential, scoped to its organization.
    let me = app.get("/api/v1/auth/me", &key).await;
    assert_eq!(me.assert_status(200)["api_key_id"], info["id"]);
    assert_eq!(me.body["org"], org.to_string());
    app.get(&format!("/api/v1/orgs/{org}"), &key)
        .await
        .assert_status(200);
    // Account actions need a person.
    app.post("/api/v1/auth/switch-org", Some(&key), json!({"org": org}))
        .await
        .assert_error(403, "session_required");
    app.post("/api/v1/orgs", Some(&key), json!({"name": "by key"}))
        .await
        .assert_error(403, "session_required");

    // Listed without any secret; last use recorded.
    let list = app.get(&path, &admin).await;
    let text = list.assert_status(200).to_string();
    assert!(!text.contains(secret));
    assert!(list.body["api_keys"][0]["last_used_at"].is_string());

    // Rotation: the new secret works, the old one through the grace period.
    let id = info["id"].as_str().unwrap_or_default();
    let rotated = app
        .post(&format!("{path}/{id}/rotate"), Some(&admin), json!({}))
        .await;
    let rotated = rotated.assert_status(200).clone();
    let key2 = rotated["api_key"].as_str().unwrap_or_default().to_owned();
    assert_ne!(key, key2);
    assert!(rotated["key"]["previous_secret_valid_until"].is_string());
    app.get("/api/v1/auth/me", &key2).await.assert_status(200);
    app.get("/api/v1/auth/me", &key).await.assert_status(200);
    // A rotation without grace ends the previous secret at once.
    let r3 = app
        .post(
            &format!("{path}/{id}/rotate"),
            Some(&admin),
            json!({"grace_period_secs": 0}),
        )
        .await;
    let key3 = r3.assert_status(200)["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.get("/api/v1/auth/me", &key2)
        .await
        .assert_error(401, "invalid_api_key");
    app.get("/api/v1/auth/me", &key)
        .await
        .assert_error(401, "invalid_api_key");
    app.get("/api/v1/auth/me", &key3).await.assert_status(200);

    // Tampered and unknown keys.
    let tampered = format!("{}x", &key3[..key3.len() - 1]);
    app.get("/api/v1/auth/me", &tampered)
        .await
        .assert_error(401, "invalid_api_key");
    app.get("/api/v1/auth/me", "loki_0123456789abcdef_nope")
        .await
        .assert_error(401, "invalid_api_key");
    app.get("/api/v1/auth/me", "loki_garbage")
        .await
        .assert_error(401, "invalid_api_key");

    // Revoked keys stop working.
    assert_eq!(
        app.delete(&format!("{path}/{id}"), &admin)
            .await
            .status
            .as_u16(),
        204
    );
    app.get("/api/v1/auth/me", &key3)
        .await
        .assert_error(401, "api_key_revoked");
    app.delete(&format!("{path}/{id}"), &admin)
        .await
        .assert_error(404, "not_found");
    app.stop().await;
}

async fn expiry_and_downgrade(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = starter_org(&app).await;
    let path = format!("/api/v1/orgs/{org}/api-keys");
    app.post(
        &path,
        Some(&admin),
        json!({"name": "old", "scopes": ["org:read"], "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &path,
        Some(&admin),
        json!({"name": "bad", "scopes": ["NOT A SCOPE"]}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(&path, Some(&admin), json!({"name": "none", "scopes": []}))
        .await
        .assert_error(422, "validation_failed");
    let later = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let r = app
        .post(
            &path,
            Some(&admin),
            json!({"name": "temp", "scopes": ["org:read"], "expires_at": later}),
        )
        .await;
    let created = r.assert_status(201).clone();
    let key = created["api_key"].as_str().unwrap_or_default().to_owned();
    app.get("/api/v1/auth/me", &key).await.assert_status(200);
    app.env
        .expire_api_key(created["key"]["key_id"].as_str().unwrap_or_default())
        .await;
    app.get("/api/v1/auth/me", &key)
        .await
        .assert_error(401, "api_key_expired");

    // A key of an organization that lost API access is refused.
    let r = app
        .post(
            &path,
            Some(&admin),
            json!({"name": "live", "scopes": ["org:read"]}),
        )
        .await;
    let live = r.assert_status(201)["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let root = app.super_admin("downgrader@example.com").await;
    app.put(
        &format!("/api/v1/orgs/{org}/tier"),
        &root,
        json!({"tier": "free"}),
    )
    .await
    .assert_status(200);
    app.get("/api/v1/auth/me", &live)
        .await
        .assert_error(402, "tier_limit_exceeded");
    app.stop().await;
}

async fn keys_of_other_tenants_are_invisible(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = starter_org(&app).await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            Some(&admin),
            json!({"name": "mine", "scopes": ["org:read"]}),
        )
        .await;
    let id = r.assert_status(201)["key"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (other, other_admin) = app.user_with_org("other@example.com", "Other").await;
    app.get(&format!("/api/v1/orgs/{org}/api-keys/{id}"), &other_admin)
        .await
        .assert_error(403, "wrong_organization");
    app.get(&format!("/api/v1/orgs/{other}/api-keys/{id}"), &other_admin)
        .await
        .assert_error(404, "not_found");
    app.delete(&format!("/api/v1/orgs/{other}/api-keys/{id}"), &other_admin)
        .await
        .assert_error(404, "not_found");
    app.stop().await;
}

backend_tests!(
    free_tier_has_no_api_keys,
    lifecycle,
    expiry_and_downgrade,
    keys_of_other_tenants_are_invisible
);
