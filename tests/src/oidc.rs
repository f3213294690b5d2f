//! A real OpenID provider for the single sign-on tests: the npm package
//! `oidc-provider`, run by `tests/fixtures/oidc-provider/server.mjs` on
//! 127.0.0.1:0, and a browser for it (a cookie jar that follows no
//! redirects by itself, so each hop is seen).

use std::path::PathBuf;
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The running provider; stopped when dropped.
pub struct OidcProvider {
    pub issuer: String,
    admin: reqwest::Client,
    _child: Child,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/oidc-provider")
}

impl OidcProvider {
    /// Starts the provider. `None` (said on stderr as SKIPPED) when its npm
    /// packages are not installed; `tools/test` installs them.
    pub async fn start() -> Option<Self> {
        let dir = fixture_dir();
        if !dir.join("node_modules/oidc-provider").exists() {
            crate::skipped(&format!(
                "the OpenID provider fixture is not installed: run `npm ci` in {} (tools/test does)",
                dir.display()
            ));
            return None;
        }
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node (the OpenID provider fixture)");
        let stdout = child.stdout.take().expect("fixture stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("fixture ready line");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("fixture ready line {line:?}: {e}"));
        let issuer = ready["issuer"].as_str().expect("issuer").to_owned();
        Some(Self {
            issuer,
            admin: reqwest::Client::new(),
            _child: child,
        })
    }

    async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        let r = self
            .admin
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("fixture admin request");
        assert!(
            r.status().is_success(),
            "fixture {path}: {}",
            r.status()
        );
        r
    }

    /// Registers a confidential client (RFC 7591); `(client_id, secret)`.
    pub async fn register_client(&self, redirect_uri: &str) -> (String, String) {
        let r = self
            .admin
            .post(format!("{}/reg", self.issuer))
            .json(&json!({
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .send()
            .await
            .expect("register client");
        assert_eq!(r.status(), StatusCode::CREATED, "client registration");
        let body: Value = r.json().await.expect("registration body");
        (
            body["client_id"].as_str().expect("client_id").to_owned(),
            body["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        )
    }

    /// Defines (or redefines) an account the provider can sign in.
    pub async fn account(&self, email: &str, verified: bool, groups: &[&str]) {
        self.admin_post(
            "/__test/accounts",
            json!({"email": email, "email_verified": verified, "name": email.split('@').next(), "groups": groups}),
        )
        .await;
    }

    /// How the provider's next token responses are altered (`none` to stop).
    pub async fn tamper(&self, mode: &str) {
        self.admin_post("/__test/tamper", json!({"mode": mode}))
            .await;
    }

    /// A new signing key; the old one leaves the published key set.
    pub async fn rotate(&self) -> Value {
        self.admin_post("/__test/rotate", json!({}))
            .await
            .json()
            .await
            .expect("rotate body")
    }

    /// A user at a browser: from the authorization URL through the
    /// provider's login to the daemon's callback, which sends the browser
    /// on to the app's `return_to`. Returns that last URL (code or error).
    pub async fn sign_in(&self, authorization_url: &str, email: &str, return_to: &str) -> url::Url {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("browser");
        let mut url = url::Url::parse(authorization_url).expect("authorization url");
        for _ in 0..12 {
            if url.as_str().starts_with(return_to) {
                return url;
            }
            let mut r = browser.get(url.clone()).send().await.expect("browser GET");
            if r.status() == StatusCode::OK && url.path().starts_with("/interaction/") {
                // The provider's login page: sign in as `email`.
                r = browser
                    .post(url.clone())
                    .form(&[("login", email)])
                    .send()
                    .await
                    .expect("browser POST login");
            }
            assert!(
                r.status().is_redirection(),
                "the browser expected a redirect at {url}, got {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
            let location = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("Location")
                .to_owned();
            url = url.join(&location).expect("redirect target");
        }
        panic!("the sign-in did not come back to {return_to}");
    }
}

/// A PKCE verifier and its S256 challenge, as an app makes them.
pub fn pkce() -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&verifier));
    (verifier, challenge)
}

/// A query parameter of a URL.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
