//! A real OpenID provider for the single sign-on tests: the npm package
//! `oidc-provider`, run by `tests/fixtures/oidc-provider/server.mjs` on
//! 127.0.0.1:0, and a browser for it (a cookie jar that follows no
//! redirects by itself, so each hop is seen), and `Sso`: a daemon with an
//! organization that signs in through it.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{Backend, Reply, TestApp};
use tokio::process::Child;

/// The running provider; stopped when dropped.
pub struct OidcProvider {
    pub issuer: String,
    admin: reqwest::Client,
    _child: Child,
}

impl OidcProvider {
    /// Starts the provider. `None` (said on stderr as SKIPPED) when its npm
    /// packages are not installed; `tools/test` installs them.
    pub async fn start() -> Option<Self> {
        let (child, ready) = crate::node_fixture("oidc-provider", Some("oidc-provider")).await?;
        Some(Self {
            issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
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
        assert!(r.status().is_success(), "fixture {path}: {}", r.status());
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

    /// An account whose sign-in the provider reports with these `amr`
    /// values (RFC 8176), e.g. `["pwd", "otp"]`.
    pub async fn account_with_amr(&self, email: &str, amr: &[&str]) {
        self.admin_post(
            "/__test/accounts",
            json!({"email": email, "email_verified": true, "name": email.split('@').next(), "amr": amr}),
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
        browse(authorization_url, email, |u| {
            u.as_str().starts_with(return_to)
        })
        .await
    }
}

/// The browser's walk from `start`, signing in as `email` at the provider's
/// login page, until `arrived` says it reached the app; that URL.
pub async fn browse(start: &str, email: &str, arrived: impl Fn(&url::Url) -> bool) -> url::Url {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let mut url = url::Url::parse(start).expect("authorization url");
    for _ in 0..12 {
        if arrived(&url) {
            return url;
        }
        let mut r = browser.get(url.clone()).send().await.expect("browser GET");
        if r.status() == StatusCode::OK {
            // The provider's login page: its form, its hidden fields, and
            // `login` = the account.
            let html = r.text().await.expect("login page");
            let mut form = hidden_fields(&html);
            form.push(("login".to_owned(), email.to_owned()));
            let target = form_action(&html)
                .and_then(|a| url.join(&a).ok())
                .unwrap_or_else(|| url.clone());
            r = browser
                .post(target)
                .form(&form)
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
    panic!("the sign-in did not come back to the app");
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A page's `<input type="hidden" name="…" value="…">` fields.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("type=\"hidden\" name=\"") {
        rest = &rest[i + 20..];
        let Some(end) = rest.find('"') else { break };
        let name = unescape(&rest[..end]);
        rest = &rest[end..];
        let Some(v) = rest.find("value=\"") else {
            break;
        };
        rest = &rest[v + 7..];
        let Some(end) = rest.find('"') else { break };
        out.push((name, unescape(&rest[..end])));
        rest = &rest[end..];
    }
    out
}

/// The first form's `action`, if it names one.
fn form_action(html: &str) -> Option<String> {
    let i = html.find("<form")?;
    let tag = &html[i..i + html[i..].find('>')?];
    let a = tag.find("action=\"")? + 8;
    let end = tag[a..].find('"')? + a;
    Some(unescape(&tag[a..end]))
}

/// A PKCE verifier and its S256 challenge, as an app makes them.
pub fn pkce() -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
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

pub const RETURN_TO: &str = "http://127.0.0.1:9/callback";

/// A daemon and a provider, and an organization (Acme) that signs in
/// through it.
pub struct Sso {
    pub app: TestApp,
    pub idp: OidcProvider,
    pub org: Uuid,
    pub admin: String,
    pub provider: Uuid,
}

/// A daemon, a provider with a client registered for the daemon's
/// callback, and an organization (Acme) that trusts it for acme.example.
pub async fn setup(b: Backend, extra: Value) -> Option<Sso> {
    let idp = OidcProvider::start().await?;
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("owner@acme.example", "Acme").await;
    let provider = add_provider(&app, &idp, org, &admin, "Acme IdP", "acme.example", extra).await;
    Some(Sso {
        app,
        idp,
        org,
        admin,
        provider,
    })
}

/// Registers a client for the daemon at the provider and configures it as
/// an identity provider of `org` (for `domain`); its id.
pub async fn add_provider(
    app: &TestApp,
    idp: &OidcProvider,
    org: Uuid,
    admin: &str,
    name: &str,
    domain: &str,
    extra: Value,
) -> Uuid {
    let (client_id, secret) = idp
        .register_client(&app.url("/api/v1/auth/sso/callback"))
        .await;
    let mut body = json!({
        "name": name, "kind": "oidc", "issuer": idp.issuer,
        "client_id": client_id, "client_secret": secret,
        "allowed_domains": [domain],
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/identity-providers"),
            Some(admin),
            body,
        )
        .await;
    r.assert_status(201)["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("provider id")
}

/// A sign-in as far as the app's `return_to`.
pub struct Attempt {
    /// Where the daemon sent the browser back to.
    pub back: url::Url,
    pub verifier: String,
}

impl Sso {
    pub async fn start(&self, kind: &str, challenge: &str) -> Reply {
        self.start_at(self.org, self.provider, kind, challenge)
            .await
    }

    pub async fn start_at(&self, org: Uuid, provider: Uuid, kind: &str, challenge: &str) -> Reply {
        self.app
            .post(
                "/api/v1/auth/sso/start",
                None,
                json!({"org": org, "provider": provider, "kind": kind, "return_to": RETURN_TO,
                       "code_challenge": challenge, "state": "app-state-1"}),
            )
            .await
    }

    pub async fn attempt(&self, email: &str) -> Attempt {
        self.attempt_at(self.org, self.provider, email).await
    }

    pub async fn attempt_at(&self, org: Uuid, provider: Uuid, email: &str) -> Attempt {
        let (verifier, challenge) = pkce();
        let r = self.start_at(org, provider, "token", &challenge).await;
        let url = r.assert_status(200)["authorization_url"]
            .as_str()
            .expect("authorization_url")
            .to_owned();
        let back = self.idp.sign_in(&url, email, RETURN_TO).await;
        assert_eq!(param(&back, "state").as_deref(), Some("app-state-1"));
        Attempt { back, verifier }
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> Reply {
        self.app
            .post(
                "/api/v1/auth/sso/exchange",
                None,
                json!({"code": code, "code_verifier": verifier}),
            )
            .await
    }

    /// A complete sign-in; the token response.
    pub async fn sign_in(&self, email: &str) -> Value {
        self.sign_in_at(self.org, self.provider, email).await
    }

    pub async fn sign_in_at(&self, org: Uuid, provider: Uuid, email: &str) -> Value {
        let a = self.attempt_at(org, provider, email).await;
        let code = param(&a.back, "code").unwrap_or_else(|| panic!("no code: {}", a.back));
        self.exchange(&code, &a.verifier)
            .await
            .assert_status(200)
            .clone()
    }

    /// A refused sign-in: the error the app sees, and the reason audited
    /// on the organization's chain.
    pub async fn refused(&self, email: &str) -> (String, String) {
        let a = self.attempt(email).await;
        assert_eq!(
            param(&a.back, "code"),
            None,
            "refused, yet a code: {}",
            a.back
        );
        assert_eq!(param(&a.back, "error").as_deref(), Some("access_denied"));
        let description = param(&a.back, "error_description").unwrap_or_default();
        (
            description,
            self.last_failure().await["metadata"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }

    pub async fn events(&self, action: &str) -> Vec<Value> {
        self.app
            .audit_events(self.org, &self.admin, &format!("action={action}"))
            .await
    }

    pub async fn last_failure(&self) -> Value {
        self.events("auth.sso_failed")
            .await
            .first()
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub async fn me(&self, token: &str) -> Value {
        self.app
            .get("/api/v1/auth/me", token)
            .await
            .assert_status(200)
            .clone()
    }
}

pub fn token(v: &Value) -> &str {
    v["access_token"].as_str().expect("access_token")
}
