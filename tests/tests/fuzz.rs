//! Property-based fuzzing of the HTTP surface: random methods, bodies and
//! headers against the public endpoints and (with a real token) the
//! organization's endpoints. Whatever arrives, the daemon answers with a
//! status below 500 and the one JSON error shape, and stays up.

use std::sync::Arc;

use loki_tests::reqwest::{self, Method};
use loki_tests::{Backend, TestApp, TestEnv};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::Value;

/// Real endpoints with their methods and body fields; `ORG` is replaced with the test
/// organization's id. Public ones first.
const ENDPOINTS: &[(&str, &str, &[&str])] = &[
    ("POST", "/api/v1/auth/register", &["email", "password"]),
    ("POST", "/api/v1/auth/login", &["email", "password"]),
    ("POST", "/api/v1/auth/session", &["email", "password"]),
    ("POST", "/api/v1/auth/refresh", &["refresh_token"]),
    ("POST", "/api/v1/auth/mfa/verify", &["challenge", "code"]),
    ("GET", "/api/v1/openapi.json", &[]),
    ("GET", "/healthz", &[]),
    ("GET", "/api/v1/auth/me", &[]),
    (
        "POST",
        "/api/v1/auth/password",
        &["current_password", "new_password"],
    ),
    ("POST", "/api/v1/auth/switch-org", &["org"]),
    ("POST", "/api/v1/auth/mfa/confirm", &["code"]),
    ("POST", "/api/v1/orgs", &["name", "slug"]),
    ("PATCH", "/api/v1/orgs/ORG", &["name", "slug"]),
    ("POST", "/api/v1/orgs/ORG/members", &["email", "roles"]),
    ("POST", "/api/v1/orgs/ORG/roles", &["name", "permissions"]),
    (
        "PATCH",
        "/api/v1/orgs/ORG/roles/auditor",
        &["description", "permissions"],
    ),
    (
        "POST",
        "/api/v1/orgs/ORG/grants",
        &[
            "resource_type",
            "resource_id",
            "subject_type",
            "subject",
            "permission",
        ],
    ),
    ("GET", "/api/v1/orgs/ORG/grants", &[]),
    ("POST", "/api/v1/orgs/ORG/documents", &[]),
    ("GET", "/api/v1/orgs/ORG/documents", &[]),
    ("GET", "/api/v1/orgs/ORG/audit/events", &[]),
    ("GET", "/api/v1/orgs/ORG/audit/export", &[]),
    ("POST", "/api/v1/orgs/ORG/api-keys", &["name", "scopes"]),
];

const FIELDS: &[&str] = &[
    "email",
    "password",
    "name",
    "slug",
    "settings",
    "tier",
    "scopes",
    "org",
    "refresh_token",
    "challenge",
    "code",
    "roles",
    "role",
    "permissions",
    "parent",
    "ip_allow",
    "ip_deny",
    "audit_retention_days",
    "require_signed_requests",
    "expires_at",
    "subject_type",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        "[a-z0-9.@:/-]{0,30}".prop_map(Value::String),
        Just(Value::String("x".repeat(5000))),
        Just(Value::String("10.0.0.0/8".into())),
        Just(Value::String("2001:db8::/33".into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn odd_string() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,60}".prop_map(Value::String),
        "[a-z0-9@.-]{0,20}@[a-z.]{0,10}".prop_map(Value::String),
        Just(Value::String(" ".into())),
        Just(Value::String("a\u{0}b".into())),
        Just(Value::String("é".repeat(300))),
        Just(json_list()),
    ]
}

fn json_list() -> Value {
    serde_json::json!(["org:read", "nope:nope", ""])
}

/// The endpoint's own field names with odd values: these get past
/// deserialisation into validation.
fn shaped(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec(odd_string(), keys.len()).prop_map(move |values| {
        Value::Object(keys.iter().map(|k| (*k).to_owned()).zip(values).collect())
    })
}

#[derive(Debug, Clone)]
struct Input {
    method: Method,
    path: String,
    query: String,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    authenticated: bool,
}

