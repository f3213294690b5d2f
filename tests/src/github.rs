//! A stand-in for GitHub's OAuth web flow and REST user API
//! (`tests/fixtures/github/server.mjs`, shaped like GitHub Enterprise
//! Server) — the one mock among the single sign-on fixtures, because
//! github.com cannot run here.

use serde_json::{json, Value};
use tokio::process::Child;

pub struct GitHub {
    pub base: String,
    admin: reqwest::Client,
    _child: Child,
}

impl GitHub {
    pub async fn start() -> Self {
        let (child, ready) = crate::node_fixture("github", None)
            .await
            .expect("the GitHub stand-in has no npm packages to miss");
        Self {
            base: ready["base"].as_str().expect("base").to_owned(),
            admin: reqwest::Client::new(),
            _child: child,
        }
    }

    pub async fn admin(&self, path: &str, body: Value) {
        let r = self
            .admin
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// An account with `emails` as `(address, primary, verified)`.
    pub async fn account(&self, login: &str, emails: &[(&str, bool, bool)]) {
        let emails: Vec<Value> = emails
            .iter()
            .map(|(e, p, v)| json!({"email": e, "primary": p, "verified": v}))
            .collect();
        self.admin(
            "/__test/accounts",
            json!({"login": login, "name": login, "public_email": null, "emails": emails}),
        )
        .await;
    }
}
