//! Test harness: starts the real daemon (`Application`) on 127.0.0.1:0 with a
//! fresh database — a SQLite file in a temp dir, or a new PostgreSQL database
//! on the server named by `LOKI_TEST_DATABASE_URL` — and drives it over HTTP.
//!
//! When `LOKI_TEST_DATABASE_URL` / `LOKI_TEST_REDIS_URL` are set, the
//! PostgreSQL / Redis variants run and an unreachable service fails them.

use std::net::SocketAddr;

use anyhow::Context;
use loki_daemon::{Application, Config};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::oneshot;
use uuid::Uuid;

pub mod github;
pub mod oidc;
pub mod saml;

pub use reqwest;
pub use serde_json::json;

pub const DATABASE_ENV: &str = "LOKI_TEST_DATABASE_URL";
pub const REDIS_ENV: &str = "LOKI_TEST_REDIS_URL";
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `Some(Postgres)` when the PostgreSQL variant should run.
    pub fn postgres() -> Option<Backend> {
        if std::env::var(DATABASE_ENV).is_ok() {
            Some(Backend::Postgres)
        } else {
            skipped(&format!(
                "{DATABASE_ENV} is not set: PostgreSQL variant not run"
            ));
            None
        }
    }
}

/// Every operation of the daemon's OpenAPI document (generated from the
/// routes it serves) whose path starts with `prefix`: (method, template).
/// Tests that sweep the API take their rows from here, so a new route is
/// covered without editing them.
pub fn documented_operations(prefix: &str) -> Vec<(&'static str, String)> {
    let doc = loki_daemon::http::openapi::document();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        if !path.starts_with(prefix) {
            continue;
        }
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (m, present) in methods {
            if present {
                out.push((m, path.clone()));
            }
        }
    }
    out
}

/// Starts a Node fixture (`tests/fixtures/<name>/server.mjs`) with stdin
/// piped (it exits when that closes, so a failed test leaves no process) and
/// reads its one ready line. `None`, said as SKIPPED, when the fixture needs
/// npm packages (`needs`, a folder under node_modules) that are not installed.
pub async fn node_fixture(
    name: &str,
    needs: Option<&str>,
) -> Option<(tokio::process::Child, Value)> {
    use tokio::io::AsyncBufReadExt;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    if let Some(package) = needs {
        if !dir.join("node_modules").join(package).exists() {
            skipped(&format!(
                "the {name} fixture is not installed: run `npm ci` in {} (tools/test does)",
                dir.display()
            ));
            return None;
        }
    }
    let mut child = tokio::process::Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start node for the {name} fixture: {e}"));
    let stdout = child.stdout.take().expect("fixture stdout");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("fixture ready line");
    let ready = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("the {name} fixture's ready line {line:?}: {e}"));
    Some((child, ready))
}

/// Says, visibly, that (part of) a test did not run: straight to the
/// process's stderr, which the test harness does not capture.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {why}");
}

/// Generates one `#[tokio::test]` per backend for each named async fn taking
/// a [`Backend`].
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(loki_postgres), ignore = "set LOKI_TEST_DATABASE_URL to run")]
                async fn $name() {
                    if let Some(b) = $crate::Backend::postgres() {
                        super::$name(b).await
                    }
                }
            )*
        }
    };
}

/// A fresh PostgreSQL database on the test server, dropped on `Drop`.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url = std::env::var(DATABASE_ENV).context("LOKI_TEST_DATABASE_URL")?;
        let name = format!("loki_t_{}", Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("{DATABASE_ENV} is set but PostgreSQL is unreachable"))?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let mut url = url::Url::parse(&admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    /// A storage fault on demand: makes the database read-only (or
    /// writable again) and cuts every connection to it, so the daemon's
    /// pool reconnects into the new state.
    pub async fn set_read_only(&self, read_only: bool) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        let name = &self.name;
        let sql = if read_only {
            format!("ALTER DATABASE \"{name}\" SET default_transaction_read_only = on")
        } else {
            format!("ALTER DATABASE \"{name}\" RESET default_transaction_read_only")
        };
        sqlx::query(&sql).execute(&mut conn).await?;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (maybe while unwinding), where
        // blocking on async is not allowed: do it on a thread of its own.
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Where a test daemon keeps its state.
pub struct TestEnv {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub pg: Option<PgDatabase>,
    pub redis_prefix: String,
}

impl TestEnv {
    pub async fn new(backend: Backend) -> Self {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await.expect("create test database")),
        };
        Self {
            backend,
            dir: tempfile::tempdir().expect("tempdir"),
            pg,
            redis_prefix: format!("loki-test:{}:", Uuid::new_v4().simple()),
        }
    }

    /// A config for a daemon on this environment: port 0, its own data dir,
    /// PostgreSQL + Redis when the backend is PostgreSQL and they are set.
    pub fn config(&self) -> Config {
        let mut c = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: self.dir.path().to_path_buf(),
            log_level: "warn".into(),
            ..Config::default()
        };
        // Tests make far more requests than a free tier's 100 an hour; the
        // rate-limit tests set their own limits.
        for tier in loki_shared::Tier::ALL {
            c.limits.insert(
                tier,
                loki_daemon::config::LimitOverrides {
                    requests_per_hour: Some(1_000_000),
                    ..Default::default()
                },
            );
        }
        if let Some(pg) = &self.pg {
            c.database_url = Some(pg.url.clone());
            c.redis_url = std::env::var(REDIS_ENV).ok();
            c.redis_key_prefix = self.redis_prefix.clone();
        }
        c
    }
}

