//! Single sign-on through a real OpenID provider (npm `oidc-provider`, run
//! locally): authorization code + PKCE end to end, linking by verified
//! email, just-in-time provisioning with the role mapping, the session an
//! organization's provider starts, and every refusal the issue names —
//! each from the attacker's side, each audited. (Requiring SSO and the
//! pinned session: `sso_policy.rs`.)

use loki_tests::oidc::{param, pkce, setup, token, RETURN_TO};
use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};
use uuid::Uuid;

/// Code + PKCE end to end: an existing member signs in and is linked by
/// verified email; the code is single-use and only redeems with the app's
/// own verifier; the callback cannot be replayed; a provisioned account
/// gets the default and mapped roles and has no password.
async fn code_and_pkce(b: Backend) {
    let Some(t) = setup(
        b,
        json!({"jit_provisioning": true, "default_role": "viewer",
               "scopes": ["openid", "email", "profile", "groups"],
               "role_mapping": [{"claim": "groups", "value": "auditors", "role": "auditor"}]}),
    )
    .await
    else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "bob@acme.example", &["compliance_officer"])
        .await;
    t.idp.account("bob@acme.example", true, &[]).await;
    t.idp
        .account("carol@acme.example", true, &["auditors"])
        .await;

    let tokens = t.sign_in("bob@acme.example").await;
    let me = t.me(token(&tokens)).await;
    assert_eq!(me["user"]["email"], "bob@acme.example");
    assert_eq!(me["org"], json!(t.org));
    assert!(tokens["refresh_token"]
        .as_str()
        .is_some_and(|r| r.starts_with("lrt_")));
    // The same rotation as a password session.
    let refreshed = t
        .app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    refreshed.assert_status(200);

    // Audited on the organization's chain: the link and the sign-in.
    let linked = t.events("sso.identity_linked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    let logins = t.events("auth.login_succeeded").await;
    let sso_login = logins
        .iter()
        .find(|e| e["metadata"]["method"] == "sso")
        .expect("an SSO sign-in event");
    assert_eq!(
        sso_login["metadata"]["identity_provider"],
        json!(t.provider)
    );
    assert_eq!(sso_login["actor"]["user_id"], me["user"]["id"]);

    // The second sign-in finds the account by its link.
    let again = t.sign_in("bob@acme.example").await;
    assert_eq!(t.me(token(&again)).await["user"]["id"], me["user"]["id"]);
    assert_eq!(t.events("sso.identity_linked").await.len(), 1);

    // A code redeems once, and only with the verifier of the app that
    // started the sign-in.
    let a = t.attempt("bob@acme.example").await;
    let code = param(&a.back, "code").expect("code");
    let (other_verifier, _) = pkce();
    t.exchange(&code, &other_verifier)
        .await
        .assert_error(400, "sso_code_invalid");
    assert_eq!(
        t.last_failure().await["metadata"]["reason"],
        "pkce_mismatch"
    );
    // (the failed attempt used it up)
    t.exchange(&code, &a.verifier)
        .await
        .assert_error(400, "sso_code_invalid");
    let a = t.attempt("bob@acme.example").await;
    let code = param(&a.back, "code").expect("code");
    t.exchange(&code, &a.verifier).await.assert_status(200);
    t.exchange(&code, &a.verifier)
        .await
        .assert_error(400, "sso_code_invalid");

    // The provider's redirect cannot be replayed: the state is spent.
    let (_, challenge) = pkce();
    let url = t.start("token", &challenge).await.assert_status(200)["authorization_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let browser = loki_tests::reqwest::Client::builder()
        .redirect(loki_tests::reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let state = param(&url::Url::parse(&url).expect("url"), "state").expect("state");
    let forged = t.app.url(&format!(
        "/api/v1/auth/sso/callback?state={state}&code=forged"
    ));
    let first = browser.get(&forged).send().await.expect("callback");
    assert_eq!(first.status(), 303);
    let back = url::Url::parse(first.headers()["location"].to_str().expect("loc")).expect("url");
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    let replay = TestApp::reply(browser.get(&forged).send().await.expect("callback")).await;
    replay.assert_error(400, "sso_state_invalid");

    // Just-in-time: carol has no account; she gets one, without a
    // password, with the default role and the one her group maps to.
    let carol = t.sign_in("carol@acme.example").await;
    let carol_me = t.me(token(&carol)).await;
    assert_eq!(carol_me["user"]["email"], "carol@acme.example");
    let member = t
        .app
        .get(
            &format!(
                "/api/v1/orgs/{}/members/{}",
                t.org,
                carol_me["user"]["id"].as_str().expect("id")
            ),
            &t.admin,
        )
        .await;
    let mut roles: Vec<String> =
        serde_json::from_value(member.assert_status(200)["roles"].clone()).expect("roles");
    roles.sort();
    assert_eq!(roles, ["auditor", "viewer"]);
    let password = t
        .app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "carol@acme.example", "password": PASSWORD}),
        )
        .await;
    password.assert_error(401, "invalid_credentials");
    let provisioned = t.events("member.added").await;
    assert!(
        provisioned
            .iter()
            .any(|e| e["metadata"]["via"] == "sso_provisioning"),
        "{provisioned:?}"
    );

    // A browser gets a cookie session the same way.
    let (verifier, challenge) = pkce();
    let url = t.start("cookie", &challenge).await.assert_status(200)["authorization_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let back = t.idp.sign_in(&url, "bob@acme.example", RETURN_TO).await;
    let code = param(&back, "code").expect("code");
    let r = t.exchange(&code, &verifier).await;
    assert!(
        r.assert_status(200)["csrf_token"].is_string(),
        "{:?}",
        r.body
    );
    assert!(r.headers.get("set-cookie").is_some());
}

