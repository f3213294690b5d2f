//! A real lokid (SQLite, port 0) with an officer who has TOTP, and the
//! desktop's state pointing at it.
#![allow(dead_code)]

use std::sync::Arc;

use loki_desktop::state::AppState;
use loki_desktop::vault::MemoryVault;
use loki_tests::{Backend, TestApp, PASSWORD};
use serde_json::json;
use uuid::Uuid;

pub struct Fixture {
    pub app: TestApp,
    pub state: AppState,
    pub vault: Arc<MemoryVault>,
    pub email: String,
    pub totp: totp_rs::TOTP,
    pub org: Uuid,
    pub other_org: Uuid,
    pub dir: tempfile::TempDir,
}

pub fn totp_of(secret: &str) -> totp_rs::TOTP {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32 secret");
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        "test".into(),
    )
}

/// A code for the next 30 s step (the current one may already be spent).
pub fn next_code(t: &totp_rs::TOTP) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    t.generate(now + 30)
}

impl Fixture {
    pub async fn new() -> Self {
        let app = TestApp::spawn(Backend::Sqlite).await;
        let email = "officer@acme.example".to_owned();
        let (org, token) = app.user_with_org(&email, "Acme Corp").await;
        let other = app
            .post("/api/v1/orgs", Some(&token), json!({"name": "Globex Ltd"}))
            .await;
        let other_org: Uuid = other.assert_status(201)["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("org id");
        app.patch(
            &format!("/api/v1/orgs/{org}"),
            &token,
            json!({"name": "Acme Corporation"}),
        )
        .await
        .assert_status(200);
        let enroll = app
            .post("/api/v1/auth/mfa/enroll", Some(&token), json!({}))
            .await;
        let secret = enroll.assert_status(200)["secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        let totp = totp_of(&secret);
        app.post(
            "/api/v1/auth/mfa/confirm",
            Some(&token),
            json!({"code": totp.generate_current().expect("code")}),
        )
        .await
        .assert_status(200);
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Arc::new(MemoryVault::default());
        let state = AppState::new(vault.clone(), dir.path().to_path_buf());
        Self {
            app,
            state,
            vault,
            email,
            totp,
            org,
            other_org,
            dir,
        }
    }

    pub fn server(&self) -> String {
        format!("http://{}", self.app.addr)
    }

    /// Signs in through the desktop's own path (password, then TOTP).
    pub async fn sign_in(&self) -> loki_desktop::session::SessionView {
        use loki_desktop::ops::auth::{self, SignInOutcome};
        let out = auth::sign_in(&self.state, &self.server(), &self.email, PASSWORD)
            .await
            .expect("password accepted");
        assert!(matches!(out, SignInOutcome::MfaRequired));
        auth::verify_totp(&self.state, &next_code(&self.totp))
            .await
            .expect("code accepted")
    }
}
