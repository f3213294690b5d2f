//! A stand-in for GitHub's OAuth web flow and REST user API
//! (`tests/fixtures/github/server.mjs`, shaped like GitHub Enterprise
//! Server) — the one mock among the single sign-on fixtures, because
//! github.com cannot run here.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct GitHub {
    pub base: String,
    admin: reqwest::Client,
    _child: Child,
}

impl GitHub {
    pub async fn start() -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/github");
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node (the GitHub stand-in)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("ready line");
        let ready: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
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
