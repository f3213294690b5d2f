//! Rate limiting: each strategy against its definition, in-process and in
//! Redis (the same decisions for the same inputs); 429 answers and their
//! headers; two daemons sharing one budget through Redis; what happens
//! when Redis goes away.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use loki_daemon::config::{FailMode, LimitOverrides};
use loki_daemon::kv::{self, DynKv};
use loki_daemon::security::rate_limit::{Rule, Strategy};
use loki_tests::{backend_tests, json, Backend, TestApp, TestEnv, REDIS_ENV};
use uuid::Uuid;

async fn stores() -> Vec<DynKv> {
    let mut v = vec![kv::connect(None, "").await.expect("memory")];
    match std::env::var(REDIS_ENV) {
        Ok(url) => {
            let prefix = format!("loki-test:{}:", Uuid::new_v4().simple());
            v.push(
                kv::connect(Some(&url), &prefix)
                    .await
                    .expect("LOKI_TEST_REDIS_URL is set but Redis is unreachable"),
            );
        }
        Err(_) => loki_tests::skipped(&format!("{REDIS_ENV} is not set: Redis variant not run")),
    }
    v
}

const SEC: i64 = 1000;

/// How many of `n` requests at time `t` (ms) are admitted.
async fn admitted(kv: &DynKv, key: &str, rule: &Rule, t: i64, n: u32) -> u32 {
    let mut count = 0;
    for _ in 0..n {
        if kv.rate_limit(key, rule, t).await.expect("decide").allowed {
            count += 1;
        }
    }
    count
}

fn rule(strategy: Strategy) -> Rule {
    Rule {
        strategy,
        limit: 5,
        window_ms: 10_000,
    }
}

/// Fixed window: the whole budget at the end of one window and again at
/// the start of the next — the boundary burst it is known for.
#[tokio::test]
async fn fixed_window_allows_the_boundary_burst() {
    for kv in stores().await {
        let r = rule(Strategy::FixedWindow);
        assert_eq!(admitted(&kv, "f", &r, 9_900, 8).await, 5, "{}", kv.kind());
        let d = kv.rate_limit("f", &r, 9_950).await.expect("decide");
        assert!(!d.allowed);
        assert_eq!((d.remaining, d.retry_after_ms, d.reset_ms), (0, 50, 50));
        assert_eq!(admitted(&kv, "f", &r, 10_000, 8).await, 5, "{}", kv.kind());
    }
}

/// Sliding window: after a burst at the end of a window, the next window
/// admits nothing at first, then one request every two seconds as the
/// burst slides out — no second burst.
#[tokio::test]
async fn sliding_window_is_smooth_across_the_boundary() {
    for kv in stores().await {
        let r = rule(Strategy::SlidingWindow);
        assert_eq!(admitted(&kv, "s", &r, 9_900, 8).await, 5, "{}", kv.kind());
        let mut per_second = Vec::new();
        for s in 10..20 {
            per_second.push(admitted(&kv, "s", &r, s * SEC, 5).await);
        }
        assert_eq!(per_second, [0, 0, 1, 0, 1, 0, 1, 0, 1, 0], "{}", kv.kind());
        // Retry-After points at the moment the next request passes.
        let d = kv.rate_limit("s", &r, 19_500).await.expect("decide");
        assert!(!d.allowed, "{}", kv.kind());
        assert_eq!(d.retry_after_ms, 500);
        let at = 19_500 + d.retry_after_ms as i64;
        assert!(
            !kv.rate_limit("s", &r, at - 1)
                .await
                .expect("decide")
                .allowed
        );
        assert!(
            kv.rate_limit("s", &r, at).await.expect("decide").allowed,
            "{}",
            kv.kind()
        );
    }
}

