//! Evidence documents: upload, list with filters and paging, download,
//! versions, metadata, deletion, the storage quota (also under concurrent
//! uploads), and bad uploads.

use std::sync::Arc;

use loki_shared::Tier;
use loki_tests::{backend_tests, json, Backend, Reply, TestApp, TestEnv};
use uuid::Uuid;

async fn put(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .body(body);
    if let Some(c) = ctype {
        req = req.header("content-type", c);
    }
    TestApp::reply(req.send().await.expect("request")).await
}

async fn upload(
    app: &TestApp,
    org: Uuid,
    token: &str,
    query: &str,
    ctype: &str,
    body: &[u8],
) -> Reply {
    let path = format!("/api/v1/orgs/{org}/documents?{query}");
    put(
        app,
        token,
        reqwest::Method::POST,
        &path,
        Some(ctype),
        body.to_vec(),
    )
    .await
}

async fn lifecycle(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, admin) = app.user_with_org("docs@example.com", "Evidence").await;
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    let r = upload(
        &app,
        org,
        &admin,
        "name=Access%20review%20Q3.pdf&controls=CC6.1,A.5.15&description=Quarterly%20review",
        "application/pdf",
        pdf,
    )
    .await;
    let doc = r.assert_status(201).clone();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["size"], pdf.len());
    assert_eq!(
        doc["frameworks"],
        json!(["soc2", "iso27001"]),
        "implied by the controls"
    );
    assert_eq!(doc["controls"], json!(["CC6.1", "A.5.15"]));
    assert_eq!(doc["sha256"].as_str().map(str::len), Some(64));
    let id = doc["id"].as_str().unwrap_or_default().to_owned();
    let base = format!("/api/v1/orgs/{org}/documents");

    // More documents, for filters and paging.
    for i in 0..5 {
        upload(
            &app,
            org,
            &admin,
            &format!("name=log-{i}.txt&frameworks=gdpr"),
            "text/plain",
            format!("log {i}").as_bytes(),
        )
        .await
        .assert_status(201);
    }
    let all = app.get(&format!("{base}?limit=4"), &admin).await;
    let page1 = all.assert_status(200).clone();
    assert_eq!(page1["documents"].as_array().map(Vec::len), Some(4));
    assert_eq!(page1["documents"][0]["name"], "log-4.txt", "newest first");
    let cursor = page1["next_cursor"].as_str().unwrap_or_default();
    let page2 = app
        .get(&format!("{base}?limit=4&cursor={cursor}"), &admin)
        .await;
    let page2 = page2.assert_status(200).clone();
    assert_eq!(page2["documents"].as_array().map(Vec::len), Some(2));
    assert!(page2.get("next_cursor").is_none());
    let gdpr = app.get(&format!("{base}?framework=gdpr"), &admin).await;
    assert_eq!(
        gdpr.assert_status(200)["documents"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    let ctl = app.get(&format!("{base}?control=A.5.15"), &admin).await;
    assert_eq!(ctl.assert_status(200)["documents"][0]["id"], id.as_str());
    let q = app.get(&format!("{base}?q=ACCESS"), &admin).await;
    assert_eq!(
        q.assert_status(200)["documents"].as_array().map(Vec::len),
        Some(1)
    );
    let wild = app.get(&format!("{base}?q=%25"), &admin).await;
    assert_eq!(
        wild.assert_status(200)["documents"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "% is literal"
    );
    app.get(&format!("{base}?limit=0"), &admin)
        .await
        .assert_error(422, "validation_failed");
    app.get(&format!("{base}?cursor=nope"), &admin)
        .await
        .assert_error(400, "invalid_cursor");

    // Download: the exact bytes, as an attachment that browsers will not sniff.
    let resp = app
        .client
        .get(app.url(&format!("{base}/{id}/content")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert_eq!(
        h.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert!(h
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("attachment;")));
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(resp.bytes().await.expect("bytes").as_ref(), pdf);

    // Metadata and new versions.
    let r = app
        .patch(
            &format!("{base}/{id}"),
            &admin,
            json!({"name": "Access review Q3 (final).pdf", "controls": ["CC6.2"]}),
        )
        .await;
    assert_eq!(r.assert_status(200)["controls"], json!(["CC6.2"]));
    app.patch(
        &format!("{base}/{id}"),
        &admin,
        json!({"controls": ["XX9.9"]}),
    )
    .await
    .assert_error(422, "validation_failed");
    let v2 = b"%PDF-1.7\n% revised\n%%EOF\n";
    let r = put(
        &app,
        &admin,
        reqwest::Method::PUT,
        &format!("{base}/{id}/content"),
        Some("application/pdf"),
        v2.to_vec(),
    )
    .await;
    assert_eq!(r.assert_status(200)["version"], 2);
    let versions = app.get(&format!("{base}/{id}/versions"), &admin).await;
    assert_eq!(
        versions.assert_status(200)["versions"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let old = app
        .client
        .get(app.url(&format!("{base}/{id}/content?version=1")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("v1");
    assert_eq!(old.bytes().await.expect("bytes").as_ref(), pdf);
    app.get(&format!("{base}/{id}/content?version=9"), &admin)
        .await
        .assert_error(404, "not_found");

    // Storage counts unique content once; deleting gives it back.
    let used = |r: &Reply| r.body["storage_used_bytes"].as_u64().unwrap_or(u64::MAX);
    let before = used(&app.get(&format!("/api/v1/orgs/{org}"), &admin).await);
    upload(&app, org, &admin, "name=copy.pdf", "application/pdf", pdf)
        .await
        .assert_status(201);
    assert_eq!(
        used(&app.get(&format!("/api/v1/orgs/{org}"), &admin).await),
        before,
        "deduplicated"
    );
    assert_eq!(
        app.delete(&format!("{base}/{id}"), &admin)
            .await
            .status
            .as_u16(),
        204
    );
    app.get(&format!("{base}/{id}"), &admin)
        .await
        .assert_error(404, "not_found");
    let after = used(&app.get(&format!("/api/v1/orgs/{org}"), &admin).await);
    assert_eq!(
        after,
        before - v2.len() as u64,
        "v2 freed; v1 still used by the copy"
    );
    app.stop().await;
}

async fn bad_uploads(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.max_document_bytes = 1000;
    let app = TestApp::spawn_with(env, config).await;
    let (org, admin) = app.user_with_org("bad@example.com", "Bad").await;
    upload(&app, org, &admin, "name=empty.txt", "text/plain", b"")
        .await
        .assert_error(422, "validation_failed");
    upload(
        &app,
        org,
        &admin,
        "name=big.txt",
        "text/plain",
        &[b'a'; 1001],
    )
    .await
    .assert_error(413, "payload_too_large");
    upload(
        &app,
        org,
        &admin,
        "name=page.html",
        "text/html",
        b"<script>alert(1)</script>",
    )
    .await
    .assert_error(415, "unsupported_content_type");
    let none = put(
        &app,
        &admin,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{org}/documents?name=x"),
        None,
        b"x".to_vec(),
    )
    .await;
    none.assert_error(415, "unsupported_content_type");
    upload(
        &app,
        org,
        &admin,
        "name=fake.pdf",
        "application/pdf",
        b"MZ\x90\x00 not a pdf",
    )
    .await
    .assert_error(422, "validation_failed");
    upload(
        &app,
        org,
        &admin,
        "name=x.txt&frameworks=hipaa",
        "text/plain",
        b"x",
    )
    .await
    .assert_error(422, "validation_failed");
    upload(
        &app,
        org,
        &admin,
        "name=x.txt&controls=CC99.9",
        "text/plain",
        b"x",
    )
    .await
    .assert_error(422, "validation_failed");
    upload(&app, org, &admin, "frameworks=soc2", "text/plain", b"x")
        .await
        .assert_error(400, "invalid_query");
    upload(&app, org, &admin, "name=x.txt&owner=me", "text/plain", b"x")
        .await
        .assert_error(400, "invalid_query");
    upload(&app, org, &admin, "name=%00", "text/plain", b"x")
        .await
        .assert_error(422, "validation_failed");
    upload(
        &app,
        org,
        &admin,
        "name=bad.json",
        "application/json",
        b"{not json",
    )
    .await
    .assert_error(422, "validation_failed");
    upload(
        &app,
        org,
        &admin,
        "name=ok.json",
        "application/json; charset=utf-8",
        b"{\"ok\":true}",
    )
    .await
    .assert_status(201);
    app.stop().await;
}

async fn the_storage_quota_holds_under_concurrent_uploads(b: Backend) {
    let env = Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.limits.insert(
        Tier::Free,
        loki_daemon::config::LimitOverrides {
            max_storage_bytes: Some(1000),
            ..Default::default()
        },
    );
    let app = TestApp::spawn_with(env, config).await;
    let (org, admin) = app.user_with_org("quota@example.com", "Quota").await;
    let uploads = (0..10).map(|i| {
        let body = format!("{i:0>300}"); // 300 distinct bytes each
        let (app, admin) = (&app, &admin);
        async move {
            upload(
                app,
                org,
                admin,
                &format!("name=f{i}.txt"),
                "text/plain",
                body.as_bytes(),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(uploads).await;
    let ok = results.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(ok, 3, "3 x 300 bytes fit in 1000: {results:?}");
    for r in results.iter().filter(|r| r.status.as_u16() != 201) {
        r.assert_error(402, "tier_limit_exceeded");
    }
    let org_now = app.get(&format!("/api/v1/orgs/{org}"), &admin).await;
    assert_eq!(org_now.assert_status(200)["storage_used_bytes"], 900);
    let list = app
        .get(&format!("/api/v1/orgs/{org}/documents"), &admin)
        .await;
    assert_eq!(
        list.assert_status(200)["documents"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    app.stop().await;
}

backend_tests!(
    lifecycle,
    bad_uploads,
    the_storage_quota_holds_under_concurrent_uploads
);
