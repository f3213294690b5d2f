//! Registration, sign-in, tokens, organization switching, JWKS.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};
use serde_json::Value;

fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("jwt part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

async fn register_validates_and_refuses_duplicates(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": " Alice@Example.COM ", "password": PASSWORD, "display_name": "Alice"}),
        )
        .await;
    let body = r.assert_status(201);
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["is_super_admin"], false);
    assert!(body.get("password_hash").is_none() && !body.to_string().contains("argon2"));

    app.post(
        "/api/v1/auth/register",
        None,
        json!({"email": "alice@example.com", "password": PASSWORD}),
    )
    .await
    .assert_error(409, "email_taken");
    let weak = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "bob@example.com", "password": "short"}),
        )
        .await;
    weak.assert_error(422, "validation_failed");
    assert!(weak.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("password"));
    let bad = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    bad.assert_error(422, "validation_failed");
    assert!(bad.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("email"));
    app.stop().await;
}

async fn login_issues_eddsa_tokens_with_design_claims(b: Backend) {
    let app = TestApp::spawn(b).await;
    let user = app.register("carol@example.com").await;
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "CAROL@example.com", "password": PASSWORD}),
        )
        .await;
    let body = r.assert_status(200).clone();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    let token = body["access_token"].as_str().expect("token");
    let header = jwt_part(token, 0);
    assert_eq!(header["alg"], "EdDSA");
    let claims = jwt_part(token, 1);
    assert_eq!(claims["sub"], user.to_string());
    assert_eq!(claims["iss"], "lokid");
    assert_eq!(claims["aud"], "loki-api");
    for c in ["sid", "jti", "iat", "exp"] {
        assert!(!claims[c].is_null(), "claim {c} missing: {claims}");
    }
    assert_eq!(
        claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0),
        1800
    );
    assert!(
        claims.get("org").is_none(),
        "no org requested, none in token"
    );

    // The JWKS alone verifies the token.
    let jwks = app
        .call(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let keys = jwks.assert_status(200)["keys"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in jwks");
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    let key = jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap_or_default())
        .expect("key");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["loki-api"]);
    v.set_issuer(&["lokid"]);
    jsonwebtoken::decode::<Value>(token, &key, &v).expect("token verifies against the JWKS");

    let me = app.get("/api/v1/auth/me", token).await;
    assert_eq!(me.assert_status(200)["user"]["email"], "carol@example.com");
    assert_eq!(me.body["session_id"], claims["sid"]);
    app.stop().await;
}

async fn bad_credentials_answer_alike(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("dave@example.com").await;
    let wrong = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "dave@example.com", "password": "not the password at all"}),
        )
        .await;
    wrong.assert_error(401, "invalid_credentials");
    let unknown = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    unknown.assert_error(401, "invalid_credentials");
    assert_eq!(
        wrong.body["error"]["message"],
        unknown.body["error"]["message"]
    );
    let malformed = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "nonsense", "password": PASSWORD}),
        )
        .await;
    malformed.assert_error(401, "invalid_credentials");
    app.stop().await;
}

async fn tokens_are_required_and_checked(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("erin@example.com").await;
    let token = app.login("erin@example.com", None).await;
    app.call(reqwest::Method::GET, "/api/v1/auth/me", None, None)
        .await
        .assert_error(401, "missing_credentials");
    app.get("/api/v1/auth/me", "garbage")
        .await
        .assert_error(401, "invalid_token");
    // Change one character inside the signature (not the last one, whose
    // low bits are padding).
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    app.get("/api/v1/auth/me", &forged)
        .await
        .assert_error(401, "invalid_token");
    // An unsigned token with the same claims.
    let claims = token.split('.').nth(1).unwrap_or_default();
    let none = format!(
        "{}.{claims}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );
    app.get("/api/v1/auth/me", &none)
        .await
        .assert_error(401, "invalid_token");
    app.call(reqwest::Method::GET, "/api/v1/auth/me", None, None)
        .await
        .assert_error(401, "missing_credentials");
    let basic = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .expect("request");
    TestApp::reply(basic)
        .await
        .assert_error(401, "invalid_token");
    app.stop().await;
}

async fn switch_org_only_into_own_orgs(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org_a, _) = app.user_with_org("frank@example.com", "Frank Inc").await;
    let (org_b, _) = app.user_with_org("grace@example.com", "Grace Ltd").await;
    let frank = app.login("frank@example.com", None).await;
    let r = app
        .post(
            "/api/v1/auth/switch-org",
            Some(&frank),
            json!({"org": "frank-inc"}),
        )
        .await;
    let switched = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(jwt_part(&switched, 1)["org"], org_a.to_string());
    assert_eq!(
        jwt_part(&switched, 1)["sid"],
        jwt_part(&frank, 1)["sid"],
        "same session"
    );
    // The session moved: the token of its earlier organization stops working.
    app.get("/api/v1/auth/me", &frank)
        .await
        .assert_error(401, "token_superseded");
    app.post(
        "/api/v1/auth/switch-org",
        Some(&switched),
        json!({"org": org_b.to_string()}),
    )
    .await
    .assert_error(403, "not_a_member");
    app.post(
        "/api/v1/auth/switch-org",
        Some(&switched),
        json!({"org": "no-such-org"}),
    )
    .await
    .assert_error(403, "not_a_member");
    // Signing straight into someone else's org is refused the same way.
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "frank@example.com", "password": PASSWORD, "org": "grace-ltd"}),
    )
    .await
    .assert_error(403, "not_a_member");
    app.stop().await;
}

backend_tests!(
    register_validates_and_refuses_duplicates,
    login_issues_eddsa_tokens_with_design_claims,
    bad_credentials_answer_alike,
    tokens_are_required_and_checked,
    switch_org_only_into_own_orgs,
);