/// Token bucket: a burst of the whole capacity, then one token back every
/// window / limit (2 s here), up to the capacity again.
#[tokio::test]
async fn token_bucket_bursts_then_refills() {
    for kv in stores().await {
        let r = rule(Strategy::TokenBucket);
        assert_eq!(admitted(&kv, "b", &r, 0, 8).await, 5, "{}", kv.kind());
        let d = kv.rate_limit("b", &r, 0).await.expect("decide");
        assert!(!d.allowed);
        assert_eq!(d.retry_after_ms, 2_000);
        assert_eq!(admitted(&kv, "b", &r, 1_999, 3).await, 0);
        assert_eq!(admitted(&kv, "b", &r, 2_000, 3).await, 1);
        // 8 s later: 4 tokens back.
        assert_eq!(admitted(&kv, "b", &r, 10_000, 8).await, 4, "{}", kv.kind());
        // A long pause refills only up to the capacity.
        assert_eq!(
            admitted(&kv, "b", &r, 1_000_000, 8).await,
            5,
            "{}",
            kv.kind()
        );
    }
}

/// Memory and Redis give the same decisions for a random-looking stream.
#[tokio::test]
async fn backends_agree() {
    let stores = stores().await;
    for strategy in Strategy::ALL {
        let r = Rule {
            strategy,
            limit: 7,
            window_ms: 3_000,
        };
        let key = format!("agree-{}", strategy.as_str());
        let mut t = 0i64;
        let mut answers: Vec<Vec<_>> = vec![Vec::new(); stores.len()];
        for i in 0..300u64 {
            t += ((i * 7919) % 230) as i64;
            for (kv, out) in stores.iter().zip(answers.iter_mut()) {
                let d = kv.rate_limit(&key, &r, t).await.expect("decide");
                out.push((d.allowed, d.remaining, d.retry_after_ms, d.reset_ms));
            }
        }
        for other in &answers[1..] {
            assert_eq!(&answers[0], other, "{strategy:?}");
        }
        assert!(answers[0].iter().any(|a| !a.0), "the stream hits the limit");
    }
}

fn limited(env: &TestEnv, strategy: Strategy, per_hour: u32) -> loki_daemon::Config {
    let mut c = env.config();
    c.rate_limit.strategy = strategy;
    c.limits.insert(
        loki_shared::Tier::Free,
        LimitOverrides {
            requests_per_hour: Some(per_hour),
            ..Default::default()
        },
    );
    c
}

/// The organization's hourly budget; every answer says what is left, and
/// the refusal says when to come back. Recorded in the audit trail.
async fn organization_budget_and_headers(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    for strategy in Strategy::ALL {
        let app = TestApp::spawn_with(env.clone(), limited(&env, strategy, 3)).await;
        // Creating the organization and signing in spend no org budget.
        let email = format!("{}@example.com", strategy.as_str());
        let (org, token) = app.user_with_org(&email, strategy.as_str()).await;
        let path = format!("/api/v1/orgs/{org}");
        let header = |r: &loki_tests::Reply, name: &str| -> u64 {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing: {:?}", r.headers))
        };
        for left in [2, 1, 0] {
            let r = app.get(&path, &token).await;
            r.assert_status(200);
            assert_eq!(header(&r, "ratelimit-limit"), 3, "{strategy:?}");
            assert_eq!(header(&r, "ratelimit-remaining"), left, "{strategy:?}");
        }
        let r = app.get(&path, &token).await;
        r.assert_error(429, "rate_limited");
        assert_eq!(header(&r, "ratelimit-limit"), 3);
        assert_eq!(header(&r, "ratelimit-remaining"), 0);
        let retry = header(&r, "retry-after");
        // Within two windows: a sliding window's full previous window
        // weighs on the start of the next one.
        assert!((1..=7200).contains(&retry), "{strategy:?}: {retry}");
        assert!(header(&r, "ratelimit-reset") >= 1);
        // The budget is the organization's: a new session shares it.
        let again = app.login(&email, Some(&org.to_string())).await;
        app.get(&path, &again)
            .await
            .assert_error(429, "rate_limited");
        app.stop().await;

        let unlimited = TestApp::spawn_on(env.clone()).await;
        let token = unlimited.login(&email, Some(&org.to_string())).await;
        let refused = unlimited
            .audit_events(org, &token, "action=request.rate_limited")
            .await;
        assert!(!refused.is_empty(), "{strategy:?}");
        assert_eq!(refused[0]["metadata"]["limit"], "organization");
        unlimited.stop().await;
    }
}

