//! The security layer: response headers, body limits, timeouts and IP
//! rules (global and per organization, IPv4 and IPv6, trusted proxies).

use std::sync::Arc;
use std::time::Duration;

use loki_tests::{backend_tests, json, Backend, TestApp, TestEnv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EXPECTED: [(&str, &str); 6] = [
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (
        "permissions-policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
    ),
];

fn assert_security_headers(r: &loki_tests::Reply, what: &str) {
    for (name, value) in EXPECTED {
        assert_eq!(
            r.headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name} on {what}"
        );
    }
}

async fn headers_on_every_response(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ok = TestApp::reply(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz"),
    )
    .await;
    assert_security_headers(&ok, "200");
    let (org, admin) = app.user_with_org("h@example.com", "Headers").await;
    let page = app.get(&format!("/api/v1/orgs/{org}"), &admin).await;
    page.assert_status(200);
    assert_security_headers(&page, "an API answer");
    assert_eq!(
        page.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let unauth = app.get("/api/v1/auth/me", "nonsense").await;
    unauth.assert_error(401, "invalid_token");
    assert_security_headers(&unauth, "401");
    let missing = app.get("/api/v1/nothing-here", &admin).await;
    missing.assert_error(404, "not_found");
    assert_security_headers(&missing, "404");
    app.stop().await;
}

async fn oversized_bodies_are_refused(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.max_body_bytes = 1024;
    let app = TestApp::spawn_with(env, config).await;
    let big = json!({"email": "a@example.com", "password": "x".repeat(4096)});
    // Declared length over the limit: refused before the body is read.
    let r = app.post("/api/v1/auth/register", None, big.clone()).await;
    r.assert_error(413, "payload_too_large");
    assert_security_headers(&r, "413");
    // No declared length (chunked): cut off while read.
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let r = TestApp::reply(
        app.client
            .post(app.url("/api/v1/auth/register"))
            .header("content-type", "application/json")
            .body(loki_tests::reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(413, "payload_too_large");
    app.stop().await;
}

/// A client that sends headers and then stalls gets 408 once the request
/// timeout passes; the daemon keeps serving others.
async fn stalled_requests_time_out(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.request_timeout_secs = 1;
    let app = TestApp::spawn_with(env, config).await;
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    conn.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"em",
    )
    .await
    .expect("write");
    let mut answer = Vec::new();
    // Bounded so a regression fails instead of hanging the suite.
    tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("an answer, not a hang");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{text}"
    );
    app.client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("still serving")
        .error_for_status()
        .expect("healthy");
    app.stop().await;
}

async fn get_with_forwarded_for(
    app: &TestApp,
    path: &str,
    token: &str,
    xff: &str,
) -> loki_tests::Reply {
    TestApp::reply(
        app.client
            .get(app.url(path))
            .bearer_auth(token)
            .header("x-forwarded-for", xff)
            .send()
            .await
            .expect("send"),
    )
    .await
}

/// Without a trusted proxy, X-Forwarded-For is the client's own claim and
/// is ignored; behind a trusted proxy the last untrusted hop is the client.
async fn global_rules_and_forwarded_for(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.ip_allow = vec!["10.0.0.0/8".parse().expect("cidr")];
    let strict = TestApp::spawn_with(env.clone(), config.clone()).await;
    let r = get_with_forwarded_for(&strict, "/healthz", "x", "10.1.2.3").await;
    r.assert_error(403, "ip_denied");
    strict.stop().await;

    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    config.ip_deny = vec!["10.66.0.0/16".parse().expect("cidr")];
    let proxied = TestApp::spawn_with(env, config).await;
    get_with_forwarded_for(&proxied, "/healthz", "x", "10.1.2.3")
        .await
        .assert_status(200);
    // The client prepended a fake allowed address; the proxy appended the real one.
    get_with_forwarded_for(&proxied, "/healthz", "x", "10.1.2.3, 203.0.113.5")
        .await
        .assert_error(403, "ip_denied");
    // Deny wins over allow.
    get_with_forwarded_for(&proxied, "/healthz", "x", "10.66.1.1")
        .await
        .assert_error(403, "ip_denied");
    // The proxy itself (no header) is not in the allow list.
    let r = TestApp::reply(
        proxied
            .client
            .get(proxied.url("/healthz"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_error(403, "ip_denied");
    proxied.stop().await;
}

/// A daemon on the IPv6 loopback, with IPv6 rules.
async fn ipv6_rules(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.listen = "[::1]:0".parse().expect("addr");
    config.ip_allow = vec!["::1/128".parse().expect("cidr")];
    let allowed = TestApp::spawn_with(env.clone(), config.clone()).await;
    assert!(allowed.addr.is_ipv6());
    allowed.register("six@example.com").await;
    allowed.stop().await;

    config.ip_allow = vec!["2001:db8::/32".parse().expect("cidr")];
    let refused = TestApp::spawn_with(env, config).await;
    let r = refused
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "six@example.com", "password": loki_tests::PASSWORD}),
        )
        .await;
    r.assert_error(403, "ip_denied");
    refused.stop().await;
}

/// An organization's own rules: set through the API (audited), refusing
/// a self-lockout, applied to its members' requests, recorded when they bite.
async fn organization_rules(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    let app = TestApp::spawn_with(env, config).await;
    let (org, admin) = app.user_with_org("ipadmin@example.com", "Fenced").await;
    let path = format!("/api/v1/orgs/{org}");
    let settings = |allow: &[&str], deny: &[&str]| json!({"settings": {"audit_retention_days": 365, "ip_allow": allow, "ip_deny": deny}});

    // Rules that would refuse the caller's own address are refused.
    let r = app
        .patch(&path, &admin, settings(&["2001:db8::/32"], &[]))
        .await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("settings.ip_allow"));
    // Malformed networks name the field.
    let r = app
        .patch(&path, &admin, settings(&["10.0.0.0/33"], &[]))
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ip_allow"),
        "{}",
        r.body
    );

    let r = app
        .patch(
            &path,
            &admin,
            settings(&["127.0.0.0/8", "2001:db8::/32"], &["2001:db8:bad::/48"]),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["settings"]["ip_allow"],
        json!(["127.0.0.0/8", "2001:db8::/32"])
    );
    let changed = app
        .audit_events(org, &admin, "action=security.settings_changed")
        .await;
    assert_eq!(changed.len(), 1);

    get_with_forwarded_for(&app, &path, &admin, "2001:db8::7")
        .await
        .assert_status(200);
    get_with_forwarded_for(&app, &path, &admin, "2001:db9::7")
        .await
        .assert_error(403, "ip_denied");
    get_with_forwarded_for(&app, &path, &admin, "2001:db8:bad::1")
        .await
        .assert_error(403, "ip_denied");
    // Another organization's members are not bound by these rules.
    let (other, other_admin) = app.user_with_org("else@example.com", "Open").await;
    get_with_forwarded_for(
        &app,
        &format!("/api/v1/orgs/{other}"),
        &other_admin,
        "2001:db9::7",
    )
    .await
    .assert_status(200);

    let denied = app
        .audit_events(org, &admin, "action=request.ip_denied")
        .await;
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(denied[0]["metadata"]["scope"], "organization");
    let ips: Vec<_> = denied
        .iter()
        .map(|e| e["ip"].as_str().unwrap_or_default())
        .collect();
    assert!(
        ips.contains(&"2001:db9::7") && ips.contains(&"2001:db8:bad::1"),
        "{ips:?}"
    );
    app.stop().await;
}

backend_tests!(
    headers_on_every_response,
    oversized_bodies_are_refused,
    stalled_requests_time_out,
    global_rules_and_forwarded_for,
    ipv6_rules,
    organization_rules,
);
