//! Audit trail load test: ingest rate through the real append path, then a
//! bulk load to N events across 200 organizations and the latency of
//! filtered searches (p50/p95) through the real search query.
//!
//! cargo run --release -p loki-daemon --example audit_bench -- sqlite:///tmp/bench.db 10000000
//! cargo run --release -p loki-daemon --example audit_bench -- postgres://postgres@127.0.0.1/bench 10000000

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use loki_daemon::store::group_commit::AuditAppender;
use loki_daemon::store::{self, AuditFilter, Backend, DynStore};
use loki_shared::audit::{Actor, AuditEvent, SCHEMA_VERSION};
use uuid::Uuid;

const ORGS: u64 = 200;
const INGEST: u64 = 4_000;
const WRITERS: u64 = 8;
const GROUPED: u64 = 40_000;

fn event(action: &str) -> AuditEvent {
    AuditEvent {
        schema: SCHEMA_VERSION,
        id: Uuid::now_v7(),
        org_id: Uuid::nil(),
        seq: 0,
        time: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: Actor {
            kind: "user".into(),
            user_id: Some(Uuid::now_v7()),
            api_key_id: None,
            session_id: None,
        },
        action: action.into(),
        resource_type: Some("document".into()),
        resource_id: Some(Uuid::now_v7().to_string()),
        outcome: "success".into(),
        ip: Some("10.0.0.1".into()),
        user_agent: Some("bench".into()),
        request_id: None,
        before: None,
        after: Some(serde_json::json!({"name": "evidence.pdf"})),
        metadata: serde_json::json!({}),
        count: 1,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// The record path: every writer appends through the group-commit writer.
async fn ingest_grouped(store: &DynStore, orgs: &[Uuid], writers: u64) -> anyhow::Result<f64> {
    let appender = AuditAppender::start(store.clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let appender = appender.clone();
        let orgs = orgs.to_vec();
        tasks.push(tokio::spawn(async move {
            for i in 0..GROUPED / writers {
                let org = orgs[((w * 7 + i) % orgs.len() as u64) as usize];
                appender.append(org, event("access.denied")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(GROUPED as f64 / start.elapsed().as_secs_f64())
}

async fn ingest(store: &DynStore, orgs: &[Uuid]) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(store);
        let orgs = orgs.to_vec();
        tasks.push(tokio::spawn(async move {
            for i in 0..INGEST / WRITERS {
                let org = orgs[((w * 7 + i) % orgs.len() as u64) as usize];
                store.append_audit(org, event("document.created")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(INGEST as f64 / start.elapsed().as_secs_f64())
}

/// Synthetic rows straight into the table (searches need volume, not valid
/// hashes): `per_org` events for each of the orgs.
async fn bulk(url: &str, backend: Backend, orgs: &[Uuid], per_org: u64) -> anyhow::Result<()> {
    let actions = "CASE x % 5 WHEN 0 THEN 'document.created' WHEN 1 THEN 'member.added' WHEN 2 THEN 'access.denied' \
                   WHEN 3 THEN 'auth.login_succeeded' ELSE 'role.assigned' END";
    for (i, org) in orgs.iter().enumerate() {
        let sql = match backend {
            Backend::Postgres => format!(
                "INSERT INTO audit_events (org_id, seq, id, time, action, outcome, actor_user, resource_type, resource_id, hash, body) \
                 SELECT '{org}', x + 100000, gen_random_uuid(), now() - (x || ' seconds')::interval, {actions}, \
                 CASE WHEN x % 5 = 2 THEN 'denied' ELSE 'success' END, \
                 ('00000000-0000-7000-8000-' || lpad((x % 50)::text, 12, '0'))::uuid, 'document', (x % 1000)::text, md5(x::text), \
                 '{{\"seq\":' || x || '}}' FROM generate_series(1, {per_org}) AS x"
            ),
            Backend::Sqlite => format!(
                "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {per_org}) \
                 INSERT INTO audit_events (org_id, seq, id, time, action, outcome, actor_user, resource_type, resource_id, hash, body) \
                 SELECT X'{}', x + 100000, randomblob(16), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-' || x || ' seconds'), {actions}, \
                 CASE WHEN x % 5 = 2 THEN 'denied' ELSE 'success' END, zeroblob(15) || char(x % 50), 'document', CAST(x % 1000 AS TEXT), hex(x), \
                 '{{\"seq\":' || x || '}}' FROM s",
                org.simple()
            ),
        };
        match backend {
            Backend::Postgres => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(url).await?;
                sqlx::query(&sql).execute(&mut c).await?;
            }
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(url).await?;
                sqlx::query(&sql).execute(&mut c).await?;
            }
        }
        if i % 20 == 19 {
            eprintln!("  loaded {} orgs", i + 1);
        }
    }
    Ok(())
}

/// The organizations of a previous bulk load.
async fn existing_orgs(url: &str, backend: Backend) -> anyhow::Result<Vec<Uuid>> {
    use sqlx::Connection;
    let sql = "SELECT org_id FROM audit_events WHERE seq = 100001";
    Ok(match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await?;
            sqlx::query_scalar(sql).fetch_all(&mut c).await?
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await?;
            sqlx::query_scalar(sql).fetch_all(&mut c).await?
        }
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "sqlite:///tmp/loki-bench.db".into());
    let total: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    // A third argument `search` re-measures searches on an existing load.
    let search_only = args.next().is_some_and(|a| a == "search");
    let backend = Backend::from_url(&url)?;
    let store = store::connect(&url, 16).await?;
    let orgs: Vec<Uuid> = if search_only {
        existing_orgs(&url, backend).await?
    } else {
        (0..ORGS).map(|_| Uuid::now_v7()).collect()
    };
    if !search_only {
        let rate = ingest(&store, &orgs[..20]).await?;
        println!("{backend:?}: ingest {rate:.0} events/s ({INGEST} appends, {WRITERS} writers, 20 orgs, one transaction each)");
        for writers in [WRITERS, 64] {
            let rate = ingest_grouped(&store, &orgs[..20], writers).await?;
            println!("{backend:?}: ingest {rate:.0} events/s ({GROUPED} appends, {writers} writers, 20 orgs, group commit: the record path)");
        }
        let start = Instant::now();
        bulk(&url, backend, &orgs, total / ORGS).await?;
        println!(
            "{backend:?}: bulk-loaded {total} events in {:.0} s",
            start.elapsed().as_secs_f64()
        );
    }

    let cutoff = Utc::now() - Duration::days(3);
    let mut lat = Vec::new();
    for i in 0..400u64 {
        let org = orgs[(i * 37 % ORGS) as usize];
        let filter = match i % 4 {
            0 => AuditFilter {
                action: Some("access.denied".into()),
                limit: 50,
                ..Default::default()
            },
            1 => AuditFilter {
                action_prefix: Some("member.".into()),
                limit: 50,
                ..Default::default()
            },
            2 => AuditFilter {
                from: Some(cutoff - Duration::days(1)),
                to: Some(cutoff),
                limit: 50,
                ..Default::default()
            },
            _ => AuditFilter {
                resource_type: Some("document".into()),
                resource_id: Some((i % 1000).to_string()),
                limit: 50,
                ..Default::default()
            },
        };
        let t = Instant::now();
        let rows = store.audit_search(org, filter).await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!rows.is_empty() || i % 4 == 2);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{backend:?}: filtered search over {total} events: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms (400 queries, page of 50)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        lat[lat.len() - 1]
    );
    Ok(())
}
