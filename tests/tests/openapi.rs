//! The served OpenAPI document describes the daemon's real routes: it is
//! the one `lokid openapi` prints, and every operation it lists is routed
//! (a protected one answers 401 for lack of credentials, never 404/405).

use loki_tests::{reqwest::Method, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = TestApp::reply(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("openapi.json"),
    )
    .await;
    let served = r.assert_status(200).clone();
    let generated =
        serde_json::to_value(loki_daemon::http::openapi::document()).expect("document as JSON");
    assert_eq!(served, generated);

    let paths = served["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        let concrete: String = path
            .split('/')
            .map(|seg| match seg {
                "{role}" | "{name}" => "auditor".to_owned(),
                s if s.starts_with('{') => uuid::Uuid::new_v4().to_string(),
                s => s.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().expect("path item") {
            let Ok(m) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let public = op.get("security").is_none();
            let reply = app.call(m.clone(), &concrete, None, None).await;
            let status = reply.status.as_u16();
            if public {
                assert!(
                    ![404, 405, 500].contains(&status),
                    "{method} {path}: {status} {}",
                    reply.body
                );
            } else {
                reply.assert_error(401, "missing_credentials");
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} operations documented");
    app.stop().await;
}
