//! Single sign-on through a real SAML 2.0 IdP (tests/fixtures/saml-idp:
//! samlify issues the genuine responses, xml-crypto signs the tampered
//! variants), against LOKI's service provider
//! (samael + xmlsec): the flow end to end, and every refusal the issue
//! names — unsigned, expired, replayed, wrong audience, SHA-1, and three
//! signature-wrapping forgeries that try to sign in the organization's
//! owner — each audited on the organization's chain.

use loki_tests::oidc::{param, pkce, token, RETURN_TO};
use loki_tests::saml::{Posted, SamlIdp};
use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};
use serde_json::Value;
use uuid::Uuid;

struct Saml {
    app: TestApp,
    idp: SamlIdp,
    org: Uuid,
    admin: String,
}

async fn setup(b: Backend, by_url: bool) -> Option<Saml> {
    let idp = SamlIdp::start().await?;
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("owner@acme.example", "Acme").await;
    let mut body = json!({
        "name": "Acme SAML", "kind": "saml", "allowed_domains": ["acme.example"],
        "jit_provisioning": true, "default_role": "viewer",
        "role_mapping": [{"claim": "groups", "value": "auditors", "role": "auditor"}],
    });
    if by_url {
        body["metadata_url"] = json!(idp.metadata_url);
    } else {
        body["metadata_xml"] = json!(idp.metadata().await);
    }
    app.post(
        &format!("/api/v1/orgs/{org}/identity-providers"),
        Some(&admin),
        body,
    )
    .await
    .assert_status(201);
    Some(Saml {
        app,
        idp,
        org,
        admin,
    })
}

impl Saml {
    /// Starts a sign-in and walks the IdP's pages as `email`: what its page
    /// would post, and the app's PKCE verifier.
    async fn at_idp(&self, email: &str) -> (Posted, String) {
        let (verifier, challenge) = pkce();
        let r = self
            .app
            .post(
                "/api/v1/auth/sso/start",
                None,
                json!({"org": "acme", "return_to": RETURN_TO, "code_challenge": challenge, "state": "s1"}),
            )
            .await;
        let url = r.assert_status(200)["authorization_url"]
            .as_str()
            .expect("url")
            .to_owned();
        assert!(url.starts_with(&self.idp.base), "{url}");
        (self.idp.sign_in(&url, email).await, verifier)
    }

    async fn sign_in(&self, email: &str) -> Value {
        let (posted, verifier) = self.at_idp(email).await;
        let (status, back) = posted.post().await;
        assert_eq!(status, 303);
        let back = back.expect("Location");
        let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
        assert_eq!(param(&back, "state").as_deref(), Some("s1"));
        self.app
            .post(
                "/api/v1/auth/sso/exchange",
                None,
                json!({"code": code, "code_verifier": verifier}),
            )
            .await
            .assert_status(200)
            .clone()
    }

