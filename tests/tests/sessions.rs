//! Refresh-token rotation and reuse detection, sessions, logout, password
//! change and admin reset.

use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("r@example.com").await;
    let first = app.login_full("r@example.com", None).await;
    let rt1 = first["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(rt1.starts_with("lrt_") && rt1.len() > 40);
    assert_eq!(
        first["refresh_expires_in"].as_u64().map(|s| s > 6 * 86400),
        Some(true)
    );

    let second = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": rt1}))
        .await;
    let second = second.assert_status(200).clone();
    let rt2 = second["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let at2 = second["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(rt1, rt2);
    assert_eq!(
        second["session_id"], first["session_id"],
        "same session, same family"
    );
    app.get("/api/v1/auth/me", &at2).await.assert_status(200);

    // Presenting the used token again: reuse. The family and its tokens die.
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": rt1}))
        .await
        .assert_error(401, "refresh_token_reused");
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": rt2}))
        .await
        .assert_error(401, "refresh_token_revoked");
    app.get("/api/v1/auth/me", &at2)
        .await
        .assert_error(401, "session_revoked");
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": "lrt_nonsense"}),
    )
    .await
    .assert_error(401, "invalid_refresh_token");
    // A fresh sign-in is unaffected.
    let t = app.login("r@example.com", None).await;
    app.get("/api/v1/auth/me", &t).await.assert_status(200);
    app.stop().await;
}

async fn switch_org_supersedes_the_previous_refresh_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, _) = app.user_with_org("s@example.com", "Switchy").await;
    let start = app.login_full("s@example.com", None).await;
    let at = start["access_token"].as_str().unwrap_or_default();
    let switched = app
        .post("/api/v1/auth/switch-org", Some(at), json!({"org": org}))
        .await;
    let switched = switched.assert_status(200).clone();
    assert_eq!(switched["org"]["id"], org.to_string());
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": switched["refresh_token"]}),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["org"]["id"],
        org.to_string(),
        "refresh keeps the org"
    );
    // The pre-switch refresh token was retired: using it is a reuse.
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": start["refresh_token"]}),
    )
    .await
    .assert_error(401, "refresh_token_reused");
    app.stop().await;
}

async fn sessions_list_revoke_and_logout(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("multi@example.com").await;
    let laptop = app.login("multi@example.com", None).await;
    let phone = app.login("multi@example.com", None).await;
    let list = app.get("/api/v1/auth/sessions", &laptop).await;
    let sessions = list.assert_status(200)["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions
        .iter()
        .all(|s| s["ip"] == "127.0.0.1" && s["kind"] == "token"));
    let phone_sid = app.get("/api/v1/auth/me", &phone).await.body["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let r = app
        .delete(&format!("/api/v1/auth/sessions/{phone_sid}"), &laptop)
        .await;
    assert_eq!(r.status.as_u16(), 204);
    app.get("/api/v1/auth/me", &phone)
        .await
        .assert_error(401, "session_revoked");
    app.get("/api/v1/auth/me", &laptop).await.assert_status(200);
    app.delete(&format!("/api/v1/auth/sessions/{phone_sid}"), &laptop)
        .await
        .assert_error(404, "not_found");

    // Someone else's session id is not found, not revoked.
    app.register("other@example.com").await;
    let other = app.login("other@example.com", None).await;
    let other_sid = app.get("/api/v1/auth/me", &other).await.body["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.delete(&format!("/api/v1/auth/sessions/{other_sid}"), &laptop)
        .await
        .assert_error(404, "not_found");
    app.get("/api/v1/auth/me", &other).await.assert_status(200);

    let r = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&laptop),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    app.get("/api/v1/auth/me", &laptop)
        .await
        .assert_error(401, "session_revoked");
    app.stop().await;
}

async fn admins_see_and_revoke_member_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("adm@example.com", "Sessions").await;
    app.register("mem@example.com").await;
    app.join(
        org,
        &admin,
        json!({"email": "mem@example.com", "role": "viewer"}),
    )
    .await;
    let member = app.login("mem@example.com", Some("sessions")).await;
    let _unscoped = app.login("mem@example.com", None).await;
    let list = app
        .get(&format!("/api/v1/orgs/{org}/sessions"), &admin)
        .await;
    let sessions = list.assert_status(200)["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // The admin's own org session and the member's; not the member's unscoped one.
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let member_sid = app.get("/api/v1/auth/me", &member).await.body["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(sessions.iter().any(|s| s["id"] == member_sid.as_str()));

    app.get(&format!("/api/v1/orgs/{org}/sessions"), &member)
        .await
        .assert_error(403, "permission_denied");
    let r = app
        .delete(&format!("/api/v1/orgs/{org}/sessions/{member_sid}"), &admin)
        .await;
    assert_eq!(r.status.as_u16(), 204);
    app.get("/api/v1/auth/me", &member)
        .await
        .assert_error(401, "session_revoked");
    app.stop().await;
}

async fn password_change_and_reset_end_other_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("boss@example.com", "Resets").await;
    // An account the organization manages (created by its invitation):
    // its admin may reset the password.
    app.join_new(org, &admin, "pat@example.com", &["viewer"])
        .await;
    let a = app.login_full("pat@example.com", None).await;
    let b_tok = app.login("pat@example.com", None).await;
    let a_tok = a["access_token"].as_str().unwrap_or_default();

    app.post(
        "/api/v1/auth/password",
        Some(a_tok),
        json!({"current_password": "wrong wrong wrong", "new_password": "a brand new passphrase"}),
    )
    .await
    .assert_error(401, "invalid_credentials");
    app.post(
        "/api/v1/auth/password",
        Some(a_tok),
        json!({"current_password": PASSWORD, "new_password": "short"}),
    )
    .await
    .assert_error(422, "validation_failed");
    let r = app
        .post(
            "/api/v1/auth/password",
            Some(a_tok),
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(r.assert_status(200)["revoked_sessions"], 1);
    app.get("/api/v1/auth/me", a_tok).await.assert_status(200);
    app.get("/api/v1/auth/me", &b_tok)
        .await
        .assert_error(401, "session_revoked");
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "pat@example.com", "password": PASSWORD}),
    )
    .await
    .assert_error(401, "invalid_credentials");

    // The admin resets it: every session of the member ends, refresh too.
    let pat = app.get("/api/v1/auth/me", a_tok).await.body["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{org}/members/{pat}/reset-password"),
            Some(&admin),
            None,
        )
        .await;
    let temp = r.assert_status(200)["temporary_password"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(temp.len() >= 24);
    app.get("/api/v1/auth/me", a_tok)
        .await
        .assert_error(401, "session_revoked");
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": a["refresh_token"]}),
    )
    .await
    .assert_error(401, "refresh_token_revoked");
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "pat@example.com", "password": temp}),
    )
    .await
    .assert_status(200);

    // Not for users who also belong to another organization.
    let (_, _) = app
        .user_with_org("elsewhere@example.com", "Elsewhere")
        .await;
    app.join(
        org,
        &admin,
        json!({"email": "elsewhere@example.com", "role": "viewer"}),
    )
    .await;
    let el = app
        .get(
            "/api/v1/auth/me",
            &app.login("elsewhere@example.com", None).await,
        )
        .await
        .body["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.call(
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{org}/members/{el}/reset-password"),
        Some(&admin),
        None,
    )
    .await
    .assert_error(403, "reset_not_allowed");
    app.stop().await;
}

