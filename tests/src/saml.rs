//! A real SAML 2.0 identity provider for the single sign-on tests
//! (`tests/fixtures/saml-idp/server.mjs` on 127.0.0.1:0: samlify issues the
//! genuine responses, xml-crypto signs the tampered ones), and a browser for
//! the HTTP-Redirect / HTTP-POST bindings.

use serde_json::{json, Value};
use tokio::process::Child;

pub struct SamlIdp {
    pub base: String,
    pub entity_id: String,
    pub metadata_url: String,
    admin: reqwest::Client,
    _child: Child,
}

/// An HTML form's hidden field (`name="…" value="…"`, as the fixture writes it).
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The HTTP-POST page's form action.
fn action(html: &str) -> Option<String> {
    let marker = "<form method=\"post\" action=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

/// What the IdP's browser page posts to the service provider.
pub struct Posted {
    pub acs: String,
    pub saml_response: String,
    pub relay_state: Option<String>,
}

impl SamlIdp {
    /// Starts the IdP; `None` (said on stderr as SKIPPED) when its npm
    /// packages are not installed (`tools/test` installs them).
    pub async fn start() -> Option<Self> {
        let (child, ready) = crate::node_fixture("saml-idp", Some("samlify")).await?;
        let s = |k: &str| ready[k].as_str().expect(k).to_owned();
        Some(Self {
            base: s("base"),
            entity_id: s("entity_id"),
            metadata_url: s("metadata_url"),
            admin: reqwest::Client::new(),
            _child: child,
        })
    }

    async fn admin_post(&self, path: &str, body: Value) {
        let r = self
            .admin
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("fixture admin request");
        assert!(r.status().is_success(), "fixture {path}: {}", r.status());
    }

    pub async fn account(&self, email: &str, groups: &[&str]) {
        self.admin_post(
            "/__test/accounts",
            json!({"email": email, "groups": groups}),
        )
        .await;
    }

    /// How the next responses are altered; `victim` for the wrapping modes.
    pub async fn tamper(&self, mode: &str, victim: Option<&str>) {
        let mut body = json!({"mode": mode});
        if let Some(v) = victim {
            body["victim"] = json!(v);
        }
        self.admin_post("/__test/tamper", body).await;
    }

    pub async fn metadata(&self) -> String {
        self.admin
            .get(&self.metadata_url)
            .send()
            .await
            .expect("metadata")
            .text()
            .await
            .expect("metadata text")
    }

    /// A user at a browser: from the authorization URL (the IdP's sign-on
    /// page with the AuthnRequest) through its login, to the page that
    /// would post the response to the service provider.
    pub async fn sign_in(&self, authorization_url: &str, email: &str) -> Posted {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("browser");
        let page = browser
            .get(authorization_url)
            .send()
            .await
            .expect("GET /sso");
        assert_eq!(page.status(), 200, "the IdP's login page");
        let html = page.text().await.expect("login page");
        let mut form = vec![
            ("login".to_owned(), email.to_owned()),
            (
                "SAMLRequest".to_owned(),
                field(&html, "SAMLRequest").expect("SAMLRequest field"),
            ),
        ];
        if let Some(r) = field(&html, "RelayState") {
            form.push(("RelayState".to_owned(), r));
        }
        let posted = browser
            .post(format!("{}/sso", self.base))
            .form(&form)
            .send()
            .await
            .expect("POST /sso");
        assert_eq!(posted.status(), 200, "the IdP's post page");
        let html = posted.text().await.expect("post page");
        Posted {
            acs: action(&html).expect("form action"),
            saml_response: field(&html, "SAMLResponse").expect("SAMLResponse"),
            relay_state: field(&html, "RelayState"),
        }
    }
}

impl Posted {
    /// The browser posting the response to the service provider: where it
    /// is sent next (the status and Location).
    pub async fn post(&self) -> (u16, Option<url::Url>) {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("browser");
        let mut form = vec![("SAMLResponse", self.saml_response.as_str())];
        if let Some(r) = &self.relay_state {
            form.push(("RelayState", r.as_str()));
        }
        let r = browser
            .post(&self.acs)
            .form(&form)
            .send()
            .await
            .expect("POST to the ACS");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url::Url::parse(l).ok());
        (status, location)
    }
}
