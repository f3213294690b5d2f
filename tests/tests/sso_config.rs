//! Identity providers as configuration (issue #16, part one): presets,
//! validation, the sealed client secret, the audit trail, and the refusals
//! from an attacker's side (other organizations, weaker members, escalation
//! through a role mapping).

use loki_tests::{backend_tests, json, Backend, TestApp};
use uuid::Uuid;

const SECRET: &str = "client-secret-value-7f3a";

fn saml_metadata(cert: bool) -> String {
    let key = if cert {
        "<KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>MIIBszCCAVmgAwIBAgIU</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>"
    } else {
        ""
    };
    format!(
        "<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp.example.com\">\
         <IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{key}\
         <SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example.com/sso\"/>\
         </IDPSSODescriptor></EntityDescriptor>"
    )
}

async fn admin_with_org(app: &TestApp) -> (Uuid, String) {
    app.user_with_org("owner@acme.example", "Acme").await
}

async fn configure_and_read_back(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = admin_with_org(&app).await;
    let base = format!("/api/v1/orgs/{org}/identity-providers");
    let r = app
        .post(
            &base,
            Some(&admin),
            json!({
                "name": "Okta", "kind": "oidc", "issuer": "https://acme.okta.example/",
                "client_id": "loki", "client_secret": SECRET,
                "allowed_domains": ["Acme.example", "@corp.acme.example"],
                "role_mapping": [{"claim": "groups", "value": "auditors", "role": "auditor"}],
                "jit_provisioning": true, "default_role": "viewer"
            }),
        )
        .await;
    let created = r.assert_status(201).clone();
    assert_eq!(created["issuer"], json!("https://acme.okta.example"));
    assert_eq!(created["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(
        created["allowed_domains"],
        json!(["acme.example", "corp.acme.example"])
    );
    assert_eq!(created["has_client_secret"], json!(true));
    let id = created["id"].as_str().expect("id").to_owned();
    // The secret is never in a response…
    let list = app.get(&base, &admin).await;
    let one = app.get(&format!("{base}/{id}"), &admin).await;
    for body in [&created, list.assert_status(200), one.assert_status(200)] {
        assert!(
            !body.to_string().contains(SECRET),
            "secret in a response: {body}"
        );
    }
    assert_eq!(
        list.body["identity_providers"].as_array().map(Vec::len),
        Some(1)
    );
    // …nor stored in clear, and it opens only as this provider's.
    let rows = app.state.store.idps(org).await.expect("rows");
    let sealed = rows[0].client_secret.clone().expect("sealed");
    assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    let id: Uuid = id.parse().expect("uuid");
    assert_eq!(
        app.state
            .idps
            .client_secret(org, id)
            .await
            .expect("open")
            .as_deref(),
        Some(SECRET)
    );

    // Presets fill in the issuer and kind.
    let google = app
        .post(
            &base,
            Some(&admin),
            json!({"name": "Google", "preset": "google", "client_id": "g"}),
        )
        .await;
    assert_eq!(
        google.assert_status(201)["issuer"],
        json!("https://accounts.google.com")
    );
    let ms = app
        .post(&base, Some(&admin), json!({"name": "Entra", "preset": "microsoft", "tenant": "acme.onmicrosoft.com", "client_id": "m", "client_secret": "x"}))
        .await;
    assert_eq!(
        ms.assert_status(201)["issuer"],
        json!("https://login.microsoftonline.com/acme.onmicrosoft.com/v2.0")
    );
    let gh = app
        .post(
            &base,
            Some(&admin),
            json!({"name": "GitHub", "preset": "github", "client_id": "h", "client_secret": "y"}),
        )
        .await;
    let gh = gh.assert_status(201).clone();
    assert_eq!(gh["kind"], json!("github"));
    assert_eq!(gh["scopes"], json!(["read:user", "user:email"]));
    let saml = app
        .post(
            &base,
            Some(&admin),
            json!({"name": "ADFS", "kind": "saml", "metadata_xml": saml_metadata(true)}),
        )
        .await;
    assert_eq!(saml.assert_status(201)["kind"], json!("saml"));

    // The same name twice is a conflict.
    app.post(
        &base,
        Some(&admin),
        json!({"name": "Okta", "preset": "google", "client_id": "g"}),
    )
    .await
    .assert_error(409, "identity_provider_exists");

    // Configuration changes are on the organization's chain, without the secret.
    let events = app.audit_events(org, &admin, "action_prefix=sso.").await;
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(events.iter().all(|e| !e.to_string().contains(SECRET)));
    app.delete(&format!("{base}/{id}"), &admin)
        .await
        .assert_status(204);
    app.get(&format!("{base}/{id}"), &admin)
        .await
        .assert_error(404, "not_found");
    let deleted = app
        .audit_events(org, &admin, "action=sso.provider_deleted")
        .await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["resource_id"], json!(id.to_string()));
}

