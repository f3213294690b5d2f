//! The embedded default must not wedge: requests cancelled in the middle of
//! their transactions leave no transaction (and on SQLite no write lock)
//! behind; storage faults answer 503 `storage_unavailable`, `/readyz` says
//! so, and the daemon serves again once the fault clears.

use std::time::Duration;

use loki_tests::{backend_tests, json, Backend, TestApp, TestEnv, PASSWORD};

/// Writes cut off at random points (client gone), under load, then
/// sign-ins: every one must succeed promptly.
async fn cancelled_requests_leave_no_transaction_open(b: Backend) {
    let env = std::sync::Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.signin_ip_limit = 100_000;
    let app = TestApp::spawn_with(env, config).await;
    let (org, admin) = app.user_with_org("load@example.com", "Load").await;
    // Clients that give up after 0.2–3 ms: mostly mid-request, many of them
    // inside a transaction (org update, role creation, uploads).
    let impatient = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    // Three rounds, each cutting requests off at different points.
    for round in 0..3u64 {
        let mut tasks = Vec::new();
        for i in (round * 400)..(round * 400 + 400) {
            let (client, admin) = (impatient.clone(), admin.clone());
            let base = app.url("");
            tasks.push(tokio::spawn(async move {
                let path = match i % 3 {
                    0 => format!("{base}/api/v1/orgs/{org}"),
                    1 => format!("{base}/api/v1/orgs/{org}/roles"),
                    _ => format!("{base}/api/v1/orgs/{org}/documents?name=n{i}.txt"),
                };
                let req = match i % 3 {
                    0 => client
                        .patch(&path)
                        .json(&json!({"name": format!("Load {i}")})),
                    1 => client
                        .post(&path)
                        .json(&json!({"name": format!("r{i}"), "permissions": ["org:read"]})),
                    _ => client
                        .post(&path)
                        .header("content-type", "text/plain")
                        .body(format!("evidence {i}")),
                };
                let limit = Duration::from_micros(200 + (i * 7919) % 2800);
                let _ = tokio::time::timeout(limit, req.bearer_auth(admin).send()).await;
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    }
    let load_done = chrono::Utc::now();
    // Every connection is usable: sign-ins (which write) all succeed, each
    // well within the busy timeout a leaked write lock would exhaust.
    for _ in 0..20 {
        let started = std::time::Instant::now();
        let r = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": "load@example.com", "password": PASSWORD}),
            )
            .await;
        r.assert_status(200);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a sign-in waited {:?}: a connection is stuck in a transaction",
            started.elapsed()
        );
    }
    // On PostgreSQL a stranded transaction does not block others: look
    // for it directly. None begun during the load may still be open now,
    // seconds of sign-ins later.
    if let Some(pg) = &app.env.pg {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&pg.url)
            .await
            .expect("connect");
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND xact_start < $1",
        )
        .bind(load_done)
        .fetch_one(&mut c)
        .await
        .expect("pg_stat_activity");
        assert_eq!(
            open, 0,
            "transactions from the cancelled requests are still open"
        );
    }
    let ready = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    ready.assert_status(200);
    app.patch(
        &format!("/api/v1/orgs/{org}"),
        &admin,
        json!({"name": "Still writable"}),
    )
    .await
    .assert_status(200);
    app.stop().await;
}

backend_tests!(cancelled_requests_leave_no_transaction_open);