/// Holding `session:revoke` is not enough to sign out someone stronger: an
/// admin's session is protected from a weaker role, a super admin's from
/// every organization admin; each refusal is audited.
async fn stronger_members_sessions_are_protected(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("chief@example.com", "Guarded").await;
    app.post(
        &format!("/api/v1/orgs/{org}/roles"),
        Some(&admin),
        json!({"name": "session_cop", "parent": "viewer", "permissions": ["session:read", "session:revoke"]}),
    )
    .await
    .assert_status(201);
    app.join_new(org, &admin, "cop@example.com", &["session_cop"])
        .await;
    app.join_new(org, &admin, "weak@example.com", &["viewer"])
        .await;
    app.super_admin("root@example.com").await;
    app.join(
        org,
        &admin,
        json!({"email": "root@example.com", "role": "viewer"}),
    )
    .await;
    let sid = async |token: String| {
        let me = app.get("/api/v1/auth/me", &token).await;
        let id = me.body["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (token, id)
    };
    let cop = app.login("cop@example.com", Some("guarded")).await;
    let (admin_tok, admin_sid) = sid(app.login("chief@example.com", Some("guarded")).await).await;
    let (root_tok, root_sid) = sid(app.login("root@example.com", Some("guarded")).await).await;
    let (weak_tok, weak_sid) = sid(app.login("weak@example.com", Some("guarded")).await).await;
    let revoke = async |by: &str, session: &str| {
        app.delete(&format!("/api/v1/orgs/{org}/sessions/{session}"), by)
            .await
    };

    let r = revoke(&cop, &admin_sid).await;
    r.assert_error(403, "target_protected");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("member:remove"),
        "{}",
        r.body
    );
    app.get("/api/v1/auth/me", &admin_tok)
        .await
        .assert_status(200);
    revoke(&cop, &root_sid)
        .await
        .assert_error(403, "target_protected");
    revoke(&admin, &root_sid)
        .await
        .assert_error(403, "target_protected");
    app.get("/api/v1/auth/me", &root_tok)
        .await
        .assert_status(200);
    let denied = app
        .audit_events(org, &admin, "action=session.revoked&outcome=denied")
        .await;
    assert_eq!(denied.len(), 3, "{denied:?}");

    // Someone no stronger than the cop: allowed, as is the admin over the cop.
    assert_eq!(revoke(&cop, &weak_sid).await.status.as_u16(), 204);
    app.get("/api/v1/auth/me", &weak_tok)
        .await
        .assert_error(401, "session_revoked");
    let (_, cop_sid) = sid(cop).await;
    assert_eq!(revoke(&admin, &cop_sid).await.status.as_u16(), 204);
    app.stop().await;
}

backend_tests!(
    stronger_members_sessions_are_protected,
    refresh_rotates_and_reuse_revokes_the_family,
    switch_org_supersedes_the_previous_refresh_token,
    sessions_list_revoke_and_logout,
    admins_see_and_revoke_member_sessions,
    password_change_and_reset_end_other_sessions,
);
