//! The kv contract, against the in-process store and (when
//! `LOKI_TEST_REDIS_URL` is set) Redis.

use std::sync::Arc;
use std::time::Duration;

use loki_daemon::kv::{self, DynKv};
use loki_tests::REDIS_ENV;

const TTL: Duration = Duration::from_secs(60);

async fn stores() -> Vec<DynKv> {
    let mut v = vec![kv::connect(None, "").await.expect("memory")];
    match std::env::var(REDIS_ENV) {
        Ok(url) => {
            let prefix = format!("loki-test:{}:", uuid::Uuid::new_v4().simple());
            // Set but unreachable is a failure, not a skip.
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

#[tokio::test]
async fn get_set_delete() {
    for kv in stores().await {
        assert_eq!(kv.get("a").await.expect("get"), None, "{}", kv.kind());
        kv.set("a", b"1", None).await.expect("set");
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"1"[..]));
        kv.set("a", b"2", Some(TTL)).await.expect("set");
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"2"[..]));
        assert!(kv.delete("a").await.expect("del"));
        assert!(!kv.delete("a").await.expect("del"));
        assert_eq!(kv.get("a").await.expect("get"), None);
        kv.ping().await.expect("ping");
    }
}

#[tokio::test]
async fn set_nx_once() {
    for kv in stores().await {
        assert!(
            kv.set_nx("nonce", b"x", TTL).await.expect("nx"),
            "{}",
            kv.kind()
        );
        assert!(!kv.set_nx("nonce", b"y", TTL).await.expect("nx"));
        assert_eq!(
            kv.get("nonce").await.expect("get").as_deref(),
            Some(&b"x"[..])
        );
    }
}

#[tokio::test]
async fn entries_expire() {
    for kv in stores().await {
        kv.set("short", b"v", Some(Duration::from_millis(50)))
            .await
            .expect("set");
        assert!(kv
            .set_nx("short-nx", b"v", Duration::from_millis(50))
            .await
            .expect("nx"));
        // Wait for the condition (expiry), bounded, instead of a fixed sleep.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut poll = tokio::time::interval(Duration::from_millis(5));
        while kv.get("short").await.expect("get").is_some()
            || kv.get("short-nx").await.expect("get").is_some()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: entries never expired",
                kv.kind()
            );
            poll.tick().await;
        }
        assert!(kv.set_nx("short-nx", b"again", TTL).await.expect("nx"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incr_is_atomic() {
    for kv in stores().await {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let kv = Arc::clone(&kv);
                tokio::spawn(async move { kv.incr("counter", 1, TTL).await })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.expect("task").expect("incr"));
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=100).collect::<Vec<i64>>(),
            "{}: every increment distinct",
            kv.kind()
        );
        assert_eq!(kv.incr("counter", 5, TTL).await.expect("incr"), 105);
    }
}
