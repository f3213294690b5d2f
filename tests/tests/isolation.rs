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

/// Every organization operation of the OpenAPI document (generated from
/// the routes the daemon serves, so a new route is swept without editing
/// this test), called by tenant A on tenant B: never a success, never a 5xx,
/// never B's data in the answer; and B is unchanged afterwards.
async fn every_documented_operation_refuses_another_tenant(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_org_a, token_a) = app.user_with_org("sweep-a@example.com", "Sweep A").await;
    let (org_b, token_b) = app.user_with_org("sweep-b@example.com", "Sweep B").await;
    let mut swept = 0;
    for (method, template) in loki_tests::documented_operations("/api/v1/orgs/{org_id}") {
        // Other path parameters: ids that exist nowhere, role names as text.
        let path: String = template
            .split('/')
            .map(|seg| match seg {
                "{org_id}" => org_b.to_string(),
                "{role}" | "{name}" => "viewer".to_owned(),
                s if s.starts_with('{') => uuid::Uuid::new_v4().to_string(),
                s => s.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        swept += 1;
        let body = matches!(method, "POST" | "PUT" | "PATCH").then(|| json!({}));
        let r = app
            .call(method.parse().expect("method"), &path, Some(&token_a), body)
            .await;
        let status = r.status.as_u16();
        // Refused at admission (403), or before it for a body that is
        // not even well-formed (400/415/422): either way B is never read.
        assert!(
            matches!(status, 400 | 403 | 415 | 422),
            "{method} {template}: {status} {}",
            r.body
        );
        if status == 403 {
            assert_eq!(r.code(), "wrong_organization", "{method} {template}");
        }
        let text = r.body.to_string();
        assert!(
            !text.contains("Sweep B") && !text.contains("sweep-b@example.com"),
            "{method} {template} leaked: {text}"
        );
    }
    assert!(swept > 30, "swept {swept} operations");
    let b_org = app.get(&format!("/api/v1/orgs/{org_b}"), &token_b).await;
    assert_eq!(b_org.assert_status(200)["name"], "Sweep B");
    let members = app
        .get(&format!("/api/v1/orgs/{org_b}/members"), &token_b)
        .await;
    assert_eq!(
        members.assert_status(200)["members"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let verified = app
        .get(&format!("/api/v1/orgs/{org_b}/audit/verify"), &token_b)
        .await;
    assert_eq!(verified.assert_status(200)["ok"], true);
    app.stop().await;
}

backend_tests!(
    other_tenants_are_refused_without_data,
    every_documented_operation_refuses_another_tenant
);
