//! Control characters in any string (path, query, JSON) are refused with
//! 422 naming the parameter — once a 500 on PostgreSQL and a match-all on
//! SQLite. Emails are normalised; look-alike tricks are refused.

use loki_tests::{backend_tests, json, Backend, TestApp};

async fn control_characters_are_refused_everywhere(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("nul@example.com", "Nul").await;
    // Query: an audit filter with NUL.
    for q in ["action=org.created%00", "action_prefix=%00", "actor=%01x"] {
        let r = app
            .get(&format!("/api/v1/orgs/{org}/audit/events?{q}"), &admin)
            .await;
        r.assert_error(422, "validation_failed");
        let field = q.split('=').next().unwrap_or_default();
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with(field),
            "names `{field}`: {}",
            r.body
        );
    }
    // Path: a role name with NUL.
    app.get(&format!("/api/v1/orgs/{org}/roles/aud%00itor"), &admin)
        .await
        .assert_error(422, "validation_failed");
    // JSON: NUL and ESC in strings, also nested.
    let r = app
        .patch(
            &format!("/api/v1/orgs/{org}"),
            &admin,
            json!({"name": "evil\u{0}name"}),
        )
        .await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("name"));
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&admin),
            json!({"email": "x@example.com", "roles": ["viewer", "\u{1b}[31m"]}),
        )
        .await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("roles[1]"));
    // The organization is unchanged and the daemon fine.
    let o = app.get(&format!("/api/v1/orgs/{org}"), &admin).await;
    assert_eq!(o.assert_status(200)["name"], "Nul");
    app.stop().await;
}

async fn emails_are_normalised_and_lookalikes_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    // Fullwidth letters normalise (NFKC) to the same account.
    app.register("ｆｕｌｌ@example.com").await;
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "FULL@example.com", "password": loki_tests::PASSWORD}),
        )
        .await;
    r.assert_error(409, "email_taken");
    for email in [
        "ad\u{200B}min@example.com",
        "admin\u{202E}@example.com",
        "\u{FEFF}admin@example.com",
    ] {
        app.post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": loki_tests::PASSWORD}),
        )
        .await
        .assert_error(422, "validation_failed");
    }
    let token = app.login("full@example.com", None).await;
    app.post(
        "/api/v1/orgs",
        Some(&token),
        json!({"name": "nimda\u{202E}"}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.stop().await;
}

backend_tests!(
    control_characters_are_refused_everywhere,
    emails_are_normalised_and_lookalikes_refused,
);
