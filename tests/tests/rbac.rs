//! Custom roles (inheritance, cycles, deletion), role changes applying on
//! the next request, resource grants, API-key scope intersection and the
//! refused privilege escalations.

use loki_tests::{backend_tests, json, Backend, TestApp};
use uuid::Uuid;

/// An org with its admin, and a member holding `role`; returns
/// (org, admin token, member id, member token).
async fn setup(app: &TestApp, role: &str) -> (Uuid, String, String, String) {
    let (org, admin) = app.user_with_org("owner@example.com", "Acme").await;
    let member = app.register("member@example.com").await.to_string();
    app.join(org, &admin, json!({"user_id": member, "role": role}))
        .await;
    let token = app.login("member@example.com", Some("acme")).await;
    (org, admin, member, token)
}

async fn upload(app: &TestApp, org: Uuid, token: &str, name: &str, body: &str) -> String {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/orgs/{org}/documents?name={name}")))
        .bearer_auth(token)
        .header("content-type", "text/plain")
        .body(body.to_owned())
        .send()
        .await
        .expect("upload");
    TestApp::reply(r).await.assert_status(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn custom_roles_inherit_and_refuse_cycles(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin, member, token) = setup(&app, "viewer").await;
    let roles = format!("/api/v1/orgs/{org}/roles");
    let r = app
        .post(&roles, Some(&admin), json!({"name": "reviewer", "permissions": ["doc:download"], "parent": "viewer", "description": "Reads evidence"}))
        .await;
    let reviewer = r.assert_status(201).clone();
    assert_eq!(reviewer["permissions"], json!(["doc:download"]));
    assert!(reviewer["effective_permissions"]
        .as_array()
        .is_some_and(|p| p.contains(&json!("org:read"))));
    app.post(
        &roles,
        Some(&admin),
        json!({"name": "lead", "permissions": ["doc:update"], "parent": "reviewer"}),
    )
    .await
    .assert_status(201);

    // Cycles, unknown parents, reserved names and system permissions.
    app.patch(
        &format!("{roles}/reviewer"),
        &admin,
        json!({"parent": "lead"}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &roles,
        Some(&admin),
        json!({"name": "orphan", "permissions": [], "parent": "nobody"}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &roles,
        Some(&admin),
        json!({"name": "auditor", "permissions": []}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &roles,
        Some(&admin),
        json!({"name": "ops", "permissions": ["system:tiers"]}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &roles,
        Some(&admin),
        json!({"name": "ops", "permissions": ["doc:fly"]}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &roles,
        Some(&admin),
        json!({"name": "lead", "permissions": []}),
    )
    .await
    .assert_error(409, "role_exists");
    app.patch(
        &format!("{roles}/admin"),
        &admin,
        json!({"description": "x"}),
    )
    .await
    .assert_error(403, "predefined_role");

    // The member gets `lead`: inherited permissions apply.
    let doc = upload(&app, org, &admin, "policy.txt", "access policy").await;
    app.get(
        &format!("/api/v1/orgs/{org}/documents/{doc}/content"),
        &token,
    )
    .await
    .assert_error(403, "permission_denied");
    app.patch(
        &format!("/api/v1/orgs/{org}/members/{member}"),
        &admin,
        json!({"roles": ["lead"]}),
    )
    .await
    .assert_status(200);
    let content = app
        .get(
            &format!("/api/v1/orgs/{org}/documents/{doc}/content"),
            &token,
        )
        .await;
    assert_eq!(content.assert_status(200), "access policy", "from reviewer");
    app.patch(
        &format!("/api/v1/orgs/{org}/documents/{doc}"),
        &token,
        json!({"name": "v2.txt"}),
    )
    .await
    .assert_status(200);
    app.get(&format!("/api/v1/orgs/{org}"), &token)
        .await
        .assert_status(200);
    let denied = app
        .delete(&format!("/api/v1/orgs/{org}/documents/{doc}"), &token)
        .await;
    denied.assert_error(403, "permission_denied");
    assert_eq!(denied.body["error"]["permission"], "doc:delete");

    // Deleting: not while inherited from, not while held unless reassigned.
    app.delete(&format!("{roles}/reviewer"), &admin)
        .await
        .assert_error(409, "role_has_children");
    app.delete(&format!("{roles}/lead"), &admin)
        .await
        .assert_error(409, "role_in_use");
    let r = app
        .delete(&format!("{roles}/lead?reassign_to=viewer"), &admin)
        .await;
    assert_eq!(r.status.as_u16(), 204);
    let m = app
        .get(&format!("/api/v1/orgs/{org}/members/{member}"), &admin)
        .await;
    assert_eq!(m.assert_status(200)["roles"], json!(["viewer"]));
    app.get(
        &format!("/api/v1/orgs/{org}/documents/{doc}/content"),
        &token,
    )
    .await
    .assert_error(403, "permission_denied");
    app.get(&format!("{roles}/lead"), &admin)
        .await
        .assert_error(404, "not_found");
    app.stop().await;
}

async fn role_changes_apply_on_the_next_request(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin, member, token) = setup(&app, "viewer").await;
    app.post(
        &format!("/api/v1/orgs/{org}/roles"),
        Some(&admin),
        json!({"name": "clerk", "permissions": ["org:read"]}),
    )
    .await
    .assert_status(201);
    app.patch(
        &format!("/api/v1/orgs/{org}/members/{member}"),
        &admin,
        json!({"roles": ["clerk"]}),
    )
    .await
    .assert_status(200);
    let docs = format!("/api/v1/orgs/{org}/documents");
    app.get(&docs, &token)
        .await
        .assert_error(403, "permission_denied");
    app.patch(
        &format!("/api/v1/orgs/{org}/roles/clerk"),
        &admin,
        json!({"permissions": ["org:read", "doc:read"]}),
    )
    .await
    .assert_status(200);
    app.get(&docs, &token).await.assert_status(200);
    app.patch(
        &format!("/api/v1/orgs/{org}/roles/clerk"),
        &admin,
        json!({"permissions": ["org:read"]}),
    )
    .await
    .assert_status(200);
    app.get(&docs, &token)
        .await
        .assert_error(403, "permission_denied");
    app.stop().await;
}

async fn resource_grants(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin, member, token) = setup(&app, "viewer").await;
    let x = upload(&app, org, &admin, "x.txt", "document x").await;
    let y = upload(&app, org, &admin, "y.txt", "document y").await;
    let content = |d: &str| format!("/api/v1/orgs/{org}/documents/{d}/content");
    app.get(&content(&x), &token)
        .await
        .assert_error(403, "permission_denied");

    let grants = format!("/api/v1/orgs/{org}/grants");
    let r = app
        .post(&grants, Some(&admin), json!({"resource_type": "document", "resource_id": x, "subject_type": "user", "subject": member, "permission": "doc:download"}))
        .await;
    let grant = r.assert_status(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        app.get(&content(&x), &token).await.assert_status(200),
        "document x"
    );
    app.get(&content(&y), &token)
        .await
        .assert_error(403, "permission_denied");
    app.post(&grants, Some(&admin), json!({"resource_type": "document", "resource_id": x, "subject_type": "user", "subject": member, "permission": "doc:download"}))
        .await
        .assert_error(409, "grant_exists");

    // Grants to a role reach its holders.
    app.post(&grants, Some(&admin), json!({"resource_type": "document", "resource_id": y, "subject_type": "role", "subject": "viewer", "permission": "doc:delete"}))
        .await
        .assert_status(201);
    let listed = app
        .get(
            &format!("{grants}?resource_type=document&resource_id={y}"),
            &admin,
        )
        .await;
    assert_eq!(
        listed.assert_status(200)["grants"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        app.delete(&format!("/api/v1/orgs/{org}/documents/{y}"), &token)
            .await
            .status
            .as_u16(),
        204
    );

    // Revoked: refused again.
    assert_eq!(
        app.delete(&format!("{grants}/{grant}"), &admin)
            .await
            .status
            .as_u16(),
        204
    );
    app.get(&content(&x), &token)
        .await
        .assert_error(403, "permission_denied");

    // Bad grants.
    for bad in [
        json!({"resource_type": "folder", "resource_id": x, "subject_type": "user", "subject": member, "permission": "doc:read"}),
        json!({"resource_type": "document", "resource_id": x, "subject_type": "user", "subject": member, "permission": "org:update"}),
        json!({"resource_type": "document", "resource_id": x, "subject_type": "user", "subject": "not-a-user", "permission": "doc:read"}),
        json!({"resource_type": "document", "resource_id": x, "subject_type": "role", "subject": "nobody", "permission": "doc:read"}),
    ] {
        app.post(&grants, Some(&admin), bad)
            .await
            .assert_error(422, "validation_failed");
    }
    app.post(&grants, Some(&admin), json!({"resource_type": "document", "resource_id": Uuid::now_v7(), "subject_type": "user", "subject": member, "permission": "doc:read"}))
        .await
        .assert_error(404, "not_found");
    app.stop().await;
}

async fn escalation_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin, member, token) = setup(&app, "viewer").await;
    let roles = format!("/api/v1/orgs/{org}/roles");
    app.post(&roles, Some(&admin), json!({"name": "manager", "permissions": ["role:assign", "role:create", "member:read", "grant:create", "apikey:create", "doc:read"]}))
        .await
        .assert_status(201);
    app.patch(
        &format!("/api/v1/orgs/{org}/members/{member}"),
        &admin,
        json!({"roles": ["manager"]}),
    )
    .await
    .assert_status(200);
    let other = app.register("other@example.com").await.to_string();
    app.join(org, &admin, json!({"user_id": other, "role": "viewer"}))
        .await;

    // Assigning a stronger role, to someone else or to oneself.
    for (who, role) in [
        (&other, "admin"),
        (&member, "admin"),
        (&other, "compliance_officer"),
    ] {
        let r = app
            .post(
                &format!("/api/v1/orgs/{org}/members/{who}/roles"),
                Some(&token),
                json!({"role": role}),
            )
            .await;
        r.assert_error(403, "privilege_escalation");
    }
    // An equal role is fine.
    app.post(
        &format!("/api/v1/orgs/{org}/members/{other}/roles"),
        Some(&token),
        json!({"role": "manager"}),
    )
    .await
    .assert_status(200);
    // Creating a role stronger than oneself, directly or through a parent.
    app.post(
        &roles,
        Some(&token),
        json!({"name": "boss", "permissions": ["doc:delete"]}),
    )
    .await
    .assert_error(403, "privilege_escalation");
    app.post(
        &roles,
        Some(&token),
        json!({"name": "boss", "permissions": [], "parent": "admin"}),
    )
    .await
    .assert_error(403, "privilege_escalation");
    // Granting what one does not hold.
    let doc = upload(&app, org, &admin, "d.txt", "d").await;
    app.post(&format!("/api/v1/orgs/{org}/grants"), Some(&token), json!({"resource_type": "document", "resource_id": doc, "subject_type": "user", "subject": other, "permission": "doc:delete"}))
        .await
        .assert_error(403, "privilege_escalation");
    // Not even an admin puts system permissions into a role (validation),
    // and a super admin's role is not assignable from an org.
    app.post(
        &roles,
        Some(&admin),
        json!({"name": "tiers", "permissions": ["system:tiers"]}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &format!("/api/v1/orgs/{org}/members/{other}/roles"),
        Some(&admin),
        json!({"role": "super_admin"}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.stop().await;
}

async fn api_keys_are_cut_to_their_scopes_and_their_creator(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("owner@example.com", "Keys").await;
    let root = app.super_admin("root@example.com").await;
    app.put(
        &format!("/api/v1/orgs/{org}/tier"),
        &root,
        json!({"tier": "starter"}),
    )
    .await
    .assert_status(200);
    let creator = app.register("dev@example.com").await.to_string();
    app.join(org, &admin, json!({"user_id": creator, "role": "admin"}))
        .await;
    let dev = app.login("dev@example.com", Some("keys")).await;
    let keys = format!("/api/v1/orgs/{org}/api-keys");
    let r = app
        .post(
            &keys,
            Some(&dev),
            json!({"name": "ci", "scopes": ["doc:read", "doc:delete", "org:read"]}),
        )
        .await;
    let key = r.assert_status(201)["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let docs = format!("/api/v1/orgs/{org}/documents");
    app.get(&docs, &key).await.assert_status(200);
    // Out of scope although the creator may.
    app.get(&format!("/api/v1/orgs/{org}/members"), &key)
        .await
        .assert_error(403, "permission_denied");
    // The creator is demoted: the key shrinks with them.
    let d1 = upload(&app, org, &admin, "one.txt", "1").await;
    app.patch(
        &format!("/api/v1/orgs/{org}/members/{creator}"),
        &admin,
        json!({"roles": ["viewer"]}),
    )
    .await
    .assert_status(200);
    app.get(&docs, &key).await.assert_status(200);
    let r = app.delete(&format!("{docs}/{d1}"), &key).await;
    r.assert_error(403, "permission_denied");
    assert_eq!(r.body["error"]["permission"], "doc:delete");
    // A member cannot mint a key with more than they hold.
    app.post(
        &format!("/api/v1/orgs/{org}/roles"),
        Some(&admin),
        json!({"name": "integrator", "permissions": ["apikey:create", "org:read"]}),
    )
    .await
    .assert_status(201);
    app.patch(
        &format!("/api/v1/orgs/{org}/members/{creator}"),
        &admin,
        json!({"roles": ["integrator"]}),
    )
    .await
    .assert_status(200);
    app.post(
        &keys,
        Some(&dev),
        json!({"name": "wide", "scopes": ["doc:delete"]}),
    )
    .await
    .assert_error(403, "privilege_escalation");
    app.post(
        &keys,
        Some(&dev),
        json!({"name": "narrow", "scopes": ["org:read"]}),
    )
    .await
    .assert_status(201);
    app.stop().await;
}

backend_tests!(
    custom_roles_inherit_and_refuse_cycles,
    role_changes_apply_on_the_next_request,
    resource_grants,
    escalation_is_refused,
    api_keys_are_cut_to_their_scopes_and_their_creator,
);
