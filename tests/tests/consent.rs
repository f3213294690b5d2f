//! Attacks from issue [J], tried as an attacker would and shown refused:
//! membership without consent, password resets of accounts an organization
//! does not manage, escalation through API keys, the last admin raced away,
//! second factors guessed past the lockout, a purge recorded on a chain that
//! is gone.

use loki_tests::{backend_tests, json, Backend, TestApp, TestEnv, PASSWORD};
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn super_admin_cannot_be_taken_over(b: Backend) {
    let app = TestApp::spawn(b).await;
    let root = app.super_admin("root@example.com").await;
    // The attacker registers, makes an organization, "adds" the operator...
    let (org, attacker) = app.user_with_org("mallory@example.com", "Evil").await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            Some(&attacker),
            json!({"email": "root@example.com", "role": "viewer"}),
        )
        .await;
    let invitation = r.assert_status(202)["invitation"].clone();
    let members = app
        .get(&format!("/api/v1/orgs/{org}/members"), &attacker)
        .await;
    assert_eq!(
        members.assert_status(200)["members"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "an invitation makes nobody a member"
    );
    // ...and tries to reset the operator's password: not a member.
    let me = app.get("/api/v1/auth/me", &root).await;
    let root_id = s(&me.assert_status(200)["user"]["id"]);
    app.post(
        &format!("/api/v1/orgs/{org}/members/{root_id}/reset-password"),
        Some(&attacker),
        json!({}),
    )
    .await
    .assert_error(404, "not_found");
    // The invitation's token cannot create or take an existing account.
    let inv_id = s(&invitation["id"]);
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&attacker),
            json!({"email": "root@example.com", "roles": ["viewer"]}),
        )
        .await;
    r.assert_error(409, "already_invited");
    // Someone else signed in cannot accept it.
    app.accept_invitation(&attacker, &inv_id)
        .await
        .assert_error(404, "not_found");
    // The operator sees it and declines.
    let mine = app.get("/api/v1/invitations", &root).await;
    assert_eq!(mine.assert_status(200)["invitations"][0]["id"], inv_id);
    assert_eq!(mine.body["invitations"][0]["org_name"], "Evil");
    let r = app
        .post(
            &format!("/api/v1/invitations/{inv_id}/decline"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    app.accept_invitation(&root, &inv_id)
        .await
        .assert_error(409, "invitation_closed");

    // Even as a member, a super admin is protected from organization admins.
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&attacker),
            json!({"email": "root@example.com", "roles": ["viewer"]}),
        )
        .await;
    let again = s(&r.assert_status(201)["invitation"]["id"]);
    app.accept_invitation(&root, &again)
        .await
        .assert_status(200);
    app.post(
        &format!("/api/v1/orgs/{org}/members/{root_id}/reset-password"),
        Some(&attacker),
        json!({}),
    )
    .await
    .assert_error(403, "reset_not_allowed");
    // The refusal is on the organization's trail.
    let denied = app
        .audit_events(org, &attacker, "action=user.password_reset&outcome=denied")
        .await;
    assert_eq!(denied.len(), 1);
    app.stop().await;
}

