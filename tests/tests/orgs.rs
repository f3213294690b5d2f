//! Organizations: create, get, list, update, tiers, soft and hard delete.

use loki_tests::{backend_tests, json, Backend, TestApp};

async fn create_get_list_update(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("owner@example.com").await;
    let token = app.login("owner@example.com", None).await;

    let r = app
        .post(
            "/api/v1/orgs",
            Some(&token),
            json!({"name": "  Acme Corp. "}),
        )
        .await;
    let org = r.assert_status(201).clone();
    assert_eq!(org["slug"], "acme-corp");
    assert_eq!(org["name"], "Acme Corp.");
    assert_eq!(org["tier"], "free");
    assert_eq!(org["status"], "active");
    assert_eq!(org["settings"]["audit_retention_days"], 365);
    let id = org["id"].as_str().unwrap_or_default().to_owned();

    // A derived slug that is taken gets a suffix; a chosen one is refused.
    let again = app
        .post("/api/v1/orgs", Some(&token), json!({"name": "Acme Corp"}))
        .await;
    let slug2 = again.assert_status(201)["slug"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        slug2.starts_with("acme-corp-") && slug2 != "acme-corp",
        "{slug2}"
    );
    app.post(
        "/api/v1/orgs",
        Some(&token),
        json!({"name": "Other", "slug": "acme-corp"}),
    )
    .await
    .assert_error(409, "slug_taken");
    let chosen = app
        .post(
            "/api/v1/orgs",
            Some(&token),
            json!({"name": "Other", "slug": "my-own"}),
        )
        .await;
    assert_eq!(chosen.assert_status(201)["slug"], "my-own");

    let list = app.get("/api/v1/orgs", &token).await;
    let orgs = list.assert_status(200)["organizations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(orgs.len(), 3);
    assert!(
        orgs.iter().all(|o| o["roles"] == json!(["admin"])),
        "creator is admin: {orgs:?}"
    );

    // Org endpoints need a token scoped to the org.
    app.get(&format!("/api/v1/orgs/{id}"), &token)
        .await
        .assert_error(403, "wrong_organization");
    let scoped = app.login("owner@example.com", Some("acme-corp")).await;
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{id}"), &scoped)
            .await
            .assert_status(200)["id"],
        id.as_str()
    );

    let r = app
        .patch(
            &format!("/api/v1/orgs/{id}"),
            &scoped,
            json!({"name": "Acme Corporation", "slug": "acme", "settings": {"audit_retention_days": 730, "require_mfa_for_admins": false}}),
        )
        .await;
    let updated = r.assert_status(200);
    assert_eq!(updated["name"], "Acme Corporation");
    assert_eq!(updated["slug"], "acme");
    assert_eq!(updated["settings"]["audit_retention_days"], 730);
    assert_eq!(updated["settings"]["require_mfa_for_admins"], false);
    app.patch(
        &format!("/api/v1/orgs/{id}"),
        &scoped,
        json!({"slug": "my-own"}),
    )
    .await
    .assert_error(409, "slug_taken");
    app.patch(&format!("/api/v1/orgs/{id}"), &scoped, json!({}))
        .await
        .assert_error(422, "validation_failed");
    app.patch(
        &format!("/api/v1/orgs/{id}"),
        &scoped,
        json!({"settings": {"audit_retention_days": 0}}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.stop().await;
}

async fn only_admins_change_and_only_super_admins_set_tiers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("admin@example.com", "Tiered").await;
    app.register("viewer@example.com").await;
    app.join(
        org,
        &admin,
        json!({"email": "viewer@example.com", "role": "viewer"}),
    )
    .await;
    let viewer = app.login("viewer@example.com", Some("tiered")).await;
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{org}"), &viewer)
            .await
            .assert_status(200)["slug"],
        "tiered"
    );
    app.patch(
        &format!("/api/v1/orgs/{org}"),
        &viewer,
        json!({"name": "Mine now"}),
    )
    .await
    .assert_error(403, "permission_denied");
    app.delete(&format!("/api/v1/orgs/{org}"), &viewer)
        .await
        .assert_error(403, "permission_denied");

    app.put(
        &format!("/api/v1/orgs/{org}/tier"),
        &admin,
        json!({"tier": "enterprise"}),
    )
    .await
    .assert_error(403, "permission_denied");
    let root = app.super_admin("root@example.com").await;
    let r = app
        .put(
            &format!("/api/v1/orgs/{org}/tier"),
            &root,
            json!({"tier": "professional"}),
        )
        .await;
    assert_eq!(r.assert_status(200)["tier"], "professional");
    app.put(
        &format!("/api/v1/orgs/{org}/tier"),
        &root,
        json!({"tier": "gold"}),
    )
    .await
    .assert_error(400, "invalid_body");
    app.stop().await;
}

async fn soft_and_hard_delete(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("del@example.com", "Doomed").await;
    app.delete(&format!("/api/v1/orgs/{org}?hard=true"), &admin)
        .await
        .assert_error(403, "permission_denied");
    let r = app.delete(&format!("/api/v1/orgs/{org}"), &admin).await;
    assert_eq!(r.status.as_u16(), 204);
    app.get(&format!("/api/v1/orgs/{org}"), &admin)
        .await
        .assert_error(404, "not_found");
    let unscoped = app.login("del@example.com", None).await;
    let list = app.get("/api/v1/orgs", &unscoped).await;
    assert_eq!(
        list.assert_status(200)["organizations"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // The slug of a soft-deleted organization stays reserved.
    app.post(
        "/api/v1/orgs",
        Some(&unscoped),
        json!({"name": "x", "slug": "doomed"}),
    )
    .await
    .assert_error(409, "slug_taken");

    let root = app.super_admin("root@example.com").await;
    let r = app
        .delete(&format!("/api/v1/orgs/{org}?hard=true"), &root)
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert!(
        app.state
            .store
            .org_by_id(org)
            .await
            .expect("store")
            .is_none(),
        "row is gone"
    );
    app.delete(&format!("/api/v1/orgs/{org}?hard=true"), &root)
        .await
        .assert_error(404, "not_found");
    // Now the slug is free again.
    app.post(
        "/api/v1/orgs",
        Some(&unscoped),
        json!({"name": "x", "slug": "doomed"}),
    )
    .await
    .assert_status(201);
    app.delete(&format!("/api/v1/orgs/{org}?hard=yes"), &root)
        .await
        .assert_error(400, "invalid_query");
    app.stop().await;
}

backend_tests!(
    create_get_list_update,
    only_admins_change_and_only_super_admins_set_tiers,
    soft_and_hard_delete,
);