/// One session's own per-minute budget.
async fn credential_budget(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.rate_limit.per_credential_per_minute = 2;
    let app = TestApp::spawn_with(env, config).await;
    let (org, token) = app.user_with_org("cred@example.com", "Cred").await;
    let path = format!("/api/v1/orgs/{org}");
    app.get(&path, &token).await.assert_status(200);
    app.get(&path, &token).await.assert_status(200);
    let r = app.get(&path, &token).await;
    r.assert_error(429, "rate_limited");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("credential"));
    // Another session has its own budget.
    let other = app.login("cred@example.com", Some(&org.to_string())).await;
    app.get(&path, &other).await.assert_status(200);
    app.stop().await;
}

/// Two daemons on one Redis admit no more than the limit in total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(loki_postgres, loki_redis)),
    ignore = "set LOKI_TEST_DATABASE_URL and LOKI_TEST_REDIS_URL to run"
)]
async fn two_daemons_share_one_budget() {
    let Some(b) = Backend::postgres() else { return };
    if std::env::var(REDIS_ENV).is_err() {
        loki_tests::skipped(&format!(
            "{REDIS_ENV} is not set: two-daemon rate limit not run"
        ));
        return;
    }
    let env = Arc::new(TestEnv::new(b).await);
    for strategy in Strategy::ALL {
        let a = TestApp::spawn_with(env.clone(), limited(&env, strategy, 10)).await;
        let c = TestApp::spawn_with(env.clone(), limited(&env, strategy, 10)).await;
        let email = format!("{}@example.com", strategy.as_str());
        let (org, _) = a.user_with_org(&email, strategy.as_str()).await;
        // Sign-in and org creation above were not org requests; start now.
        let token = a.login(&email, Some(&org.to_string())).await;
        let path = format!("/api/v1/orgs/{org}");
        let calls = (0..40).map(|i| {
            let app = if i % 2 == 0 { &a } else { &c };
            app.get(&path, &token)
        });
        let replies = futures_util::future::join_all(calls).await;
        let ok = replies.iter().filter(|r| r.status.as_u16() == 200).count();
        let limited = replies.iter().filter(|r| r.status.as_u16() == 429).count();
        assert_eq!((ok, limited), (10, 30), "{strategy:?}");
        a.stop().await;
        c.stop().await;
    }
}

/// A Redis of our own that the test can stop.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    /// `None` (and a visible skip) where redis-server is not installed.
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = tempfile::tempdir().expect("dir");
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                loki_tests::skipped("redis-server is not installed (apt install redis-server): the test that stops a Redis of its own did not run");
                return None;
            }
            Err(e) => panic!("redis-server: {e}"),
        };
        // Wait until it answers.
        let url = format!("redis://127.0.0.1:{port}/");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            if kv::connect(Some(&url), "probe:").await.is_ok() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
        }
        Some(Self {
            child,
            port,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Redis unreachable: sign-in fails closed (503) by default, API-key
/// requests fail open by default; both are configurable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_fails_closed_for_signin_and_open_for_requests() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let env = Arc::new(TestEnv::new(Backend::Sqlite).await);
    let mut open = env.config();
    open.redis_url = Some(redis.url());
    let app = TestApp::spawn_with(env.clone(), open.clone()).await;
    let (org, admin) = app.starter_org("down@example.com", "Down").await;
    let key = app
        .post(
            &format!("/api/v1/orgs/{org}/api-keys"),
            Some(&admin),
            json!({"name": "k", "scopes": ["org:read"]}),
        )
        .await
        .assert_status(201)["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut closed = open.clone();
    closed.rate_limit.on_store_error = FailMode::Closed;
    let strict = TestApp::spawn_with(env.clone(), closed).await;
    // API keys live in the database, and /auth/me needs nothing else from
    // Redis: only the rate limit is left to decide.
    let path = "/api/v1/auth/me";
    app.get(path, &key).await.assert_status(200);

    redis.stop();
    // Fail open: the budget could not be read, the request passes.
    app.get(path, &key).await.assert_status(200);
    // Fail closed for sign-in (the default) and for requests where configured.
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "down@example.com", "password": loki_tests::PASSWORD}),
        )
        .await;
    r.assert_error(503, "unavailable");
    strict
        .get(path, &key)
        .await
        .assert_error(503, "unavailable");
    app.stop().await;
    strict.stop().await;
}

backend_tests!(organization_budget_and_headers, credential_budget);
