//! Cross-tenant access: a token for one organization never reads or
//! changes another's data.

use loki_tests::{backend_tests, json, Backend, TestApp};

async fn other_tenants_are_refused_without_data(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org_a, token_a) = app.user_with_org("a@example.com", "Tenant A").await;
    let (org_b, token_b) = app.user_with_org("b@example.com", "Tenant B").await;
    let user_b = app.get("/api/v1/auth/me", &token_b).await.body["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let probes = [
        ("GET", format!("/api/v1/orgs/{org_b}")),
        ("GET", format!("/api/v1/orgs/{org_b}/members")),
        ("GET", format!("/api/v1/orgs/{org_b}/members/{user_b}")),
        ("PATCH", format!("/api/v1/orgs/{org_b}")),
        ("DELETE", format!("/api/v1/orgs/{org_b}")),
        ("POST", format!("/api/v1/orgs/{org_b}/members")),
        ("PATCH", format!("/api/v1/orgs/{org_b}/members/{user_b}")),
        ("DELETE", format!("/api/v1/orgs/{org_b}/members/{user_b}")),
    ];
    for (method, path) in &probes {
        let body = match *method {
            "PATCH" if path.contains("members") => Some(json!({"roles": ["viewer"]})),
            "PATCH" => Some(json!({"name": "pwned"})),
            "POST" => Some(json!({"email": "a@example.com", "role": "admin"})),
            _ => None,
        };
        let r = app
            .call(method.parse().expect("method"), path, Some(&token_a), body)
            .await;
        r.assert_error(403, "wrong_organization");
        let text = r.body.to_string();
        assert!(
            !text.contains("Tenant B") && !text.contains("b@example.com"),
            "{method} {path} leaked: {text}"
        );
    }
    // Nothing changed in B.
    let b_org = app.get(&format!("/api/v1/orgs/{org_b}"), &token_b).await;
    assert_eq!(b_org.assert_status(200)["name"], "Tenant B");
    let b_members = app
        .get(&format!("/api/v1/orgs/{org_b}/members"), &token_b)
        .await;
    assert_eq!(
        b_members.assert_status(200)["members"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // B's member is not reachable through A's path either.
    app.get(&format!("/api/v1/orgs/{org_a}/members/{user_b}"), &token_a)
        .await
        .assert_error(404, "not_found");
    // A's list of organizations holds only A.
    let a_list = app.get("/api/v1/orgs", &token_a).await;
    let text = a_list.assert_status(200).to_string();
    assert!(text.contains("Tenant A") && !text.contains("Tenant B"));
    app.stop().await;
}

backend_tests!(other_tenants_are_refused_without_data);
