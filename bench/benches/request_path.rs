//! The authenticated request path, piece by piece: access-token issue and
//! verification (first sight: an Ed25519 check; seen before: the cache),
//! and one rate-limit decision in-process and on Redis (set
//! `LOKI_BENCH_REDIS_URL`, e.g. redis://127.0.0.1:6379/, or it says it
//! skipped). `cargo bench -p loki-bench --bench request_path`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use loki_daemon::auth::keys::{MasterKey, TokenKeys};
use loki_daemon::auth::tokens::TokenIssuer;
use loki_daemon::kv::memory::MemoryKv;
use loki_daemon::kv::redis::RedisKv;
use loki_daemon::kv::Kv;
use loki_daemon::security::rate_limit::{Rule, Strategy};
use uuid::Uuid;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn tokens(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let issuer = rt.block_on(async {
        let store = loki_daemon::store::connect(&url, 2).await.expect("store");
        let master = Arc::new(
            MasterKey::load_or_create(&dir.path().join("master.key"), true).expect("master"),
        );
        TokenIssuer {
            keys: TokenKeys::load(store, master, 1800).await.expect("keys"),
            issuer: "lokid".into(),
            audience: "loki-api".into(),
            ttl_secs: 1800,
            verified: Default::default(),
        }
    });
    let (user, org, sid) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    c.bench_function("token/issue", |b| {
        b.iter(|| issuer.issue(user, Some(org), sid).expect("issue"))
    });
    c.bench_function("token/verify_first_sight", |b| {
        b.iter_batched(
            || issuer.issue(user, Some(org), sid).expect("issue"),
            |t| rt.block_on(issuer.verify(&t)).expect("verify"),
            BatchSize::SmallInput,
        )
    });
    let token = issuer.issue(user, Some(org), sid).expect("issue");
    c.bench_function("token/verify_cached", |b| {
        b.iter(|| {
            rt.block_on(issuer.verify(black_box(&token)))
                .expect("verify")
        })
    });
}

fn rule() -> Rule {
    Rule {
        strategy: Strategy::SlidingWindow,
        limit: u32::MAX,
        window_ms: 60_000,
    }
}

fn limiter(c: &mut Criterion) {
    let rt = runtime();
    let memory = MemoryKv::default();
    let now = chrono::Utc::now().timestamp_millis();
    c.bench_function("rate_limit/in_process", |b| {
        b.iter(|| {
            rt.block_on(memory.rate_limit("rl:bench", &rule(), now))
                .expect("decide")
        })
    });
    let Ok(url) = std::env::var("LOKI_BENCH_REDIS_URL") else {
        eprintln!("SKIPPED: rate_limit/redis (set LOKI_BENCH_REDIS_URL)");
        return;
    };
    let redis = rt
        .block_on(RedisKv::connect(
            &url,
            &format!("loki-bench-{}:", std::process::id()),
        ))
        .expect("redis");
    c.bench_function("rate_limit/redis_one_caller", |b| {
        b.iter(|| {
            rt.block_on(redis.rate_limit("rl:bench", &rule(), now))
                .expect("decide")
        })
    });
    let budgets = [
        ("rl:org:bench".to_owned(), rule()),
        ("rl:session:bench".to_owned(), rule()),
    ];
    c.bench_function("rate_limit/redis_request_budgets", |b| {
        b.iter(|| {
            rt.block_on(redis.rate_limit_many(&budgets, now))
                .expect("decide")
        })
    });
}

criterion_group!(benches, tokens, limiter);
criterion_main!(benches);