impl TestEnv {
    /// Moves a stored API key's expiry into the past ("time travel" for
    /// expiry tests; connects as the owner, beside the daemon).
    pub async fn expire_api_key(&self, key_id: &str) {
        self.expire_row("api_keys", "key_id", RowId::Text(key_id))
            .await;
    }

    /// Moves an invitation's expiry into the past.
    pub async fn expire_invitation(&self, id: &str) {
        let id = Uuid::parse_str(id).expect("invitation id");
        self.expire_row("invitations", "id", RowId::Uuid(id)).await;
    }

    async fn expire_row(&self, table: &str, key: &str, id: RowId<'_>) {
        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        let sql = format!("UPDATE {table} SET expires_at = $1 WHERE {key} = $2");
        let done = match &self.pg {
            Some(pg) => {
                let mut c = sqlx::PgConnection::connect(&pg.url).await.expect("connect");
                let q = sqlx::query(&sql).bind(past);
                let q = match id {
                    RowId::Text(t) => q.bind(t),
                    RowId::Uuid(u) => q.bind(u),
                };
                q.execute(&mut c).await.expect("update").rows_affected()
            }
            None => {
                let url = self.config().database_url();
                let mut c = sqlx::SqliteConnection::connect(&url)
                    .await
                    .expect("connect");
                let q = sqlx::query(&sql).bind(past);
                let q = match id {
                    RowId::Text(t) => q.bind(t),
                    RowId::Uuid(u) => q.bind(u),
                };
                q.execute(&mut c).await.expect("update").rows_affected()
            }
        };
        assert_eq!(done, 1, "{table} row not found");
    }
}

/// A row's key as the database stores it.
#[derive(Clone, Copy)]
enum RowId<'a> {
    Text(&'a str),
    Uuid(Uuid),
}

/// A running daemon and an HTTP client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: loki_daemon::AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the daemon must stop before its database goes.
    pub env: std::sync::Arc<TestEnv>,
}

