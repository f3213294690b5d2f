//! Rate-limit decisions per second, for each strategy, in-process and in
//! Redis (the atomic Lua script the daemons share), with concurrent callers
//! over 1,000 keys; plus per-decision latency percentiles.
//!
//! cargo run --release -p loki-daemon --example rate_limit_bench
//! cargo run --release -p loki-daemon --example rate_limit_bench -- redis://127.0.0.1:6379/

use std::sync::Arc;
use std::time::{Duration, Instant};

use loki_daemon::kv::{self, DynKv};
use loki_daemon::security::rate_limit::{Rule, Strategy};

const KEYS: usize = 1_000;
const RUN: Duration = Duration::from_secs(3);

async fn measure(kv: DynKv, strategy: Strategy, callers: usize) -> (f64, Duration, Duration) {
    let rule = Rule {
        strategy,
        limit: 1_000,
        window_ms: 60_000,
    };
    let started = Instant::now();
    // Collected, so every caller is spawned before the first is awaited.
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let kv = kv.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = c;
                while started.elapsed() < RUN {
                    let key = format!("bench:{}:{}", strategy.as_str(), i % KEYS);
                    let now = chrono::Utc::now().timestamp_millis();
                    let t = Instant::now();
                    kv.rate_limit(&key, &rule, now).await.expect("decide");
                    latencies.push(t.elapsed());
                    i += callers;
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (all.len() as f64 / secs, pct(0.5), pct(0.99))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let redis = std::env::args().nth(1);
    let mut backends: Vec<(&str, DynKv, usize)> =
        vec![("in-process", kv::connect(None, "").await?, 4)];
    if let Some(url) = redis.as_deref() {
        let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
        backends.push(("redis", kv::connect(Some(url), &prefix).await?, 32));
    }
    println!("| backend | strategy | callers | decisions/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    for (name, kv, callers) in backends {
        for strategy in Strategy::ALL {
            let (rate, p50, p99) = measure(Arc::clone(&kv), strategy, callers).await;
            println!(
                "| {name} | {} | {callers} | {rate:.0} | {p50:?} | {p99:?} |",
                strategy.as_str()
            );
        }
    }
    Ok(())
}
