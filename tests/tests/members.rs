//! Memberships: add, list, change role, remove, and the tier's member limit.

use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};
use serde_json::Value;

async fn add_list_change_remove(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("boss@example.com", "Team").await;
    let worker = app.register("worker@example.com").await;
    let path = format!("/api/v1/orgs/{org}/members");

    // Adding an account invites it: nothing changes until it accepts.
    let r = app
        .post(
            &path,
            Some(&admin),
            json!({"email": "Worker@Example.com", "role": "auditor"}),
        )
        .await;
    let invitation = r.assert_status(202)["invitation"].clone();
    assert_eq!(invitation["email"], "worker@example.com");
    assert_eq!(invitation["roles"], json!(["auditor"]));
    assert_eq!(invitation["status"], "pending");
    let listed = app.get(&path, &admin).await;
    assert_eq!(
        listed.assert_status(200)["members"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "an invitation is not a membership"
    );
    app.post(
        &path,
        Some(&admin),
        json!({"user_id": worker, "role": "viewer"}),
    )
    .await
    .assert_error(409, "already_invited");
    app.post(
        &path,
        Some(&admin),
        json!({"user_id": uuid::Uuid::now_v7(), "role": "viewer"}),
    )
    .await
    .assert_error(404, "not_found");
    app.post(
        &path,
        Some(&admin),
        json!({"email": "worker@example.com", "role": "overlord"}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &path,
        Some(&admin),
        json!({"email": "worker@example.com", "user_id": worker, "role": "viewer"}),
    )
    .await
    .assert_error(422, "validation_failed");
    let wt = app.login("worker@example.com", None).await;
    let m = app
        .accept_invitation(&wt, invitation["id"].as_str().unwrap_or_default())
        .await;
    let m = m.assert_status(200);
    assert_eq!(m["user_id"], worker.to_string());
    assert_eq!(m["roles"], json!(["auditor"]));
    app.post(
        &path,
        Some(&admin),
        json!({"user_id": worker, "role": "viewer"}),
    )
    .await
    .assert_error(409, "already_member");

    let list = app.get(&path, &admin).await;
    let members = list.assert_status(200)["members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let emails: Vec<_> = members.iter().filter_map(|m| m["email"].as_str()).collect();
    assert_eq!(emails, ["boss@example.com", "worker@example.com"]);

    let one = format!("{path}/{worker}");
    let r = app
        .patch(&one, &admin, json!({"roles": ["compliance_officer"]}))
        .await;
    assert_eq!(r.assert_status(200)["roles"], json!(["compliance_officer"]));
    assert_eq!(
        app.get(&one, &admin).await.assert_status(200)["roles"][0],
        "compliance_officer"
    );

    // The worker sees the org in their list, with their role.
    let wt = app.login("worker@example.com", None).await;
    let mine = app.get("/api/v1/orgs", &wt).await;
    assert_eq!(
        mine.assert_status(200)["organizations"][0]["roles"][0],
        "compliance_officer"
    );
    // ...but cannot manage members.
    let wt = app
        .login("worker@example.com", Some(&org.to_string()))
        .await;
    app.delete(&one, &wt)
        .await
        .assert_error(403, "permission_denied");

    let own = app
        .post("/api/v1/orgs", Some(&wt), json!({"name": "Worker's own"}))
        .await;
    let own = own.assert_status(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let wt_own = app.login("worker@example.com", Some(&own)).await;
    let r = app.delete(&one, &admin).await;
    assert_eq!(r.status.as_u16(), 204);
    app.get(&one, &admin).await.assert_error(404, "not_found");
    app.delete(&one, &admin)
        .await
        .assert_error(404, "not_found");
    // Removal ended the member's sessions in this organization (audited),
    // and only those: a session in an organization of their own stays.
    app.get(&format!("/api/v1/orgs/{org}"), &wt)
        .await
        .assert_error(401, "session_revoked");
    app.get("/api/v1/auth/me", &wt_own).await.assert_status(200);
    // ...and cannot switch back into the organization it left.
    app.post(
        "/api/v1/auth/switch-org",
        Some(&wt_own),
        json!({"org": org.to_string()}),
    )
    .await
    .assert_error(403, "not_a_member");
    let events = app
        .get(
            &format!("/api/v1/orgs/{org}/audit/events?action=session.revoked"),
            &admin,
        )
        .await;
    let events = events.assert_status(200)["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["metadata"]["reason"], "member_removed");
    assert_eq!(events[0]["metadata"]["user_id"], worker.to_string());
    app.stop().await;
}

async fn the_last_admin_stays(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("solo@example.com", "Solo").await;
    let me = app.get("/api/v1/auth/me", &admin).await.assert_status(200)["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let one = format!("/api/v1/orgs/{org}/members/{me}");
    app.patch(&one, &admin, json!({"roles": ["viewer"]}))
        .await
        .assert_error(409, "last_admin");
    app.delete(&one, &admin)
        .await
        .assert_error(409, "last_admin");
    app.stop().await;
}

async fn member_limit_follows_the_tier(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("limits@example.com", "Limits").await;
    let path = format!("/api/v1/orgs/{org}/members");
    // Free tier: 10 members, the creator is the first. Register 11 more.
    let mut users = Vec::new();
    for i in 0..11 {
        users.push(app.register(&format!("u{i}@example.com")).await);
    }
    for u in &users[..7] {
        app.join(org, &admin, json!({"user_id": u, "role": "viewer"}))
            .await;
    }
    // 8 members now; 4 invitees accept at once, racing for the last 2 places.
    let mut pending = Vec::new();
    for (i, u) in users[7..11].iter().enumerate() {
        let r = app
            .post(&path, Some(&admin), json!({"user_id": u, "role": "viewer"}))
            .await;
        let id = r.assert_status(202)["invitation"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let token = app.login(&format!("u{}@example.com", i + 7), None).await;
        pending.push((token, id));
    }
    let racers = pending
        .iter()
        .map(|(token, id)| app.accept_invitation(token, id));
    let results = futures_util::future::join_all(racers).await;
    let ok = results.iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(ok, 2, "exactly the free places are filled: {results:?}");
    for r in results.iter().filter(|r| r.status.as_u16() != 200) {
        r.assert_error(402, "tier_limit_exceeded");
    }
    let list = app.get(&path, &admin).await;
    assert_eq!(
        list.assert_status(200)["members"].as_array().map(Vec::len),
        Some(10)
    );

    // A super admin upgrades the tier; the limit moves with it.
    let root = app.super_admin("root@example.com").await;
    app.put(
        &format!("/api/v1/orgs/{org}/tier"),
        &root,
        json!({"tier": "starter"}),
    )
    .await
    .assert_status(200);
    // The refused invitations are still pending: accepted now, they fit.
    for ((token, id), r) in pending.iter().zip(&results) {
        if r.status.as_u16() != 200 {
            app.accept_invitation(token, id).await.assert_status(200);
        }
    }
    app.stop().await;
}

/// An invitation past its expiry cannot be accepted, by the invitee or with
/// its token; its state is told only to its addressee; the organization can
/// invite the same email again.
async fn invitations_expire(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("expiry@example.com", "Expiry").await;
    let invitee = app.register("late@example.com").await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            Some(&admin),
            json!({"user_id": invitee, "role": "viewer"}),
        )
        .await;
    let existing = r.assert_status(202)["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&admin),
            json!({"email": "new@example.com", "roles": ["viewer"]}),
        )
        .await;
    let created = r.assert_status(201).clone();
    let fresh = created["invitation"]["id"].as_str().unwrap_or_default();
    app.env.expire_invitation(&existing).await;
    app.env.expire_invitation(fresh).await;

    let late = app.login("late@example.com", None).await;
    let mine = app.get("/api/v1/invitations", &late).await;
    assert_eq!(
        mine.assert_status(200)["invitations"][0]["status"],
        "expired"
    );
    app.accept_invitation(&late, &existing)
        .await
        .assert_error(409, "invitation_expired");
    let accept_path = format!("/api/v1/invitations/{fresh}/accept");
    let accept_new = |token: Value| {
        app.post(
            &accept_path,
            None,
            json!({"token": token, "password": PASSWORD}),
        )
    };
    accept_new(created["accept_token"].clone())
        .await
        .assert_error(409, "invitation_expired");
    // Without proof it is theirs, nobody learns the invitation's state.
    accept_new(json!("lki_wrong"))
        .await
        .assert_error(401, "invalid_invitation_token");
    let stranger = app.login("expiry@example.com", None).await;
    app.accept_invitation(&stranger, &existing)
        .await
        .assert_error(404, "not_found");
    let members = app
        .get(&format!("/api/v1/orgs/{org}/members"), &admin)
        .await;
    assert_eq!(
        members.assert_status(200)["members"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A new invitation to the same email replaces the expired one.
    let again = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&admin),
            json!({"email": "late@example.com", "roles": ["viewer"]}),
        )
        .await;
    let again = again.assert_status(201)["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.accept_invitation(&late, &again)
        .await
        .assert_status(200);
    let list = app
        .get(&format!("/api/v1/orgs/{org}/invitations"), &admin)
        .await;
    let statuses: Vec<(String, String)> = list.assert_status(200)["invitations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["id"].as_str().unwrap_or_default().to_owned(),
                i["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(existing.clone(), "expired".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(again, "accepted".into())),
        "{statuses:?}"
    );
    app.stop().await;
}

backend_tests!(
    add_list_change_remove,
    the_last_admin_stays,
    member_limit_follows_the_tier,
    invitations_expire
);
