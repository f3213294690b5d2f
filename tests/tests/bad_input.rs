//! Bad input gets a clear 4xx in the shared error shape: never a 500, a
//! panic or a hang.

use loki_tests::{backend_tests, json, Backend, TestApp, PASSWORD};
use reqwest::Method;

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> loki_tests::Reply {
    let mut req = app.client.request(method, app.url(path)).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(c) = ctype {
        req = req.header("content-type", c);
    }
    TestApp::reply(req.send().await.expect("request")).await
}

async fn malformed_bodies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.user_with_org("x@example.com", "Inputs").await;
    let json_ct = Some("application/json");
    let cases: &[(&[u8], u16, &str)] = &[
        (b"{\"name\": ", 400, "malformed_json"),
        (b"not json at all", 400, "malformed_json"),
        (b"", 400, "malformed_json"),
        (b"{\"name\": 42}", 400, "invalid_body"),
        (b"{\"name\": null}", 400, "invalid_body"),
        (b"[]", 400, "invalid_body"),
        (b"{}", 400, "invalid_body"),
        (b"{\"name\": \"ok\", \"admin\": true}", 400, "unknown_field"),
        (b"{\"name\": \"\"}", 422, "validation_failed"),
        (b"{\"name\": \"a\\u0000b\"}", 422, "validation_failed"),
        (
            b"{\"name\": \"ok\", \"slug\": \"Bad Slug\"}",
            422,
            "validation_failed",
        ),
        (b"\xff\xfe\x00garbage", 400, "malformed_json"),
    ];
    for (body, status, code) in cases {
        let r = raw(
            &app,
            Method::POST,
            "/api/v1/orgs",
            Some(&token),
            json_ct,
            body.to_vec(),
        )
        .await;
        assert_eq!(
            r.status.as_u16(),
            *status,
            "body {:?} -> {}",
            String::from_utf8_lossy(body),
            r.body
        );
        r.assert_error(*status, code);
    }
    let long_name = json!({"name": "n".repeat(201)}).to_string().into_bytes();
    raw(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&token),
        json_ct,
        long_name,
    )
    .await
    .assert_error(422, "validation_failed");
    // Missing or wrong content type.
    raw(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&token),
        None,
        b"{\"name\":\"a\"}".to_vec(),
    )
    .await
    .assert_error(415, "unsupported_media_type");
    raw(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&token),
        Some("text/plain"),
        b"{\"name\":\"a\"}".to_vec(),
    )
    .await
    .assert_error(415, "unsupported_media_type");
    app.stop().await;
}

async fn oversized_bodies_are_refused(b: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(b).await;
    // Declared too large: answered before the body is sent.
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        2 * 1024 * 1024
    );
    conn.write_all(head.as_bytes()).await.expect("write");
    let mut response = String::new();
    conn.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("\"code\":\"payload_too_large\""),
        "{response}"
    );
    // Streamed without a length: cut off while reading. (Its own client:
    // the daemon closes this connection, which must not go back to the
    // shared pool.)
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // The daemon may close while the client still sends; when an answer
    // arrives, it is the JSON 413.
    if let Ok(resp) = r {
        TestApp::reply(resp)
            .await
            .assert_error(413, "payload_too_large");
    }
    // Long but under the body limit: the password policy names the field.
    let long = json!({"email": "big@example.com", "password": "p1!Xy".repeat(100)});
    app.post("/api/v1/auth/register", None, long)
        .await
        .assert_error(422, "validation_failed");
    // The daemon is still fine.
    app.register("big@example.com").await;
    app.stop().await;
}

async fn bad_ids_routes_and_methods(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, token) = app.user_with_org("ids@example.com", "Ids").await;
    for bad in [
        "not-a-uuid",
        "1",
        "00000000-0000-0000-0000-00000000000g",
        "%27%20OR%201%3D1--",
    ] {
        app.get(&format!("/api/v1/orgs/{bad}"), &token)
            .await
            .assert_error(400, "invalid_path_parameter");
        app.get(&format!("/api/v1/orgs/{org}/members/{bad}"), &token)
            .await
            .assert_error(400, "invalid_path_parameter");
    }
    // A slug where the id belongs: the answer says which to use.
    let r = app.get("/api/v1/orgs/ids/members", &token).await;
    r.assert_error(400, "invalid_path_parameter");
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not the slug"), "{message}");
    app.get("/api/v1/nothing-here", &token)
        .await
        .assert_error(404, "not_found");
    app.call(Method::PUT, "/api/v1/orgs", Some(&token), None)
        .await
        .assert_error(405, "method_not_allowed");
    app.call(
        Method::GET,
        &format!("/api/v1/orgs/{org}?bogus=1"),
        Some(&token),
        None,
    )
    .await
    .assert_status(200);
    app.call(
        Method::DELETE,
        &format!("/api/v1/orgs/{org}?bogus=1"),
        Some(&token),
        None,
    )
    .await
    .assert_error(400, "invalid_query");
    app.stop().await;
}

async fn duplicates_conflict(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("dup@example.com").await;
    app.post(
        "/api/v1/auth/register",
        None,
        json!({"email": "DUP@example.com", "password": PASSWORD}),
    )
    .await
    .assert_error(409, "email_taken");
    let token = app.login("dup@example.com", None).await;
    app.post(
        "/api/v1/orgs",
        Some(&token),
        json!({"name": "One", "slug": "same"}),
    )
    .await
    .assert_status(201);
    app.post(
        "/api/v1/orgs",
        Some(&token),
        json!({"name": "Two", "slug": "same"}),
    )
    .await
    .assert_error(409, "slug_taken");
    app.stop().await;
}

backend_tests!(
    malformed_bodies,
    oversized_bodies_are_refused,
    bad_ids_routes_and_methods,
    duplicates_conflict
);
