//! Tampering of every kind is detected, at the right seq.

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use uuid::Uuid;

use super::super::*;
use super::*;

const ORG: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn events(n: u64) -> Vec<AuditEvent> {
    let mut prev = GENESIS_HASH.to_owned();
    (1..=n)
        .map(|seq| {
            let e = AuditEvent {
                schema: SCHEMA_VERSION,
                id: Uuid::from_u128(u128::from(seq)),
                org_id: ORG,
                seq,
                time: format!("2026-11-27T10:00:{:02}Z", seq % 60),
                actor: Actor {
                    kind: "user".into(),
                    user_id: Some(Uuid::from_u128(9)),
                    api_key_id: None,
                    session_id: None,
                },
                action: "document.created".into(),
                resource_type: Some("document".into()),
                resource_id: Some(format!("doc-{seq}")),
                outcome: "success".into(),
                ip: Some("127.0.0.1".into()),
                user_agent: None,
                request_id: None,
                before: None,
                after: Some(json!({"name": format!("file {seq}.pdf"), "size": seq * 10})),
                metadata: json!({}),
                count: 1,
                prev_hash: prev.clone(),
                hash: String::new(),
            }
            .seal()
            .expect("seal");
            prev = e.hash.clone();
            e
        })
        .collect()
}

fn checkpoint(e: &AuditEvent) -> Checkpoint {
    CheckpointBody {
        org_id: ORG,
        seq: e.seq,
        head_hash: e.hash.clone(),
        issued_at: "2026-11-27T11:00:00Z".into(),
        key_id: "audit-1".into(),
    }
    .sign(&key())
    .expect("sign")
}

/// A bundle of events (as JSON values, to tamper with) and checkpoints.
fn bundle(events: &[Value], checkpoints: &[Checkpoint]) -> String {
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        org_id: ORG,
        from: None,
        to: None,
        exported_at: "2026-11-27T11:00:00Z".into(),
    };
    let k = BundleKey {
        key_id: "audit-1".into(),
        public_key: URL_SAFE_NO_PAD.encode(key().verifying_key().as_bytes()),
        valid_from: "2026-01-01T00:00:00Z".into(),
        valid_until: None,
        fingerprint: None,
        introduced_by: None,
    };
    let mut lines = vec![
        line("manifest", &manifest).expect("m"),
        line("key", &k).expect("k"),
    ];
    lines.extend(events.iter().map(|e| line("event", e).expect("e")));
    lines.extend(
        checkpoints
            .iter()
            .map(|c| line("checkpoint", c).expect("c")),
    );
    lines.join("\n")
}

fn values(es: &[AuditEvent]) -> Vec<Value> {
    es.iter()
        .map(|e| serde_json::to_value(e).expect("json"))
        .collect()
}

fn failure(report: &VerifyReport) -> (u64, FailureKind) {
    let f = report.failure.as_ref().expect("a failure");
    (f.seq, f.kind)
}

#[test]
fn an_intact_bundle_verifies() {
    let es = events(10);
    let r = verify_str(&bundle(
        &values(&es),
        &[checkpoint(&es[4]), checkpoint(&es[9])],
    ));
    assert!(r.ok, "{r:?}");
    assert_eq!((r.events, r.first_seq, r.last_seq), (10, Some(1), Some(10)));
    assert_eq!(r.signed_head, Some((10, es[9].hash.clone())));
}

