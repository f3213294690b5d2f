//! Two lokid processes on one PostgreSQL and one Redis: revocations and
//! single-use refresh tokens hold across them.

use std::sync::Arc;

use loki_tests::{json, Backend, TestApp, TestEnv, REDIS_ENV};

async fn pair() -> Option<(TestApp, TestApp)> {
    let b = Backend::postgres()?;
    assert!(
        std::env::var(REDIS_ENV).is_ok(),
        "two daemons need {REDIS_ENV} as well"
    );
    let env = Arc::new(TestEnv::new(b).await);
    let a = TestApp::spawn_on(env.clone()).await;
    let b = TestApp::spawn_on(env).await;
    assert_eq!(a.state.kv.kind(), "redis");
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(loki_postgres, loki_redis)),
    ignore = "set LOKI_TEST_DATABASE_URL and LOKI_TEST_REDIS_URL to run"
)]
async fn a_session_revoked_on_one_daemon_is_refused_by_the_other() {
    let Some((a, b)) = pair().await else { return };
    a.register("both@example.com").await;
    let t1 = a.login("both@example.com", None).await;
    let t2 = b.login("both@example.com", None).await;
    // Tokens from either daemon work on both (shared keys, shared sessions).
    b.get("/api/v1/auth/me", &t1).await.assert_status(200);
    a.get("/api/v1/auth/me", &t2).await.assert_status(200);
    let sid = b.get("/api/v1/auth/me", &t1).await.body["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = a.delete(&format!("/api/v1/auth/sessions/{sid}"), &t2).await;
    assert_eq!(r.status.as_u16(), 204);
    b.get("/api/v1/auth/me", &t1)
        .await
        .assert_error(401, "session_revoked");
    // Logout through B ends the session for A.
    let r = b
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&t2),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    a.get("/api/v1/auth/me", &t2)
        .await
        .assert_error(401, "session_revoked");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(loki_postgres, loki_redis)),
    ignore = "set LOKI_TEST_DATABASE_URL and LOKI_TEST_REDIS_URL to run"
)]
async fn a_refresh_token_used_on_one_daemon_cannot_be_used_on_the_other() {
    let Some((a, b)) = pair().await else { return };
    a.register("rt@example.com").await;
    let pair1 = a.login_full("rt@example.com", None).await;
    let rt = pair1["refresh_token"].clone();
    let r = a
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": rt}))
        .await;
    let fresh = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    b.post("/api/v1/auth/refresh", None, json!({"refresh_token": rt}))
        .await
        .assert_error(401, "refresh_token_reused");
    // The reuse ended the family everywhere.
    a.get("/api/v1/auth/me", &fresh)
        .await
        .assert_error(401, "session_revoked");

    // Racing the same refresh token on both daemons: exactly one wins.
    let pair2 = b.login_full("rt@example.com", None).await;
    let rt2 = pair2["refresh_token"].clone();
    let (ra, rb) = tokio::join!(
        a.post("/api/v1/auth/refresh", None, json!({"refresh_token": rt2})),
        b.post("/api/v1/auth/refresh", None, json!({"refresh_token": rt2})),
    );
    let wins = [&ra, &rb]
        .iter()
        .filter(|r| r.status.as_u16() == 200)
        .count();
    assert_eq!(wins, 1, "{ra:?} {rb:?}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(loki_postgres, loki_redis)),
    ignore = "set LOKI_TEST_DATABASE_URL and LOKI_TEST_REDIS_URL to run"
)]
async fn a_role_change_on_one_daemon_applies_on_the_other() {
    let Some((a, b)) = pair().await else { return };
    let (org, admin) = a.user_with_org("owner@example.com", "Shared").await;
    let member = a.register("m@example.com").await;
    a.post(
        &format!("/api/v1/orgs/{org}/roles"),
        Some(&admin),
        json!({"name": "clerk", "permissions": ["org:read"]}),
    )
    .await
    .assert_status(201);
    a.join(org, &admin, json!({"user_id": member, "role": "clerk"}))
        .await;
    let token = b.login("m@example.com", Some("shared")).await;
    let docs = format!("/api/v1/orgs/{org}/documents");
    // B caches the policy...
    b.get(&docs, &token)
        .await
        .assert_error(403, "permission_denied");
    // ...A changes the role...
    a.patch(
        &format!("/api/v1/orgs/{org}/roles/clerk"),
        &admin,
        json!({"permissions": ["org:read", "doc:read"]}),
    )
    .await
    .assert_status(200);
    // ...and B's next request sees it.
    b.get(&docs, &token).await.assert_status(200);
    a.patch(
        &format!("/api/v1/orgs/{org}/roles/clerk"),
        &admin,
        json!({"permissions": ["org:read"]}),
    )
    .await
    .assert_status(200);
    b.get(&docs, &token)
        .await
        .assert_error(403, "permission_denied");
    a.stop().await;
    b.stop().await;
}

