//! Signing-key rotation, and verifying our tokens with another JWT library
//! from the published JWKS alone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_compact::{alg::Ed25519, AlgorithmExt, UntrustedToken};
use loki_tests::{backend_tests, Backend, TestApp};
use serde_json::Value;

fn kid(token: &str) -> String {
    let header = token.split('.').next().unwrap_or_default();
    let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap_or_default())
        .unwrap_or_default();
    v["kid"].as_str().unwrap_or_default().to_owned()
}

/// Verifies with jwt-compact (not the daemon's jsonwebtoken), using only
/// the JWKS entry whose kid the token names.
fn verify_with_jwks(token: &str, jwks: &Value) -> Value {
    let untrusted = UntrustedToken::new(token).expect("parse token");
    let kid = untrusted.header().key_id.clone().expect("kid");
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["kid"] == kid.as_str()))
        .expect("kid in jwks");
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let x = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().unwrap_or_default())
        .expect("x");
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().expect("32 bytes")).expect("key");
    let token = Ed25519
        .validator::<Value>(&key)
        .validate(&untrusted)
        .expect("signature verifies");
    token.claims().custom.clone()
}

async fn rotation_keeps_old_tokens_valid(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("keys@example.com").await;
    let before = app.login("keys@example.com", None).await;
    let jwks = app
        .call(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let claims = verify_with_jwks(&before, &jwks);
    assert_eq!(claims["iss"], "lokid");

    // What `lokid admin rotate-signing-key` does.
    let new_kid = app.state.tokens.keys.rotate().await.expect("rotate");
    let after = app.login("keys@example.com", None).await;
    assert_eq!(kid(&after), new_kid, "new tokens carry the new kid");
    assert_ne!(kid(&before), new_kid);
    app.get("/api/v1/auth/me", &before).await.assert_status(200);
    app.get("/api/v1/auth/me", &after).await.assert_status(200);

    let jwks = app
        .call(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    assert_eq!(
        jwks["keys"].as_array().map(Vec::len),
        Some(2),
        "both keys published"
    );
    verify_with_jwks(&before, &jwks);
    verify_with_jwks(&after, &jwks);
    assert!(
        !jwks.to_string().contains("\"d\""),
        "no private key material"
    );
    app.stop().await;
}

backend_tests!(rotation_keeps_old_tokens_valid);