/// A JSON response: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// Asserts an error reply: status, code, and the shared error shape.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        let err = &self.body["error"];
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
        let rid = err["request_id"].as_str().unwrap_or_default();
        assert_eq!(
            self.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(rid),
            "request_id in body must match the header"
        );
        assert_eq!(
            self.body.as_object().map(|o| o.len()),
            Some(1),
            "only `error` at the top"
        );
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        let env = std::sync::Arc::new(TestEnv::new(backend).await);
        Self::spawn_on(env).await
    }

    /// Another daemon on the same environment (same database and Redis).
    pub async fn spawn_on(env: std::sync::Arc<TestEnv>) -> Self {
        Self::spawn_with(env.clone(), env.config()).await
    }

    pub async fn spawn_with(env: std::sync::Arc<TestEnv>, config: Config) -> Self {
        // RUST_LOG=… shows the daemon's logs (with --nocapture) when a test fails.
        if std::env::var_os("RUST_LOG").is_some() {
            loki_daemon::telemetry::init(loki_daemon::config::LogFormat::Text, "info");
        }
        let app = Application::build(config).await.expect("build daemon");
        let addr = app.local_addr();
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            client: reqwest::Client::new(),
            state,
            stop: Some(stop),
            server: Some(server),
            env,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    pub async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = if bytes.is_empty() {
            Value::Null
        } else if json || status.is_client_error() || status.is_server_error() {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "non-JSON body ({status}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        } else {
            // Downloads: the content, as text.
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Registers a user; returns its id.
    pub async fn register(&self, email: &str) -> Uuid {
        let r = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        let body = r.assert_status(201);
        body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("user id")
    }

    /// Signs in (optionally into an org, by id or slug); returns the token.
    pub async fn login(&self, email: &str, org: Option<&str>) -> String {
        self.login_full(email, org).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Signs in; returns the whole token response.
    pub async fn login_full(&self, email: &str, org: Option<&str>) -> Value {
        let mut body = json!({"email": email, "password": PASSWORD});
        if let Some(o) = org {
            body["org"] = json!(o);
        }
        let r = self.post("/api/v1/auth/login", None, body).await;
        r.assert_status(200).clone()
    }

    /// Registers a user, creates an org as them and returns
    /// `(org id, token scoped to the org)`.
    pub async fn user_with_org(&self, email: &str, org_name: &str) -> (Uuid, String) {
        self.register(email).await;
        let token = self.login(email, None).await;
        let r = self
            .post("/api/v1/orgs", Some(&token), json!({"name": org_name}))
            .await;
        let org: Uuid = r.assert_status(201)["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("org id");
        (org, self.login(email, Some(&org.to_string())).await)
    }

    /// Invites through `POST …/members` (`{email | user_id, role}`), then
    /// signs in as the invitee and accepts; returns the member.
    pub async fn join(&self, org: impl std::fmt::Display, inviter: &str, body: Value) -> Value {
        let r = self
            .post(&format!("/api/v1/orgs/{org}/members"), Some(inviter), body)
            .await;
        let invitation = r.assert_status(202)["invitation"].clone();
        let email = invitation["email"].as_str().expect("invitation email");
        let token = self.login(email, None).await;
        let id = invitation["id"].as_str().expect("invitation id");
        let member = self
            .accept_invitation(&token, id)
            .await
            .assert_status(200)
            .clone();
        // Leave no session behind: callers count sessions.
        self.post("/api/v1/auth/logout", Some(&token), json!({}))
            .await
            .assert_status(204);
        member
    }

    /// Invites an email that has no account and accepts with the token and
    /// [`PASSWORD`]: the account is created by the organization's invitation
    /// (it is *managed* by it). Returns the member.
    pub async fn join_new(
        &self,
        org: impl std::fmt::Display,
        inviter: &str,
        email: &str,
        roles: &[&str],
    ) -> Value {
        let r = self
            .post(
                &format!("/api/v1/orgs/{org}/invitations"),
                Some(inviter),
                json!({"email": email, "roles": roles}),
            )
            .await;
        let created = r.assert_status(201).clone();
        let id = created["invitation"]["id"].as_str().expect("invitation id");
        self.post(
            &format!("/api/v1/invitations/{id}/accept"),
            None,
            json!({"token": created["accept_token"], "password": PASSWORD}),
        )
        .await
        .assert_status(200)
        .clone()
    }

    /// `POST /api/v1/invitations/{id}/accept` signed in as the invitee.
    pub async fn accept_invitation(&self, invitee: &str, id: &str) -> Reply {
        self.call(
            Method::POST,
            &format!("/api/v1/invitations/{id}/accept"),
            Some(invitee),
            None,
        )
        .await
    }

    /// An organization moved to the starter tier (API access) by a super
    /// admin; returns `(org id, its admin's token)`.
    pub async fn starter_org(&self, email: &str, name: &str) -> (Uuid, String) {
        let (org, admin) = self.user_with_org(email, name).await;
        let root = self
            .super_admin(&format!("root-{}@example.com", Uuid::new_v4().simple()))
            .await;
        self.put(
            &format!("/api/v1/orgs/{org}/tier"),
            &root,
            json!({"tier": "starter"}),
        )
        .await
        .assert_status(200);
        (org, admin)
    }

    /// Events of an organization's audit trail matching a search query
    /// (e.g. `action=request.rate_limited`).
    pub async fn audit_events(&self, org: Uuid, token: &str, query: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/api/v1/orgs/{org}/audit/events?{query}"), token)
            .await;
        r.assert_status(200)["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Bootstraps a super admin the way `lokid admin create-super-admin` does.
    pub async fn super_admin(&self, email: &str) -> String {
        self.state
            .identity
            .bootstrap_super_admin(email, PASSWORD.to_owned())
            .await
            .expect("bootstrap super admin");
        self.login(email, None).await
    }

    /// Stops the daemon gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(h) = self.server.take() {
            h.abort();
        }
    }
}

/// The section of a report for one control (tests of reports read them by id).
pub fn section<'a>(
    r: &'a loki_shared::report::Report,
    id: &str,
) -> &'a loki_shared::report::Section {
    r.sections
        .iter()
        .find(|s| s.control_id == id)
        .unwrap_or_else(|| panic!("no section {id}"))
}