async fn bad_configurations_are_named(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = admin_with_org(&app).await;
    let base = format!("/api/v1/orgs/{org}/identity-providers");
    let cases = [
        (
            json!({"name": "x", "kind": "oidc", "issuer": "http://idp.example.com", "client_id": "a"}),
            "issuer",
        ),
        (
            json!({"name": "x", "kind": "oidc", "client_id": "a"}),
            "issuer",
        ),
        (
            json!({"name": "x", "kind": "oidc", "issuer": "https://i.example", "client_id": "a", "scopes": ["email"]}),
            "scopes",
        ),
        (
            json!({"name": "x", "preset": "microsoft", "client_id": "a"}),
            "tenant",
        ),
        (
            json!({"name": "x", "preset": "github", "client_id": "a"}),
            "client_secret",
        ),
        (json!({"name": "x", "preset": "google"}), "client_id"),
        (json!({"name": "x", "kind": "saml"}), "metadata_url"),
        (
            json!({"name": "x", "kind": "saml", "metadata_xml": saml_metadata(false)}),
            "metadata_xml",
        ),
        (
            json!({"name": "x", "kind": "saml", "metadata_url": "ftp://idp.example.com/m"}),
            "metadata_url",
        ),
        (
            json!({"name": "x", "preset": "google", "client_id": "a", "jit_provisioning": true}),
            "jit_provisioning",
        ),
        (
            json!({"name": "x", "preset": "google", "client_id": "a", "allowed_domains": ["not a domain"]}),
            "allowed_domains",
        ),
        (
            json!({"name": "x", "preset": "google", "client_id": "a", "role_mapping": [{"claim": "g", "value": "v", "role": "no_such_role"}]}),
            "role_mapping",
        ),
        (
            json!({"name": "", "preset": "google", "client_id": "a"}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(&base, Some(&admin), body.clone()).await;
        r.assert_error(422, "validation_failed");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(field)),
            "{body}: {}",
            r.body
        );
    }
    app.post(
        &base,
        Some(&admin),
        json!({"name": "x", "kind": "oidc", "surprise": 1}),
    )
    .await
    .assert_error(400, "unknown_field");
    // An http issuer is accepted only on this machine (a provider run for tests).
    app.post(&base, Some(&admin), json!({"name": "local", "kind": "oidc", "issuer": "http://127.0.0.1:9999", "client_id": "a"}))
        .await
        .assert_status(201);
}

async fn attackers_cannot_read_change_or_escalate(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = admin_with_org(&app).await;
    let base = format!("/api/v1/orgs/{org}/identity-providers");
    let created = app
        .post(
            &base,
            Some(&admin),
            json!({"name": "Okta", "preset": "google", "client_id": "g", "client_secret": SECRET}),
        )
        .await;
    let id = created.assert_status(201)["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // A member without security:read or security:update.
    let viewer = app.register("viewer@acme.example").await;
    app.join(org, &admin, json!({"user_id": viewer, "role": "viewer"}))
        .await;
    let viewer_token = app
        .login("viewer@acme.example", Some(&org.to_string()))
        .await;
    app.get(&base, &viewer_token)
        .await
        .assert_error(403, "permission_denied");
    app.post(
        &base,
        Some(&viewer_token),
        json!({"name": "Mine", "preset": "google", "client_id": "x"}),
    )
    .await
    .assert_error(403, "permission_denied");
    app.delete(&format!("{base}/{id}"), &viewer_token)
        .await
        .assert_error(403, "permission_denied");

    // The admin of another organization: not through their own org's path
    // either.
    let (other_org, mallory) = app.user_with_org("mallory@evil.example", "Evil").await;
    assert_eq!(app.get(&base, &mallory).await.status, 403);
    app.delete(&format!("{base}/{id}"), &mallory)
        .await
        .assert_status(403);
    app.get(
        &format!("/api/v1/orgs/{other_org}/identity-providers/{id}"),
        &mallory,
    )
    .await
    .assert_error(404, "not_found");
    app.delete(
        &format!("/api/v1/orgs/{other_org}/identity-providers/{id}"),
        &mallory,
    )
    .await
    .assert_error(404, "not_found");

    // A custom role that may change security settings but is not admin:
    // it cannot configure a provider that hands out admin (or any role it
    // could not grant itself).
    app.post(
        &format!("/api/v1/orgs/{org}/roles"),
        Some(&admin),
        json!({"name": "secops", "permissions": ["security:read", "security:update"]}),
    )
    .await
    .assert_status(201);
    let secops = app.register("secops@acme.example").await;
    app.join(org, &admin, json!({"user_id": secops, "role": "secops"}))
        .await;
    let secops_token = app
        .login("secops@acme.example", Some(&org.to_string()))
        .await;
    for body in [
        json!({"name": "Backdoor", "preset": "google", "client_id": "x", "role_mapping": [{"claim": "email", "value": "me@evil.example", "role": "admin"}]}),
        json!({"name": "Backdoor", "preset": "google", "client_id": "x", "allowed_domains": ["evil.example"], "jit_provisioning": true, "default_role": "compliance_officer"}),
    ] {
        app.post(&base, Some(&secops_token), body)
            .await
            .assert_error(403, "privilege_escalation");
    }
    // Not even a plain one: a provider signs in as any member it names
    // (the admins too), so adding one takes an admin's authority.
    app.post(
        &base,
        Some(&secops_token),
        json!({"name": "Plain", "preset": "google", "client_id": "x"}),
    )
    .await
    .assert_error(403, "privilege_escalation");
    // The first admin's provider untouched, nothing added.
    let list = app.get(&base, &admin).await;
    assert_eq!(
        list.assert_status(200)["identity_providers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

backend_tests!(
    configure_and_read_back,
    bad_configurations_are_named,
    attackers_cannot_read_change_or_escalate
);
