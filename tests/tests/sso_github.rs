//! Signing in with GitHub (OAuth2 with PKCE, then the REST API for the user
//! and their verified emails), against a local stand-in for GitHub
//! Enterprise Server: github.com itself cannot run here, so this is the one
//! single sign-on test whose provider is a mock (tests/fixtures/github).

use loki_tests::github::GitHub;
use loki_tests::oidc::{browse, param, pkce, token, RETURN_TO};
use loki_tests::{json, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_sign_in_links_by_a_verified_email() {
    let gh = GitHub::start().await;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (org, admin) = app.user_with_org("owner@acme.example", "Acme").await;
    gh.admin(
        "/__test/clients",
        json!({"client_id": "Iv1.loki", "client_secret": "gh-secret"}),
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/identity-providers"),
            Some(&admin),
            json!({"name": "GitHub", "kind": "github", "issuer": gh.base, "client_id": "Iv1.loki",
                   "client_secret": "gh-secret", "allowed_domains": ["acme.example"]}),
        )
        .await;
    r.assert_status(201);
    app.join_new(org, &admin, "bob@acme.example", &["viewer"])
        .await;
    // bob's primary address is personal; his verified work address links.
    gh.account(
        "bob-gh",
        &[
            ("bob@home.example", true, true),
            ("bob@acme.example", false, true),
        ],
    )
    .await;
    // mallory claims the owner's address, unverified.
    gh.account("mallory", &[("owner@acme.example", true, false)])
        .await;

    let sign_in = |login: &'static str| {
        let app = &app;
        let gh = &gh;
        async move {
            let (verifier, challenge) = pkce();
            let r = app
                .post(
                    "/api/v1/auth/sso/start",
                    None,
                    json!({"org": "acme", "return_to": RETURN_TO, "code_challenge": challenge}),
                )
                .await;
            let url = r.assert_status(200)["authorization_url"]
                .as_str()
                .expect("url")
                .to_owned();
            assert!(
                url.starts_with(&format!("{}/login/oauth/authorize", gh.base)),
                "{url}"
            );
            assert!(
                url.contains("code_challenge="),
                "PKCE toward GitHub too: {url}"
            );
            let back = github_browse(&url, login).await;
            (back, verifier)
        }
    };

    let (back, verifier) = sign_in("bob-gh").await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let tokens = app
        .post(
            "/api/v1/auth/sso/exchange",
            None,
            json!({"code": code, "code_verifier": verifier}),
        )
        .await;
    let me = app
        .get("/api/v1/auth/me", token(tokens.assert_status(200)))
        .await;
    assert_eq!(me.assert_status(200)["user"]["email"], "bob@acme.example");
    assert_eq!(me.body["org"], json!(org));

    let (back, _) = sign_in("mallory").await;
    assert_eq!(param(&back, "code"), None, "{back}");
    let failed = app
        .audit_events(org, &admin, "action=auth.sso_failed")
        .await;
    assert_eq!(
        failed[0]["metadata"]["reason"], "email_unverified",
        "{failed:?}"
    );

    // A token endpoint that redirects: not followed.
    gh.admin("/__test/tamper", json!({"mode": "token_redirect"}))
        .await;
    let (back, _) = sign_in("bob-gh").await;
    assert_eq!(param(&back, "code"), None, "{back}");
    let failed = app
        .audit_events(org, &admin, "action=auth.sso_failed")
        .await;
    assert_eq!(failed[0]["metadata"]["reason"], "token_exchange_failed");
    assert!(
        failed[0]["metadata"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not followed"),
        "{failed:?}"
    );
}

/// GitHub's login page takes the `login` field, like the OpenID fixture's.
async fn github_browse(url: &str, login: &str) -> url::Url {
    browse(url, login, |u| u.as_str().starts_with(RETURN_TO)).await
}