async fn resets_only_for_managed_accounts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("boss@example.com", "Home").await;
    // Registered itself, then joined: not managed.
    app.register("self@example.com").await;
    let joined = app
        .join(
            org,
            &admin,
            json!({"email": "self@example.com", "role": "viewer"}),
        )
        .await;
    let reset = |user: String| format!("/api/v1/orgs/{org}/members/{user}/reset-password");
    app.post(&reset(s(&joined["user_id"])), Some(&admin), json!({}))
        .await
        .assert_error(403, "reset_not_allowed");
    // Created by this organization's invitation: managed.
    let managed = app
        .join_new(org, &admin, "new@example.com", &["viewer"])
        .await;
    let managed_id = s(&managed["user_id"]);
    let r = app
        .post(&reset(managed_id.clone()), Some(&admin), json!({}))
        .await;
    let temporary = s(&r.assert_status(200)["temporary_password"]);
    assert!(!temporary.is_empty());
    // Once it joins another organization it is nobody's to reset any more,
    // also after leaving that organization again.
    let (other, other_admin) = app.user_with_org("else@example.com", "Elsewhere").await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{other}/invitations"),
            Some(&other_admin),
            json!({"email": "new@example.com", "roles": ["viewer"]}),
        )
        .await;
    let inv = s(&r.assert_status(201)["invitation"]["id"]);
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "new@example.com", "password": temporary}),
        )
        .await;
    let token = s(&login.assert_status(200)["access_token"]);
    app.accept_invitation(&token, &inv).await.assert_status(200);
    let gone = app
        .delete(
            &format!("/api/v1/orgs/{other}/members/{managed_id}"),
            &other_admin,
        )
        .await;
    assert_eq!(gone.status.as_u16(), 204);
    app.post(&reset(managed_id.clone()), Some(&admin), json!({}))
        .await
        .assert_error(403, "reset_not_allowed");
    // A super admin may reset anyone, and it is audited.
    let root = app.super_admin("root@example.com").await;
    app.post(&reset(managed_id), Some(&root), json!({}))
        .await
        .assert_status(200);
    let events = app
        .audit_events(org, &root, "action=user.password_reset&outcome=success")
        .await;
    assert_eq!(events.len(), 2);
    app.stop().await;
}

