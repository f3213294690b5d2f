//! Browser sessions: the HttpOnly cookie and its CSRF token.

use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};
use reqwest::Method;

async fn cookie_sessions_need_csrf_for_changes(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("web@example.com").await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/session"))
        .json(&json!({"email": "web@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = TestApp::reply(resp).await;
    let csrf = body.assert_status(200)["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(set_cookie.starts_with("loki_session="), "{set_cookie}");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attr), "{attr} missing in {set_cookie}");
    }
    assert!(
        body.body.get("access_token").is_none(),
        "no bearer token for browsers"
    );
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();

    let send = |method: Method, path: &str, csrf: Option<&str>, body: Option<serde_json::Value>| {
        let mut req = app
            .client
            .request(method, app.url(path))
            .header("cookie", &cookie);
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move { TestApp::reply(req.send().await.expect("request")).await }
    };
    // Reads need no CSRF token.
    let me = send(Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!(me.assert_status(200)["user"]["email"], "web@example.com");
    // Changes do: missing, wrong, right.
    let org = json!({"name": "Via Browser"});
    send(Method::POST, "/api/v1/orgs", None, Some(org.clone()))
        .await
        .assert_error(403, "csrf_token_missing");
    send(
        Method::POST,
        "/api/v1/orgs",
        Some("forged-token"),
        Some(org.clone()),
    )
    .await
    .assert_error(403, "csrf_token_invalid");
    send(Method::POST, "/api/v1/orgs", Some(&csrf), Some(org))
        .await
        .assert_status(201);

    // The CSRF token of one session does not work for another.
    let other = app
        .post(
            "/api/v1/auth/session",
            None,
            json!({"email": "web@example.com", "password": PASSWORD}),
        )
        .await;
    let other_csrf = other.body["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    send(
        Method::POST,
        "/api/v1/orgs",
        Some(&other_csrf),
        Some(json!({"name": "x"})),
    )
    .await
    .assert_error(403, "csrf_token_invalid");

    // Bearer requests are not subject to CSRF.
    let bearer = app.login("web@example.com", None).await;
    app.post("/api/v1/orgs", Some(&bearer), json!({"name": "Via Bearer"}))
        .await
        .assert_status(201);

    // A forged cookie is refused.
    let forged = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("{}x", cookie))
        .send()
        .await
        .expect("request");
    TestApp::reply(forged)
        .await
        .assert_error(401, "invalid_session_cookie");

    // Logout (with CSRF) clears the cookie and ends the session.
    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("request");
    assert_eq!(out.status().as_u16(), 204);
    let cleared = out
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    send(Method::GET, "/api/v1/auth/me", None, None)
        .await
        .assert_error(401, "invalid_session_cookie");
    app.stop().await;
}

backend_tests!(cookie_sessions_need_csrf_for_changes);
