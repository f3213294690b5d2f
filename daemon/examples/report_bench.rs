//! Writes a synthetic but valid audit bundle (hash chain, signed
//! checkpoints every 1,000 events) of N events over 90 days, for measuring
//! `lokid report` on large bundles:
//!
//! cargo run --release -p loki-daemon --example report_bench -- /tmp/big.jsonl 1000000
//! /usr/bin/time -v target/release/lokid report /tmp/big.jsonl --framework soc2 -o /tmp/big.pdf
//!
//! The mix is a busy organization's: mostly reads and downloads, with
//! sign-ins, refusals, access changes and configuration changes among them.

use std::io::{BufWriter, Write};

use chrono::{Duration, SecondsFormat, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use loki_shared::audit::{
    line, Actor, AuditEvent, BundleKey, CheckpointBody, Manifest, BUNDLE_FORMAT, BUNDLE_VERSION,
    GENESIS_HASH, SCHEMA_VERSION,
};
use serde_json::json;
use uuid::Uuid;

const MIX: [(&str, &str, u64); 10] = [
    ("document.downloaded", "success", 400),
    ("audit.read", "success", 300),
    ("auth.login_succeeded", "success", 120),
    ("access.denied", "denied", 60),
    ("request.rate_limited", "denied", 40),
    ("auth.login_failed", "failure", 30),
    ("role.assigned", "success", 20),
    ("member.added", "success", 15),
    ("security.settings_changed", "success", 10),
    ("member.removed", "success", 5),
];

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/tmp/big.jsonl".into());
    let n: u64 = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let org = Uuid::from_u128(0x1234);
    let users: Vec<Uuid> = (0..200u128)
        .map(|i| Uuid::from_u128(0xabc000 + i))
        .collect();
    let start = Utc
        .with_ymd_and_hms(2026, 8, 1, 0, 0, 0)
        .single()
        .expect("start");
    let stamp = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        org_id: org,
        from: None,
        to: None,
        exported_at: stamp(start + Duration::days(91)),
    };
    writeln!(out, "{}", line("manifest", &manifest)?)?;
    use base64::Engine;
    let public =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let bundle_key = BundleKey {
        key_id: "bench".into(),
        public_key: public,
        valid_from: stamp(start),
        valid_until: None,
    };
    writeln!(out, "{}", line("key", &bundle_key)?)?;
    let weights: u64 = MIX.iter().map(|m| m.2).sum();
    let step = Duration::milliseconds((90 * 24 * 3600 * 1000 / n.max(1)) as i64);
    let mut prev = GENESIS_HASH.to_owned();
    for seq in 1..=n {
        // A fixed pseudo-random walk through the mix (no rand dependency).
        let pick = seq.wrapping_mul(2_654_435_761) % weights;
        let mut acc = 0;
        let (action, outcome, _) = MIX
            .iter()
            .find(|m| {
                acc += m.2;
                pick < acc
            })
            .copied()
            .unwrap_or(MIX[0]);
        let user = users[(seq % users.len() as u64) as usize];
        let time = start + step * seq as i32;
        let event = AuditEvent {
            schema: SCHEMA_VERSION,
            id: Uuid::from_u128(u128::from(seq)),
            org_id: org,
            seq,
            time: stamp(time),
            actor: Actor {
                kind: "user".into(),
                user_id: Some(user),
                api_key_id: None,
                session_id: Some(Uuid::from_u128(u128::from(seq / 50))),
            },
            action: action.into(),
            resource_type: Some("member".into()),
            resource_id: Some(users[(seq * 7 % users.len() as u64) as usize].to_string()),
            outcome: outcome.into(),
            ip: Some(format!("10.0.{}.{}", seq % 7, seq % 250)),
            user_agent: Some("bench".into()),
            request_id: None,
            before: None,
            after: None,
            metadata: json!({}),
            count: 1,
            prev_hash: prev.clone(),
            hash: String::new(),
        }
        .seal()?;
        prev = event.hash.clone();
        writeln!(out, "{}", line("event", &event)?)?;
        if seq % 1000 == 0 || seq == n {
            let cp = CheckpointBody {
                org_id: org,
                seq,
                head_hash: prev.clone(),
                issued_at: stamp(time),
                key_id: "bench".into(),
            }
            .sign(&key)?;
            writeln!(out, "{}", line("checkpoint", &cp)?)?;
        }
    }
    out.flush()?;
    eprintln!("{path}: {n} events");
    Ok(())
}