async fn accepting_without_an_account(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("boss@example.com", "Home").await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&admin),
            json!({"email": "fresh@example.com", "roles": ["auditor"], "expires_in_secs": 10}),
        )
        .await;
    r.assert_error(422, "validation_failed");
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&admin),
            json!({"email": "fresh@example.com", "roles": ["auditor", "admin"]}),
        )
        .await;
    let created = r.assert_status(201).clone();
    let id = s(&created["invitation"]["id"]);
    let accept = format!("/api/v1/invitations/{id}/accept");
    app.post(
        &accept,
        None,
        json!({"token": "lki_wrong", "password": PASSWORD}),
    )
    .await
    .assert_error(401, "invalid_invitation_token");
    app.post(&accept, None, json!({}))
        .await
        .assert_error(422, "validation_failed");
    let r = app
        .post(
            &accept,
            None,
            json!({"token": created["accept_token"], "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.assert_status(200)["roles"], json!(["auditor", "admin"]));
    // Single use.
    app.post(
        &accept,
        None,
        json!({"token": created["accept_token"], "password": PASSWORD}),
    )
    .await
    .assert_error(409, "invitation_closed");
    app.login("fresh@example.com", Some(&org.to_string())).await;
    // The invitation's roles may not exceed the inviter's.
    let officer = app
        .join_new(org, &admin, "officer@example.com", &["compliance_officer"])
        .await;
    assert_eq!(officer["roles"], json!(["compliance_officer"]));
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(
                &app.login("officer@example.com", Some(&org.to_string()))
                    .await,
            ),
            json!({"email": "x@example.com", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    // Every step is on the trail.
    let trail = app.audit_events(org, &admin, "limit=200").await;
    for action in [
        "member.invited",
        "invitation.token_rejected",
        "member.added",
    ] {
        assert!(
            trail.iter().any(|e| e["action"] == action),
            "{action} missing"
        );
    }
    app.stop().await;
}

async fn api_keys_never_grant_more_than_their_holder(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.starter_org("keys@example.com", "Keyed").await;
    let keys = format!("/api/v1/orgs/{org}/api-keys");
    let r = app
        .post(
            &keys,
            Some(&admin),
            json!({"name": "strong", "scopes": ["org:read", "member:read", "apikey:create", "apikey:rotate", "org:delete"]}),
        )
        .await;
    let strong = r.assert_status(201).clone();
    let strong_id = s(&strong["key"]["id"]);
    // A member with only key rotation (and reading) cannot take the key over.
    app.post(
        &format!("/api/v1/orgs/{org}/roles"),
        Some(&admin),
        json!({"name": "rotator", "permissions": ["org:read", "apikey:read", "apikey:rotate"]}),
    )
    .await
    .assert_status(201);
    app.join_new(org, &admin, "rot@example.com", &["rotator"])
        .await;
    let rot = app.login("rot@example.com", Some(&org.to_string())).await;
    app.post(&format!("{keys}/{strong_id}/rotate"), Some(&rot), json!({}))
        .await
        .assert_error(403, "privilege_escalation");
    // Keys cannot create or rotate keys, even with the scope.
    let key = s(&strong["api_key"]);
    app.post(
        &keys,
        Some(&key),
        json!({"name": "child", "scopes": ["org:read"]}),
    )
    .await
    .assert_error(403, "session_required");
    app.post(&format!("{keys}/{strong_id}/rotate"), Some(&key), json!({}))
        .await
        .assert_error(403, "session_required");
    // Account endpoints are not for keys.
    app.get("/api/v1/auth/sessions", &key)
        .await
        .assert_error(403, "session_required");
    // A revoked key stays revoked.
    assert_eq!(
        app.delete(&format!("{keys}/{strong_id}"), &admin)
            .await
            .status
            .as_u16(),
        204
    );
    app.post(
        &format!("{keys}/{strong_id}/rotate"),
        Some(&admin),
        json!({}),
    )
    .await
    .assert_error(409, "api_key_revoked");

    // A super admin's key is bound to its organization, without global power.
    let root = app.super_admin("root@example.com").await;
    app.post(
        &keys,
        Some(&root),
        json!({"name": "root", "scopes": ["system:tiers"]}),
    )
    .await
    .assert_error(422, "validation_failed");
    let r = app
        .post(
            &keys,
            Some(&root),
            json!({"name": "root", "scopes": ["org:read", "org:update"]}),
        )
        .await;
    let root_key = s(&r.assert_status(201)["api_key"]);
    app.get(&format!("/api/v1/orgs/{org}"), &root_key)
        .await
        .assert_status(200);
    let (other, _) = app.starter_org("other@example.com", "Other").await;
    app.get(&format!("/api/v1/orgs/{other}"), &root_key)
        .await
        .assert_error(403, "wrong_organization");
    app.put(
        &format!("/api/v1/orgs/{org}/tier"),
        &root_key,
        json!({"tier": "enterprise"}),
    )
    .await
    .assert_error(403, "permission_denied");
    let me = app.get("/api/v1/auth/me", &root_key).await;
    assert_eq!(me.assert_status(200)["user"]["is_super_admin"], false);
    assert_eq!(
        me.body["user"]["email"], "",
        "no account details without member:read"
    );
    assert_eq!(me.body["organizations"], json!([]));
    app.stop().await;
}

async fn the_last_admin_survives_a_race(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, first) = app.user_with_org("a0@example.com", "Crowned").await;
    let mut admins = vec![(first, String::new())];
    for i in 1..6 {
        let email = format!("a{i}@example.com");
        let m = app.join_new(org, &admins[0].0, &email, &["admin"]).await;
        admins.push((
            app.login(&email, Some(&org.to_string())).await,
            s(&m["user_id"]),
        ));
    }
    let me = app.get("/api/v1/auth/me", &admins[0].0).await;
    admins[0].1 = s(&me.body["user"]["id"]);
    // Every admin demotes themselves at once.
    let demotions = admins.iter().map(|(token, id)| {
        let path = format!("/api/v1/orgs/{org}/members/{id}");
        let app = &app;
        async move { app.patch(&path, token, json!({"roles": ["viewer"]})).await }
    });
    let results = futures_util::future::join_all(demotions).await;
    let done = results.iter().filter(|r| r.status.as_u16() == 200).count();
    for r in results.iter().filter(|r| r.status.as_u16() != 200) {
        r.assert_error(409, "last_admin");
    }
    assert_eq!(done, admins.len() - 1, "exactly one admin stays");
    let root = app.super_admin("root@example.com").await;
    let members = app.get(&format!("/api/v1/orgs/{org}/members"), &root).await;
    let admins_left = members.assert_status(200)["members"]
        .as_array()
        .map(|m| m.iter().filter(|x| x["roles"] == json!(["admin"])).count());
    assert_eq!(admins_left, Some(1));
    app.stop().await;
}

async fn second_factors_count_toward_the_lockout(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("otp@example.com").await;
    let first = app.login("otp@example.com", None).await;
    let second = app.login("otp@example.com", None).await;
    let r = app
        .post("/api/v1/auth/mfa/enroll", Some(&first), json!({}))
        .await;
    let secret = s(&r.assert_status(200)["secret"]);
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret).to_bytes().expect("base32"),
        None,
        "test".into(),
    )
    .expect("totp");
    let code = totp.generate(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0));
    app.post(
        "/api/v1/auth/mfa/confirm",
        Some(&first),
        json!({"code": code}),
    )
    .await
    .assert_status(200);
    // Enabling MFA ends the account's other sessions.
    app.get("/api/v1/auth/me", &second)
        .await
        .assert_error(401, "session_revoked");
    app.get("/api/v1/auth/me", &first).await.assert_status(200);
    // Wrong codes, over fresh challenges, lock the account like wrong passwords.
    let mut last = None;
    for _ in 0..5 {
        let r = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": "otp@example.com", "password": PASSWORD}),
            )
            .await;
        let challenge = s(&r.assert_status(200)["challenge"]);
        last = Some(
            app.post(
                "/api/v1/auth/mfa/verify",
                None,
                json!({"challenge": challenge, "recovery_code": "aaaaa-bbbbb"}),
            )
            .await,
        );
    }
    last.expect("attempts")
        .assert_error(429, "too_many_attempts");
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "otp@example.com", "password": PASSWORD}),
    )
    .await
    .assert_error(429, "too_many_attempts");
    app.stop().await;
}