/// Removing a provider ends the sessions it started (and only those).
async fn removing_the_provider_ends_its_sessions(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "bob@acme.example", &["viewer"])
        .await;
    t.idp.account("bob@acme.example", true, &[]).await;
    let sso = t.sign_in("bob@acme.example").await;
    t.me(token(&sso)).await;
    t.app
        .delete(
            &format!("/api/v1/orgs/{}/identity-providers/{}", t.org, t.provider),
            &t.admin,
        )
        .await
        .assert_status(204);
    t.app
        .get("/api/v1/auth/me", token(&sso))
        .await
        .assert_error(401, "session_revoked");
    t.app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": sso["refresh_token"]}),
        )
        .await
        .assert_error(401, "refresh_token_revoked");
    // The admin's own password session is untouched.
    t.me(&t.admin).await;
    let deleted = t.events("sso.provider_deleted").await;
    assert_eq!(
        deleted[0]["metadata"]["sessions_ended"],
        json!(1),
        "{deleted:?}"
    );
}

/// Every refusal the issue names, each against the real provider: the app
/// gets an error (never a code), the organization's chain the reason.
async fn refusals(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "bob@acme.example", &["viewer"])
        .await;
    t.idp.account("bob@acme.example", true, &[]).await;
    t.sign_in("bob@acme.example").await;

    for (mode, reason) in [
        ("wrong_nonce", "id_token_wrong_nonce"),
        ("expired", "id_token_expired"),
        ("wrong_aud", "id_token_wrong_audience"),
        ("token_redirect", "token_exchange_failed"),
    ] {
        t.idp.tamper(mode).await;
        let (description, audited) = t.refused("bob@acme.example").await;
        assert_eq!(audited, reason, "{mode}: {description}");
        assert!(!description.is_empty());
    }
    // The token endpoint's redirect was not followed.
    let detail = t.last_failure().await["metadata"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("307") && detail.contains("not followed"),
        "{detail}"
    );
    t.idp.tamper("none").await;

    // Key rotation: the new key is picked up at once; a token signed with
    // the removed key is refused.
    t.idp.rotate().await;
    t.sign_in("bob@acme.example").await;
    t.idp.tamper("old_key").await;
    let (_, audited) = t.refused("bob@acme.example").await;
    assert_eq!(audited, "id_token_unknown_key");
    t.idp.tamper("none").await;

    // An email the provider has not verified links to nothing (gina is a
    // member, not yet linked).
    t.app
        .join_new(t.org, &t.admin, "gina@acme.example", &["viewer"])
        .await;
    t.idp.account("gina@acme.example", false, &[]).await;
    let (description, audited) = t.refused("gina@acme.example").await;
    assert_eq!(audited, "email_unverified");
    assert!(description.contains("not verified"), "{description}");

    // Outside the allowed domains; no account (JIT off); an account that is
    // not a member of this organization.
    t.idp.account("eve@evil.example", true, &[]).await;
    assert_eq!(t.refused("eve@evil.example").await.1, "domain_not_allowed");
    t.idp.account("dave@acme.example", true, &[]).await;
    assert_eq!(t.refused("dave@acme.example").await.1, "no_account");
    t.app.register("frank@acme.example").await;
    t.idp.account("frank@acme.example", true, &[]).await;
    assert_eq!(t.refused("frank@acme.example").await.1, "not_a_member");

    // A provider whose discovery answers with a redirect: not followed.
    let r = t
        .app
        .post(
            &format!("/api/v1/orgs/{}/identity-providers", t.org),
            Some(&t.admin),
            json!({"name": "Moved", "kind": "oidc", "issuer": format!("{}/redirect", t.idp.issuer),
                   "client_id": "x", "client_secret": "y"}),
        )
        .await;
    let moved = r.assert_status(201)["id"].clone();
    let (_, challenge) = pkce();
    let r = t
        .app
        .post(
            "/api/v1/auth/sso/start",
            None,
            json!({"org": t.org, "provider": moved, "return_to": RETURN_TO, "code_challenge": challenge}),
        )
        .await;
    r.assert_error(502, "identity_provider_unavailable");
    let failure = t.last_failure().await;
    assert_eq!(failure["metadata"]["reason"], "provider_unreachable");
    assert!(
        failure["metadata"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not followed"),
        "{failure}"
    );
}

