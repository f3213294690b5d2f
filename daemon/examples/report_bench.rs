//! Writes a synthetic but valid audit bundle (hash chain, signed
//! checkpoints every 1,000 events) of N events over 90 days, for measuring
//! `lokid report` on large bundles:
//!
//! cargo run --release -p loki-daemon --example report_bench -- /tmp/big.jsonl 1000000
//! /usr/bin/time -v target/release/lokid report /tmp/big.jsonl --framework soc2 -o /tmp/big.pdf
//!
//! The mix is a busy organization's: mostly reads and downloads, with
//! sign-ins, refusals, access changes and configuration changes among them.

use std::io::BufWriter;

use chrono::{Duration, SecondsFormat, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use loki_shared::audit::{AuditEvent, BundleWriter};
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
    let users: Vec<Uuid> = (0..200u128)
        .map(|i| Uuid::from_u128(0xabc000 + i))
        .collect();
    let start = Utc
        .with_ymd_and_hms(2026, 8, 1, 0, 0, 0)
        .single()
        .expect("start");
    let stamp = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let exported = stamp(start + Duration::days(91));
    let mut w = BundleWriter::new(file, Uuid::from_u128(0x1234), key, "bench", &exported)?;
    let weights: u64 = MIX.iter().map(|m| m.2).sum();
    let step = Duration::milliseconds((90 * 24 * 3600 * 1000 / n.max(1)) as i64);
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
        let time = start + step * seq as i32;
        let mut e = AuditEvent::draft(&stamp(time), action, outcome);
        e.actor.kind = "user".into();
        e.actor.user_id = Some(users[(seq % users.len() as u64) as usize]);
        e.actor.session_id = Some(Uuid::from_u128(u128::from(seq / 50)));
        e.resource_type = Some("member".into());
        e.resource_id = Some(users[(seq * 7 % users.len() as u64) as usize].to_string());
        e.ip = Some(format!("10.0.{}.{}", seq % 7, seq % 250));
        e.user_agent = Some("bench".into());
        w.event(e)?;
        if seq % 1000 == 0 || seq == n {
            w.checkpoint(&stamp(time))?;
        }
    }
    w.finish()?;
    eprintln!("{path}: {n} events");
    Ok(())
}