/// The request path serves the organization row, memberships and account
/// rows from per-daemon caches; a change committed on A bumps their
/// counters, so B's very next request decides on the new rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(loki_postgres, loki_redis)),
    ignore = "set LOKI_TEST_DATABASE_URL and LOKI_TEST_REDIS_URL to run"
)]
async fn cached_rows_follow_a_change_made_on_the_other_daemon() {
    let Some((a, b)) = pair().await else { return };
    let (org, admin) = a.user_with_org("cache-owner@example.com", "Cached").await;
    let member = a.register("cache-m@example.com").await;
    a.join(org, &admin, json!({"user_id": member, "role": "admin"}))
        .await;
    let token = b.login("cache-m@example.com", Some("cached")).await;
    let members = format!("/api/v1/orgs/{org}/members");
    // B caches the membership (admin) and the account (no super admin).
    b.get(&members, &token).await.assert_status(200);
    let me = b.get("/api/v1/auth/me", &token).await;
    assert_eq!(me.assert_status(200)["user"]["is_super_admin"], false);

    // A demotes the member: B's next request is decided on the new roles.
    a.patch(
        &format!("{members}/{member}"),
        &admin,
        json!({"roles": ["viewer"]}),
    )
    .await
    .assert_status(200);
    b.post(
        &format!("/api/v1/orgs/{org}/roles"),
        Some(&token),
        json!({"name": "sneaky", "permissions": ["org:read"]}),
    )
    .await
    .assert_error(403, "permission_denied");

    // A promotes the account (as `lokid admin create-super-admin` does): B
    // sees the new account row.
    a.super_admin("cache-m@example.com").await;
    let me = b.get("/api/v1/auth/me", &token).await;
    assert_eq!(me.assert_status(200)["user"]["is_super_admin"], true);

    // A renames the organization: B answers with the new row.
    let path = format!("/api/v1/orgs/{org}");
    assert_eq!(
        b.get(&path, &admin).await.assert_status(200)["name"],
        "Cached"
    );
    a.patch(&path, &admin, json!({"name": "Renamed"}))
        .await
        .assert_status(200);
    assert_eq!(
        b.get(&path, &admin).await.assert_status(200)["name"],
        "Renamed"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(loki_postgres, loki_redis)),
    ignore = "set LOKI_TEST_DATABASE_URL and LOKI_TEST_REDIS_URL to run"
)]
async fn two_daemons_write_one_linear_audit_chain() {
    let Some((a, b)) = pair().await else { return };
    let (org, admin) = a.user_with_org("chain@example.com", "Chained").await;
    let writes = (0..30).map(|i| {
        let (app, admin) = (if i % 2 == 0 { &a } else { &b }, &admin);
        async move {
            app.patch(
                &format!("/api/v1/orgs/{org}"),
                admin,
                json!({"name": format!("Chained {i}")}),
            )
            .await
        }
    });
    for r in futures_util::future::join_all(writes).await {
        r.assert_status(200);
    }
    let report = b
        .get(&format!("/api/v1/orgs/{org}/audit/verify"), &admin)
        .await;
    assert_eq!(report.assert_status(200)["ok"], true, "{}", report.body);
    let all = a
        .get(
            &format!("/api/v1/orgs/{org}/audit/events?limit=500"),
            &admin,
        )
        .await;
    let mut seqs: Vec<i64> = all.body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gaps, no forks, no duplicates"
    );
    a.stop().await;
    b.stop().await;
}