fn input() -> impl Strategy<Value = Input> {
    let random_method = prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ]);
    let endpoint = prop_oneof![
        5 => prop::sample::select(ENDPOINTS).prop_map(|(m, p, keys)| {
            (m.parse::<Method>().unwrap_or(Method::GET), p.to_owned(), keys)
        }),
        1 => (random_method, "/api/v1/[a-z/{}%.-]{0,40}", Just(&[][..])),
    ];
    let with_body = endpoint.prop_flat_map(|(method, path, keys)| {
        let body = prop_oneof![
            3 => shaped(keys).prop_map(|v| v.to_string().into_bytes()),
            2 => json_value().prop_map(|v| v.to_string().into_bytes()),
            1 => prop::collection::vec(any::<u8>(), 0..256),
            1 => Just(Vec::new()),
        ];
        (Just((method, path)), body)
    });
    let header_names = prop::sample::select(vec![
        "content-type",
        "authorization",
        "cookie",
        "x-csrf-token",
        "x-forwarded-for",
        "x-request-id",
        "x-loki-key-id",
        "x-loki-timestamp",
        "x-loki-nonce",
        "x-loki-signature",
        "accept",
    ]);
    let headers = prop::collection::vec((header_names, "[ -~]{0,80}"), 0..3);
    (
        with_body,
        "[a-z_=&%0-9.:-]{0,40}",
        headers,
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(((method, path), body), query, headers, authenticated)| Input {
                method,
                path,
                query,
                body,
                headers,
                authenticated,
            },
        )
}

type Seen = std::sync::Mutex<std::collections::BTreeMap<u16, usize>>;

async fn send(
    app: &TestApp,
    token: &str,
    org: &str,
    i: &Input,
    seen: &Seen,
) -> Result<(), TestCaseError> {
    let path = i.path.replace("ORG", org);
    let url = if i.query.is_empty() {
        app.url(&path)
    } else {
        format!("{}?{}", app.url(&path), i.query)
    };
    let mut req = app
        .client
        .request(i.method.clone(), url)
        .header("content-type", "application/json")
        .body(i.body.clone());
    if i.authenticated {
        req = req.bearer_auth(token);
    }
    for (name, value) in &i.headers {
        req = req.header(*name, value.as_str());
    }
    let resp = match req.send().await {
        Ok(r) => r,
        // reqwest refused to build it (e.g. an invalid URL): nothing was sent.
        Err(e) if e.is_builder() => return Ok(()),
        Err(e) => return Err(TestCaseError::fail(format!("no answer: {e}"))),
    };
    let status = resp.status();
    *seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(status.as_u16())
        .or_default() += 1;
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        status.as_u16() < 500,
        "{status} for {i:?}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if status.is_client_error() {
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|_| TestCaseError::fail(format!("non-JSON {status} for {i:?}")))?;
        if std::env::var("FUZZ_DEBUG").is_ok() && status.as_u16() == 400 {
            eprintln!("{} {} -> {}", i.method, i.path, body["error"]["message"]);
        }
        prop_assert!(body["error"]["code"].is_string(), "{body}");
        prop_assert!(body["error"]["message"].is_string(), "{body}");
    }
    Ok(())
}

#[test]
fn random_requests_never_break_the_daemon() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (app, token, org) = rt.block_on(async {
        let env = Arc::new(TestEnv::new(Backend::Sqlite).await);
        let mut config = env.config();
        // Let random sign-ins reach the parsers instead of the IP limit.
        config.signin_ip_limit = 1_000_000;
        let app = TestApp::spawn_with(env, config).await;
        let (org, token) = app.user_with_org("fuzz@example.com", "Fuzzed").await;
        (app, token, org.to_string())
    });
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 400,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let seen = Seen::default();
    let result = runner.run(&input(), |i| {
        rt.block_on(send(&app, &token, &org, &i, &seen))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The inputs reached past the front door: many different answers,
    // successes among them.
    let seen = seen.into_inner().unwrap_or_default();
    eprintln!("statuses: {seen:?}");
    assert!(seen.len() >= 6, "{seen:?}");
    assert!(seen.keys().any(|s| (200..300).contains(s)), "{seen:?}");
    assert!(
        seen.contains_key(&422) || seen.contains_key(&400),
        "{seen:?}"
    );
    rt.block_on(async {
        let health = reqwest::get(app.url("/healthz")).await.expect("still up");
        assert!(health.status().is_success());
        app.stop().await;
    });
}
