//! Request signing with API keys: the happy path, each failure with its
//! code (audited), replay refused — also by a second daemon — the org-wide
//! requirement, and rotation. Signatures are computed here independently
//! of the daemon's code, from the documented canonical string.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use loki_tests::{backend_tests, json, reqwest::Method, Backend, Reply, TestApp, TestEnv};
use sha2::{Digest, Sha256};
use uuid::Uuid;

struct Key {
    token: String,
    key_id: String,
    signing_secret: String,
}

async fn create_key(app: &TestApp, org: Uuid, admin: &str, require: bool) -> Key {
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            Some(admin),
            json!({"name": "signed", "scopes": ["org:read", "org:update", "doc:create", "doc:read"], "require_signature": require}),
        )
        .await;
    let body = r.assert_status(201);
    assert_eq!(body["key"]["require_signature"], require);
    Key {
        token: body["api_key"].as_str().unwrap_or_default().to_owned(),
        key_id: body["key"]["key_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        signing_secret: body["signing_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// hex(HMAC-SHA256(secret, METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nhex(SHA-256(body))))
fn signature(secret: &str, method: &str, path: &str, ts: i64, nonce: &str, body: &[u8]) -> String {
    let text = format!(
        "{method}\n{path}\n{ts}\n{nonce}\n{}",
        hex(&Sha256::digest(body))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(text.as_bytes());
    hex(&mac.finalize().into_bytes())
}

struct Signed<'a> {
    method: Method,
    path: &'a str,
    body: Vec<u8>,
    ts: i64,
    nonce: String,
    key_id: Option<&'a str>,
    signature: Option<String>,
    content_type: &'static str,
}

impl<'a> Signed<'a> {
    fn new(key: &'a Key, method: Method, path: &'a str, body: &[u8]) -> Self {
        let ts = chrono::Utc::now().timestamp();
        let nonce = Uuid::new_v4().simple().to_string();
        Self {
            signature: Some(signature(
                &key.signing_secret,
                method.as_str(),
                path,
                ts,
                &nonce,
                body,
            )),
            method,
            path,
            body: body.to_vec(),
            ts,
            nonce,
            key_id: Some(&key.key_id),
            content_type: "application/json",
        }
    }

    async fn send(&self, app: &TestApp, key: &Key) -> Reply {
        let mut req = app
            .client
            .request(self.method.clone(), app.url(self.path))
            .bearer_auth(&key.token)
            .header("x-loki-timestamp", self.ts.to_string())
            .header("x-loki-nonce", &self.nonce)
            .body(self.body.clone());
        if !self.body.is_empty() {
            req = req.header("content-type", self.content_type);
        }
        if let Some(k) = self.key_id {
            req = req.header("x-loki-key-id", k);
        }
        if let Some(s) = &self.signature {
            req = req.header("x-loki-signature", s);
        }
        TestApp::reply(req.send().await.expect("send")).await
    }
}

async fn signatures(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let app = TestApp::spawn_on(env.clone()).await;
    let (org, admin) = app.starter_org("sign@example.com", "Signers").await;
    let key = create_key(&app, org, &admin, true).await;
    assert!(key.signing_secret.starts_with("lks_"));
    let path = format!("/api/v1/orgs/{org}");

    // Unsigned: refused, naming the missing header.
    let r = app.get(&path, &key.token).await;
    r.assert_error(401, "signature_missing");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("x-loki-key-id"));

    // Signed: accepted, once.
    let ok = Signed::new(&key, Method::GET, &path, b"");
    ok.send(&app, &key).await.assert_status(200);
    ok.send(&app, &key)
        .await
        .assert_error(401, "signature_replayed");
    if b == Backend::Postgres {
        // The nonce is remembered in Redis: another daemon refuses it too.
        let other = TestApp::spawn_on(env.clone()).await;
        ok.send(&other, &key)
            .await
            .assert_error(401, "signature_replayed");
        let fresh = Signed::new(&key, Method::GET, &path, b"");
        fresh.send(&other, &key).await.assert_status(200);
        other.stop().await;
    }

    // A query string is part of what is signed.
    let listed = format!("/api/v1/orgs/{org}/documents?limit=5");
    Signed::new(&key, Method::GET, &listed, b"")
        .send(&app, &key)
        .await
        .assert_status(200);
    let mut moved = Signed::new(&key, Method::GET, &listed, b"");
    let other_query = format!("/api/v1/orgs/{org}/documents?limit=6");
    moved.path = &other_query;
    moved
        .send(&app, &key)
        .await
        .assert_error(401, "signature_invalid");

    // Stale and future timestamps (beyond ±300 s, with a second of margin
    // for the clock ticking between signing here and checking there).
    for skew in [-302, 302] {
        let mut s = Signed::new(&key, Method::GET, &path, b"");
        s.ts += skew;
        s.signature = Some(signature(
            &key.signing_secret,
            "GET",
            &path,
            s.ts,
            &s.nonce,
            b"",
        ));
        s.send(&app, &key)
            .await
            .assert_error(401, "signature_stale");
    }
    // A wrong signature, a wrong secret, a tampered body.
    let mut s = Signed::new(&key, Method::GET, &path, b"");
    s.signature = Some("0".repeat(64));
    s.send(&app, &key)
        .await
        .assert_error(401, "signature_invalid");
    let mut s = Signed::new(&key, Method::GET, &path, b"");
    s.signature = Some("not hex".into());
    s.send(&app, &key)
        .await
        .assert_error(401, "signature_invalid");
    let mut s = Signed::new(&key, Method::GET, &path, b"");
    s.signature = Some(signature("lks_wrong", "GET", &path, s.ts, &s.nonce, b""));
    s.send(&app, &key)
        .await
        .assert_error(401, "signature_invalid");
    let patch = br#"{"name":"Renamed"}"#;
    let mut s = Signed::new(&key, Method::PATCH, &path, patch);
    s.body = br#"{"name":"Hijacked"}"#.to_vec();
    s.send(&app, &key)
        .await
        .assert_error(401, "signature_invalid");
    // The key id must be the bearer key's.
    let mut s = Signed::new(&key, Method::GET, &path, b"");
    s.key_id = Some("0000000000000000");
    s.send(&app, &key)
        .await
        .assert_error(401, "signature_key_mismatch");
    // A malformed timestamp or nonce.
    let mut s = Signed::new(&key, Method::GET, &path, b"");
    s.nonce = "short".into();
    s.send(&app, &key)
        .await
        .assert_error(401, "signature_nonce_invalid");

    // A signed request with a body reaches the handler intact.
    let doc = format!("/api/v1/orgs/{org}/documents?name=policy.txt");
    let text = b"signed evidence";
    let mut s = Signed::new(&key, Method::POST, &doc, text);
    s.content_type = "text/plain";
    let created = s.send(&app, &key).await;
    assert_eq!(created.assert_status(201)["size"], text.len());

    // Every refusal is in the audit trail with its reason.
    let rejected = app
        .audit_events(org, &admin, "action=request.signature_rejected&limit=100")
        .await;
    let mut reasons: Vec<String> = rejected
        .iter()
        .map(|e| {
            e["metadata"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    reasons.sort();
    reasons.dedup();
    for code in [
        "signature_invalid",
        "signature_key_mismatch",
        "signature_missing",
        "signature_nonce_invalid",
        "signature_replayed",
        "signature_stale",
    ] {
        assert!(
            reasons.iter().any(|r| r == code),
            "{code} not audited: {reasons:?}"
        );
    }
    app.stop().await;
}

/// The organization setting makes signing mandatory for every key; a key
/// without the requirement may still sign (and is then checked).
async fn organization_requires_signatures(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.starter_org("orgsign@example.com", "Strict").await;
    let key = create_key(&app, org, &admin, false).await;
    let path = format!("/api/v1/orgs/{org}");
    app.get(&path, &key.token).await.assert_status(200);
    let mut bad = Signed::new(&key, Method::GET, &path, b"");
    bad.signature = Some("f".repeat(64));
    bad.send(&app, &key)
        .await
        .assert_error(401, "signature_invalid");

    app.patch(
        &path,
        &admin,
        json!({"settings": {"audit_retention_days": 365, "require_signed_requests": true}}),
    )
    .await
    .assert_status(200);
    app.get(&path, &key.token)
        .await
        .assert_error(401, "signature_missing");
    Signed::new(&key, Method::GET, &path, b"")
        .send(&app, &key)
        .await
        .assert_status(200);
    // Sessions are not API keys: signing does not apply to them.
    app.get(&path, &admin).await.assert_status(200);
    app.stop().await;
}

/// Rotation issues a new signing secret; the old one works for the grace
/// period, like the old key secret.
async fn rotation_replaces_the_signing_secret(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.starter_org("rot@example.com", "Rotating").await;
    let old = create_key(&app, org, &admin, true).await;
    let id = app
        .get(&format!("/api/v1/orgs/{org}/api-keys"), &admin)
        .await
        .assert_status(200)["api_keys"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys/{id}/rotate"),
            Some(&admin),
            json!({"grace_period_secs": 3600}),
        )
        .await;
    let body = r.assert_status(200);
    let new = Key {
        token: body["api_key"].as_str().unwrap_or_default().to_owned(),
        key_id: old.key_id.clone(),
        signing_secret: body["signing_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    assert_ne!(new.signing_secret, old.signing_secret);
    let path = format!("/api/v1/orgs/{org}");
    Signed::new(&new, Method::GET, &path, b"")
        .send(&app, &new)
        .await
        .assert_status(200);
    Signed::new(&old, Method::GET, &path, b"")
        .send(&app, &old)
        .await
        .assert_status(200);
    // Rotating without grace retires the old secrets at once.
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys/{id}/rotate"),
            Some(&admin),
            json!({"grace_period_secs": 0}),
        )
        .await;
    let newest = Key {
        token: r.assert_status(200)["api_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        key_id: old.key_id.clone(),
        signing_secret: r.body["signing_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    let stale = Key {
        token: newest.token.clone(),
        key_id: new.key_id.clone(),
        signing_secret: new.signing_secret.clone(),
    };
    Signed::new(&stale, Method::GET, &path, b"")
        .send(&app, &stale)
        .await
        .assert_error(401, "signature_invalid");
    Signed::new(&newest, Method::GET, &path, b"")
        .send(&app, &newest)
        .await
        .assert_status(200);
    app.stop().await;
}

backend_tests!(
    signatures,
    organization_requires_signatures,
    rotation_replaces_the_signing_secret,
);