    async fn last_failure(&self) -> Value {
        self.app
            .audit_events(self.org, &self.admin, "action=auth.sso_failed")
            .await
            .first()
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Posts what the IdP's page holds; the reason the refusal was audited with.
    async fn refused(&self, posted: &Posted) -> String {
        let (status, back) = posted.post().await;
        assert_eq!(status, 303);
        let back = back.expect("Location");
        assert_eq!(param(&back, "code"), None, "refused, yet a code: {back}");
        assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
        self.last_failure().await["metadata"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn me(&self, tokens: &Value) -> Value {
        self.app
            .get("/api/v1/auth/me", token(tokens))
            .await
            .assert_status(200)
            .clone()
    }
}

async fn saml_sign_in(b: Backend) {
    let Some(t) = setup(b, true).await else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "bob@acme.example", &["compliance_officer"])
        .await;
    t.idp.account("bob@acme.example", &[]).await;
    t.idp.account("carol@acme.example", &["auditors"]).await;

    let tokens = t.sign_in("bob@acme.example").await;
    let me = t.me(&tokens).await;
    assert_eq!(me["user"]["email"], "bob@acme.example");
    assert_eq!(me["org"], json!(t.org));
    let logins = t
        .app
        .audit_events(t.org, &t.admin, "action=auth.login_succeeded")
        .await;
    assert!(
        logins.iter().any(|e| e["metadata"]["method"] == "sso"),
        "{logins:?}"
    );

    // Provisioned just in time, roles from its groups, no password.
    let carol = t.me(&t.sign_in("carol@acme.example").await).await;
    let id = carol["user"]["id"].as_str().expect("id");
    let member = t
        .app
        .get(&format!("/api/v1/orgs/{}/members/{id}", t.org), &t.admin)
        .await;
    let mut roles: Vec<String> =
        serde_json::from_value(member.assert_status(200)["roles"].clone()).expect("roles");
    roles.sort();
    assert_eq!(roles, ["auditor", "viewer"]);
    t.app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "carol@acme.example", "password": PASSWORD}),
        )
        .await
        .assert_error(401, "invalid_credentials");

    // Replayed: the same post again (its state is spent) …
    let (posted, _) = t.at_idp("bob@acme.example").await;
    assert_eq!(posted.post().await.0, 303);
    let (status, _) = posted.post().await;
    assert_eq!(status, 400, "a replayed post is refused");
    // … and the same response under a fresh sign-in's state.
    let (fresh, _) = t.at_idp("bob@acme.example").await;
    let replay = Posted {
        acs: fresh.acs.clone(),
        saml_response: posted.saml_response.clone(),
        relay_state: fresh.relay_state.clone(),
    };
    assert_eq!(t.refused(&replay).await, "wrong_in_response_to");

    // Our metadata, for the IdP's administrator.
    let meta = t
        .app
        .client
        .get(t.app.url("/api/v1/auth/sso/saml/metadata"))
        .send()
        .await
        .expect("metadata");
    assert_eq!(meta.status(), 200);
    let xml = meta.text().await.expect("xml");
    assert!(
        xml.contains(&t.app.url("/api/v1/auth/sso/saml/acs")),
        "{xml}"
    );
}

async fn saml_refusals(b: Backend) {
    let Some(t) = setup(b, false).await else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "bob@acme.example", &["viewer"])
        .await;
    t.idp.account("bob@acme.example", &[]).await;
    t.sign_in("bob@acme.example").await;
    for (mode, reason) in [
        ("unsigned", "unsigned"),
        ("expired", "assertion_expired"),
        ("wrong_audience", "wrong_audience"),
        ("wrong_recipient", "wrong_recipient"),
        ("wrong_in_response_to", "wrong_in_response_to"),
        ("sha1", "weak_signature_algorithm"),
        ("xsw_before", "signature_wrapping"),
        ("xsw_wrap", "signature_wrapping"),
        ("xsw_response_wrap", "signature_wrapping"),
    ] {
        // The forgeries name the owner: bob must not become them.
        t.idp.tamper(mode, Some("owner@acme.example")).await;
        let (posted, _) = t.at_idp("bob@acme.example").await;
        assert_eq!(t.refused(&posted).await, reason, "{mode}");
    }
    // A signature whose reference points outside the response (xmlsec
    // would read the file, or the network, before checking anything).
    t.idp.tamper("none", None).await;
    let (posted, _) = t.at_idp("bob@acme.example").await;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let xml = String::from_utf8(b64.decode(&posted.saml_response).expect("base64")).expect("utf-8");
    let start = xml.find("<ds:Reference URI=\"").expect("a reference") + 19;
    let end = start + xml[start..].find('"').expect("its end");
    let outside = format!("{}file:///dev/zero{}", &xml[..start], &xml[end..]);
    let forged = Posted {
        acs: posted.acs.clone(),
        saml_response: b64.encode(outside),
        relay_state: posted.relay_state.clone(),
    };
    assert_eq!(t.refused(&forged).await, "signature_invalid");
    // Nobody was signed in as the owner through the IdP.
    let owner = t.me(&json!({"access_token": t.admin})).await["user"]["id"].clone();
    let logins = t
        .app
        .audit_events(t.org, &t.admin, "action=auth.login_succeeded")
        .await;
    assert!(
        !logins
            .iter()
            .any(|e| e["metadata"]["method"] == "sso" && e["actor"]["user_id"] == owner),
        "{logins:?}"
    );
    t.idp.tamper("none", None).await;
    t.sign_in("bob@acme.example").await;
}

backend_tests!(saml_sign_in, saml_refusals);
