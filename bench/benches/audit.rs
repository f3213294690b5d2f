//! The audit trail, per event: an append through the store (SQLite in a
//! temp dir, one transaction each), JCS canonicalisation of an event, and
//! offline verification of a bundle (parse, canonicalise, hash, chain).
//! `cargo bench -p loki-bench --bench audit`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use loki_shared::audit::{
    canonical, Actor, AuditEvent, BundleVerifier, BundleWriter, SCHEMA_VERSION,
};
use uuid::Uuid;

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        schema: SCHEMA_VERSION,
        id: Uuid::now_v7(),
        org_id: Uuid::nil(),
        seq: 0,
        time: "2026-12-01T10:00:00.000000Z".into(),
        actor: Actor {
            kind: "user".into(),
            user_id: Some(Uuid::from_u128(u128::from(i % 50) + 1)),
            api_key_id: None,
            session_id: Some(Uuid::now_v7()),
        },
        action: "document.created".into(),
        resource_type: Some("document".into()),
        resource_id: Some(Uuid::now_v7().to_string()),
        outcome: "success".into(),
        ip: Some("10.0.0.1".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
        request_id: Some(Uuid::now_v7().to_string()),
        before: None,
        after: Some(
            serde_json::json!({"name": "evidence.pdf", "size": 18734, "frameworks": ["soc2"]}),
        ),
        metadata: serde_json::json!({}),
        count: 1,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

fn append(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = rt
        .block_on(loki_daemon::store::connect(&url, 4))
        .expect("store");
    let org = Uuid::now_v7();
    let mut i = 0;
    c.bench_function("audit/append_sqlite", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(store.append_audit(org, event(i)))
                .expect("append")
        })
    });
}

fn encode_and_verify(c: &mut Criterion) {
    let value = serde_json::to_value(event(1)).expect("json");
    c.bench_function("audit/jcs_canonical", |b| {
        b.iter(|| canonical(black_box(&value)).expect("canonical"))
    });

    const EVENTS: u64 = 10_000;
    let key = SigningKey::from_bytes(&[7; 32]);
    let mut w = BundleWriter::new(
        Vec::new(),
        Uuid::now_v7(),
        key,
        "bench",
        "2026-12-01T10:00:00Z",
    )
    .expect("writer");
    for i in 0..EVENTS {
        w.event(event(i)).expect("event");
    }
    w.checkpoint("2026-12-01T10:00:01Z").expect("checkpoint");
    let bundle = String::from_utf8(w.finish().expect("finish")).expect("utf-8");
    let mut g = c.benchmark_group("audit/verify_bundle");
    g.throughput(Throughput::Elements(EVENTS));
    g.sample_size(10);
    g.bench_function("10k_events", |b| {
        b.iter(|| {
            let mut v = BundleVerifier::new();
            for l in bundle.lines() {
                v.line(l);
            }
            black_box(v.finish())
        })
    });
    g.finish();
}

criterion_group!(benches, append, encode_and_verify);
criterion_main!(benches);