/// SQLite on a small filesystem that fills up: writes answer 503
/// `storage_unavailable`, readiness says not ready, and once space is back
/// every pooled connection works again. Needs root (mounts a tmpfs); the
/// skip is printed so it never passes unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_answers_503_and_recovers() {
    let mount = tempfile::tempdir().expect("tempdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(mount.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        loki_tests::skipped(
            "sqlite_disk_full_answers_503_and_recovers: cannot mount a tmpfs (needs root)",
        );
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(mount.path().to_path_buf());

    let env = std::sync::Arc::new(TestEnv::new(Backend::Sqlite).await);
    let mut config = env.config();
    config.data_dir = mount.path().join("data");
    let app = TestApp::spawn_with(env, config).await;
    let (org, admin) = app.user_with_org("full@example.com", "Full").await;

    // Fill the filesystem.
    let filler = mount.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
    }
    let upload = |i: usize| {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/orgs/{org}/documents?name=big{i}.txt"));
        let token = admin.clone();
        async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "text/plain")
                .body("x".repeat(256 * 1024))
                .send()
                .await
                .expect("upload");
            TestApp::reply(r).await
        }
    };
    let mut refused = None;
    for i in 0..8 {
        let r = upload(i).await;
        assert!(
            r.status.as_u16() != 500,
            "a full disk is not a 500: {}",
            r.body
        );
        if r.status.as_u16() == 503 {
            refused = Some(r);
            break;
        }
    }
    refused
        .expect("a write on a full disk is refused")
        .assert_error(503, "storage_unavailable");
    let ready = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status.as_u16(), 503, "{}", ready.body);
    assert_eq!(ready.body["database"], "unavailable");

    // Space is back: no connection stays poisoned.
    std::fs::remove_file(&filler).expect("remove filler");
    for i in 0..6 {
        upload(100 + i).await.assert_status(201);
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "full@example.com", "password": PASSWORD}),
        )
        .await
        .assert_status(200);
    }
    let ready = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    ready.assert_status(200);
    app.stop().await;
}

/// PostgreSQL turned read-only under a running daemon (as on a failover to a
/// standby, or a full disk made read-only by the operator): writes answer
/// 503 `storage_unavailable`, reads still answer, `/readyz` says not ready,
/// and once the database takes writes again the daemon serves as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(loki_postgres), ignore = "set LOKI_TEST_DATABASE_URL to run")]
async fn postgres_read_only_answers_503_and_recovers() {
    let Some(b) = Backend::postgres() else {
        return;
    };
    let env = std::sync::Arc::new(TestEnv::new(b).await);
    let app = TestApp::spawn_with(env.clone(), env.config()).await;
    let (org, admin) = app.user_with_org("ro@example.com", "Read Only").await;
    let pg = env.pg.as_ref().expect("postgres");

    pg.set_read_only(true).await.expect("read-only");
    let rename = async |name: &str| {
        app.patch(
            &format!("/api/v1/orgs/{org}"),
            &admin,
            json!({ "name": name }),
        )
        .await
    };
    rename("Refused")
        .await
        .assert_error(503, "storage_unavailable");
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "ro@example.com", "password": PASSWORD}),
    )
    .await
    .assert_error(503, "storage_unavailable");
    let read = app.get(&format!("/api/v1/orgs/{org}"), &admin).await;
    assert_eq!(read.assert_status(200)["name"], "Read Only");
    let ready = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status.as_u16(), 503, "{}", ready.body);
    assert_eq!(ready.body["database"], "unavailable");

    pg.set_read_only(false).await.expect("writable");
    // Every pooled connection was cut twice; each must serve again.
    for i in 0..6 {
        rename(&format!("Back {i}")).await.assert_status(200);
    }
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "ro@example.com", "password": PASSWORD}),
    )
    .await
    .assert_status(200);
    app.call(reqwest::Method::GET, "/readyz", None, None)
        .await
        .assert_status(200);
    app.stop().await;
}

/// The data dir and database files are private whatever the umask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = std::sync::Arc::new(TestEnv::new(Backend::Sqlite).await);
    let mut config = env.config();
    config.data_dir = env.dir.path().join("fresh");
    let app = TestApp::spawn_with(env.clone(), config).await;
    app.register("files@example.com").await;
    let mode = |p: std::path::PathBuf| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = env.dir.path().join("fresh");
    assert_eq!(mode(dir.clone()), 0o700);
    for f in ["loki.db", "loki.db-wal", "master.key"] {
        assert_eq!(mode(dir.join(f)), 0o600, "{f}");
    }
    app.stop().await;
}