/// Bad starts get a 4xx naming the field; an unknown organization and one
/// without single sign-on answer alike.
async fn bad_starts(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    let (_, challenge) = pkce();
    for (body, field) in [
        (
            json!({"org": t.org, "return_to": "https://evil.example/cb", "code_challenge": challenge}),
            "return_to",
        ),
        (
            json!({"org": t.org, "return_to": "http://localhost:9/cb", "code_challenge": challenge}),
            "return_to",
        ),
        (
            json!({"org": t.org, "return_to": "http://127.0.0.1:9/cb", "code_challenge": "short"}),
            "code_challenge",
        ),
        (
            json!({"org": t.org, "return_to": "http://127.0.0.1:9/cb", "code_challenge": challenge, "state": ""}),
            "state",
        ),
    ] {
        let r = t.app.post("/api/v1/auth/sso/start", None, body).await;
        r.assert_error(422, "validation_failed");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(field)),
            "{field}: {:?}",
            r.body
        );
    }
    let unknown = t
        .app
        .post(
            "/api/v1/auth/sso/start",
            None,
            json!({"org": Uuid::now_v7(), "return_to": RETURN_TO, "code_challenge": challenge}),
        )
        .await;
    unknown.assert_error(404, "not_found");
    let (other, _) = t.app.user_with_org("solo@other.example", "Other").await;
    let none = t
        .app
        .post(
            "/api/v1/auth/sso/start",
            None,
            json!({"org": other, "return_to": RETURN_TO, "code_challenge": challenge}),
        )
        .await;
    none.assert_error(404, "not_found");
    assert_eq!(
        unknown.body["error"]["message"],
        none.body["error"]["message"]
    );
    // By slug, as a sign-in screen asks for it.
    let by_slug = t
        .app
        .post(
            "/api/v1/auth/sso/start",
            None,
            json!({"org": "acme", "return_to": RETURN_TO, "code_challenge": challenge}),
        )
        .await;
    assert_eq!(by_slug.assert_status(200)["provider"], json!(t.provider));
    // The sign-in screen's list: names and kinds only.
    let list = t
        .app
        .call(
            loki_tests::reqwest::Method::GET,
            &format!("/api/v1/auth/sso/providers?org={}", t.org),
            None,
            None,
        )
        .await;
    let list = list.assert_status(200);
    assert_eq!(list["providers"][0]["name"], "Acme IdP");
    assert!(!list.to_string().contains("client"), "{list}");
    let callback = t
        .app
        .call(
            loki_tests::reqwest::Method::GET,
            "/api/v1/auth/sso/callback?code=x",
            None,
            None,
        )
        .await;
    callback.assert_error(400, "sso_state_invalid");
}

/// The reports count single sign-ons with password sign-ins and say how
/// the two split, with figures an auditor can recount from the bundle.
async fn reports_count_sso_sign_ins(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "bob@acme.example", &["viewer"])
        .await;
    t.idp.account("bob@acme.example", true, &[]).await;
    t.idp.account("dave@acme.example", true, &[]).await;
    t.sign_in("bob@acme.example").await;
    t.sign_in("bob@acme.example").await;
    assert_eq!(t.refused("dave@acme.example").await.1, "no_account");
    let bundle = t
        .app
        .client
        .get(t.app.url(&format!(
            "/api/v1/orgs/{}/audit/export?format=bundle",
            t.org
        )))
        .bearer_auth(&t.admin)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("bundle");
    let events: Vec<serde_json::Value> = bundle
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|l| l["event"].clone())
        .filter(|e| e["action"] == "auth.login_succeeded")
        .collect();
    let sso = events
        .iter()
        .filter(|e| e["metadata"]["method"] == "sso")
        .count();
    let password = events.len() - sso;
    assert_eq!(sso, 2);
    assert!(password >= 1, "the owner signed in with a password");
    let mut builder = loki_shared::report::ReportBuilder::new(
        loki_shared::report::ReportOptions::new(loki_shared::Framework::Soc2, chrono::Utc::now()),
    );
    for l in bundle.lines() {
        builder.line(l);
    }
    let (r, _) = builder.finish_with(None, &loki_shared::audit::Checks::default());
    let access = loki_tests::section(&r, "CC6.1");
    let expected = format!(
        "Of the sign-ins, {sso} went through an organization's identity provider (single sign-on) and {password} used a password; 1 single sign-ons were refused and 0 password sign-ins were refused because single sign-on is required."
    );
    assert!(
        access.evidence.contains(&expected),
        "{:#?}",
        access.evidence
    );
    assert!(
        access.evidence[0].starts_with(&format!("{} successful sign-ins", sso + password)),
        "{:#?}",
        access.evidence
    );
}

backend_tests!(
    code_and_pkce,
    refusals,
    bad_starts,
    reports_count_sso_sign_ins,
    removing_the_provider_ends_its_sessions
);