async fn a_purge_is_recorded_on_the_system_chain(b: Backend) {
    let app = TestApp::spawn(b).await;
    let root = app.super_admin("root@example.com").await;
    let (org, _) = app.user_with_org("gone@example.com", "Gone").await;
    let r = app
        .delete(&format!("/api/v1/orgs/{org}?hard=true"), &root)
        .await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    let r = app
        .get("/api/v1/system/audit/events?action=org.purged", &root)
        .await;
    let events = r.assert_status(200)["events"].clone();
    assert_eq!(events[0]["resource_id"], org.to_string());
    assert_eq!(events[0]["before"]["id"], org.to_string());
    let verified = app.get("/api/v1/system/audit/verify", &root).await;
    assert_eq!(verified.assert_status(200)["ok"], true, "{}", verified.body);
    app.stop().await;
}

async fn lockout_survives_losing_the_kv_store(b: Backend) {
    let env = std::sync::Arc::new(TestEnv::new(b).await);
    let app = TestApp::spawn_on(env.clone()).await;
    app.register("locked@example.com").await;
    for _ in 0..5 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "locked@example.com", "password": "wrong wrong wrong"}),
        )
        .await;
    }
    app.stop().await;
    // A new daemon with an empty kv store (in-process, or a Redis under a
    // fresh prefix: what a Redis restart leaves).
    let mut config = env.config();
    config.redis_key_prefix = format!("loki-test-empty:{}:", uuid::Uuid::new_v4().simple());
    let again = TestApp::spawn_with(env, config).await;
    again
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "locked@example.com", "password": PASSWORD}),
        )
        .await
        .assert_error(429, "too_many_attempts");
    again.stop().await;
}

backend_tests!(
    super_admin_cannot_be_taken_over,
    resets_only_for_managed_accounts,
    accepting_without_an_account,
    api_keys_never_grant_more_than_their_holder,
    the_last_admin_survives_a_race,
    second_factors_count_toward_the_lockout,
    a_purge_is_recorded_on_the_system_chain,
    lockout_survives_losing_the_kv_store,
);