#[test]
fn hashes_are_jcs_sha256_without_the_hash_field() {
    let e = &events(1)[0];
    let mut v = serde_json::to_value(e).expect("json");
    v.as_object_mut().map(|o| o.remove("hash"));
    let canonical = String::from_utf8(serde_jcs::to_vec(&v).expect("jcs")).expect("utf8");
    assert!(
        canonical.starts_with(r#"{"action":"document.created","actor":{"kind":"user""#),
        "{canonical}"
    );
    assert_eq!(sha256_hex(canonical.as_bytes()), e.hash);
}

#[test]
fn a_tampered_event_is_found() {
    let es = events(10);
    let mut vs = values(&es);
    vs[5]["after"]["name"] = json!("forged.pdf");
    let r = verify_str(&bundle(&vs, &[checkpoint(&es[9])]));
    assert_eq!(failure(&r), (6, FailureKind::HashMismatch));
}

#[test]
fn a_recomputed_hash_breaks_the_chain() {
    // An attacker who also fixes the hash breaks the link to the next event.
    let es = events(10);
    let mut vs = values(&es);
    vs[5]["after"]["name"] = json!("forged.pdf");
    let h = event_hash(&vs[5]).expect("hash");
    vs[5]["hash"] = json!(h);
    let r = verify_str(&bundle(&vs, &[checkpoint(&es[9])]));
    assert_eq!(failure(&r), (7, FailureKind::ChainBroken));
}

#[test]
fn a_deleted_event_is_a_gap() {
    let es = events(10);
    let mut vs = values(&es);
    vs.remove(4);
    let r = verify_str(&bundle(&vs, &[checkpoint(&es[9])]));
    assert_eq!(failure(&r), (5, FailureKind::Gap));
}

#[test]
fn deleting_the_newest_events_is_a_truncated_tail() {
    let es = events(10);
    let vs = values(&es[..7]);
    let r = verify_str(&bundle(&vs, &[checkpoint(&es[4]), checkpoint(&es[9])]));
    assert_eq!(failure(&r), (8, FailureKind::TruncatedTail));
}

#[test]
fn reordered_events_are_found() {
    let es = events(10);
    let mut vs = values(&es);
    vs.swap(3, 4);
    let r = verify_str(&bundle(&vs, &[checkpoint(&es[9])]));
    let (seq, kind) = failure(&r);
    assert_eq!(seq, 4, "{r:?}");
    assert!(
        matches!(kind, FailureKind::Gap | FailureKind::OutOfOrder),
        "{kind:?}"
    );
}

#[test]
fn a_changed_checkpoint_signature_is_found() {
    let es = events(10);
    let mut c = checkpoint(&es[9]);
    let mut sig = URL_SAFE_NO_PAD.decode(&c.signature).expect("b64");
    sig[0] ^= 1;
    c.signature = URL_SAFE_NO_PAD.encode(sig);
    let r = verify_str(&bundle(&values(&es), &[checkpoint(&es[4]), c]));
    assert_eq!(failure(&r), (10, FailureKind::BadSignature));
}

#[test]
fn a_checkpoint_signed_by_another_key_is_bad() {
    let es = events(3);
    let other = SigningKey::from_bytes(&[8u8; 32]);
    let c = CheckpointBody {
        org_id: ORG,
        seq: 3,
        head_hash: es[2].hash.clone(),
        issued_at: "2026-11-27T11:00:00Z".into(),
        key_id: "audit-1".into(),
    }
    .sign(&other)
    .expect("sign");
    let r = verify_str(&bundle(&values(&es), &[c]));
    assert_eq!(failure(&r), (3, FailureKind::BadSignature));
}

#[test]
fn events_after_the_last_checkpoint_are_uncovered() {
    let es = events(10);
    let r = verify_str(&bundle(&values(&es), &[checkpoint(&es[7])]));
    assert_eq!(failure(&r), (9, FailureKind::UncoveredTail));
}

#[test]
fn a_range_must_be_anchored() {
    let es = events(10);
    // Events 4..=10 with the checkpoint at 3 as anchor: fine.
    let r = verify_str(&bundle(
        &values(&es[3..]),
        &[checkpoint(&es[2]), checkpoint(&es[9])],
    ));
    assert!(r.ok, "{r:?}");
    // Without the anchor the start cannot be trusted.
    let r = verify_str(&bundle(&values(&es[3..]), &[checkpoint(&es[9])]));
    assert_eq!(failure(&r), (4, FailureKind::ChainBroken));
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    for junk in [
        "{",
        "[]",
        r#"{"type":"event","event":{"seq":"x"}}"#,
        r#"{"type":"alien"}"#,
        "\u{0}",
    ] {
        let r = verify_str(&format!("{}\n{junk}", bundle(&[], &[])));
        assert!(!r.ok, "{junk}");
    }
    assert!(!verify_str("").ok, "no manifest");
}
