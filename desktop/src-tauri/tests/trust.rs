//! Pinning and witnesses, from the attacker's side: a swapped server key, a
//! bundle re-signed with another key, a history rewritten under a witness.

use std::sync::atomic::AtomicBool;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use loki_desktop::bundle;
use loki_desktop::ops::audit::alarm_of;
use loki_desktop::trust::{PinState, TrustStore};
use loki_shared::audit::trust::introduce;
use loki_shared::audit::{AuditEvent, BundleKey, BundleWriter, FailureKind};
use uuid::Uuid;

fn key(seed: u8, id: &str) -> (SigningKey, BundleKey) {
    let sk = SigningKey::from_bytes(&[seed; 32]);
    let public = URL_SAFE_NO_PAD.encode(sk.verifying_key().to_bytes());
    (
        sk,
        BundleKey {
            key_id: id.into(),
            public_key: public,
            valid_from: "2026-01-01T00:00:00Z".into(),
            valid_until: None,
            fingerprint: None,
            introduced_by: None,
        },
    )
}

fn bundle_signed_by(seed: u8, org: Uuid, events: usize) -> String {
    let mut w = BundleWriter::new(
        Vec::new(),
        org,
        SigningKey::from_bytes(&[seed; 32]),
        "k1",
        "2026-12-01T00:00:00Z",
    )
    .expect("writer");
    for i in 0..events {
        let mut e = AuditEvent::draft(
            &format!("2026-12-01T00:00:{i:02}Z"),
            "auth.login",
            "success",
        );
        e.org_id = org;
        w.event(e).expect("event");
    }
    w.checkpoint("2026-12-01T00:01:00Z").expect("checkpoint");
    String::from_utf8(w.finish().expect("finish")).expect("utf8")
}

#[test]
fn a_replaced_server_key_is_an_alarm_and_a_signed_succession_is_not() {
    let dir = tempfile::tempdir().expect("dir");
    let store = TrustStore::new(dir.path());
    let (old_sk, old) = key(1, "k1");
    let server = "https://loki.example";
    assert!(matches!(
        store
            .check_server(server, std::slice::from_ref(&old))
            .expect("pin"),
        PinState::PinnedNow { .. }
    ));
    assert!(matches!(
        store
            .check_server(server, std::slice::from_ref(&old))
            .expect("same"),
        PinState::Match { .. }
    ));

    // An attacker's key, not introduced by the pinned one.
    let (_, evil) = key(9, "k2");
    let state = store
        .check_server(server, &[old.clone(), evil.clone()])
        .expect("check");
    let PinState::Alarm {
        unexpected,
        explanation,
        ..
    } = &state
    else {
        panic!("expected an alarm, got {state:?}");
    };
    assert_eq!(unexpected.len(), 1);
    assert!(explanation.contains("not pinned"), "{explanation}");
    // The alarm pinned nothing: still an alarm next time.
    assert!(store
        .check_server(server, std::slice::from_ref(&evil))
        .expect("check")
        .is_alarm());

    // A successor the pinned key signed is accepted and pinned.
    let (_, mut next) = key(2, "k3");
    next.introduced_by = Some(introduce("k1", &old_sk, "k3", &next.public_key).expect("introduce"));
    let state = store
        .check_server(server, &[old.clone(), next.clone()])
        .expect("check");
    assert!(
        matches!(state, PinState::Succession { ref added, .. } if added.len() == 1),
        "{state:?}"
    );
    // A forged introduction (signed by the attacker) is not.
    let (evil_sk, _) = key(9, "k2");
    let (_, mut fake) = key(3, "k4");
    fake.introduced_by =
        Some(introduce("k1", &evil_sk, "k4", &fake.public_key).expect("introduce"));
    assert!(store
        .check_server(server, &[old, fake])
        .expect("check")
        .is_alarm());
    // Another server is pinned on its own.
    assert!(matches!(
        store
            .check_server("https://other.example", &[evil])
            .expect("pin"),
        PinState::PinnedNow { .. }
    ));
}

#[test]
fn a_bundle_signed_by_another_key_fails_against_the_pin() {
    let dir = tempfile::tempdir().expect("dir");
    let store = TrustStore::new(dir.path());
    let (_, real) = key(1, "k1");
    store
        .check_server("https://loki.example", &[real])
        .expect("pin");
    let org = Uuid::now_v7();
    // The organization was seen on that server at a sign-in.
    store
        .record_orgs("https://loki.example", &[org])
        .expect("record");
    let path = dir.path().join("forged.jsonl");
    std::fs::write(&path, bundle_signed_by(7, org, 5)).expect("write");
    let opened = bundle::open(&path, &store, &AtomicBool::new(false), |_, _| {}).expect("open");
    assert!(opened.verify.ok, "internally consistent");
    assert!(!opened.verify.trusted, "but not by the pinned key");
    let pin = PinState::Match {
        fingerprints: vec![],
    };
    let alarm = alarm_of(&opened.verify, &pin).expect("alarm");
    assert!(alarm.contains("not a pinned key"), "{alarm}");

    // Signed by the pinned key: trusted, and its head joins the witness.
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, bundle_signed_by(1, org, 5)).expect("write");
    let opened = bundle::open(&good, &store, &AtomicBool::new(false), |_, _| {}).expect("open");
    assert!(opened.verify.ok && opened.verify.trusted);
    assert_eq!(opened.server.as_deref(), Some("https://loki.example"));
    let checks = store.checks("https://loki.example", org).expect("checks");
    assert!(store
        .witness_update("https://loki.example", &opened.verify, &checks)
        .expect("witness"));

    // The same org's history rewritten (same key, other events): the
    // witnessed head is gone.
    let rewritten = dir.path().join("rewritten.jsonl");
    let mut text = bundle_signed_by(1, org, 5);
    text = text.replace("auth.login", "auth.logout");
    let mut w = BundleWriter::new(
        Vec::new(),
        org,
        SigningKey::from_bytes(&[1; 32]),
        "k1",
        "2026-12-01T00:00:00Z",
    )
    .expect("w");
    for line in text.lines().filter_map(bundle::event_of) {
        let mut e = AuditEvent::draft(&line.time, &line.action, &line.outcome);
        e.org_id = org;
        w.event(e).expect("event");
    }
    w.checkpoint("2026-12-01T00:01:00Z").expect("checkpoint");
    std::fs::write(&rewritten, w.finish().expect("finish")).expect("write");
    let opened =
        bundle::open(&rewritten, &store, &AtomicBool::new(false), |_, _| {}).expect("open");
    let failure = opened.verify.failure.clone().expect("fails");
    assert_eq!(failure.kind, FailureKind::WitnessMismatch);
    assert!(alarm_of(&opened.verify, &pin)
        .expect("alarm")
        .contains("rewritten"));
}

#[test]
fn keys_are_compared_by_fingerprint_and_pins_stay_with_their_server() {
    let dir = tempfile::tempdir().expect("dir");
    let store = TrustStore::new(dir.path());
    let (_, real) = key(1, "k1");
    let a = "https://a.example";
    store
        .check_server(a, std::slice::from_ref(&real))
        .expect("pin");
    // The same key id with another public key is not the pinned key.
    let (_, mut swapped) = key(5, "k1");
    swapped.key_id = "k1".into();
    assert!(store.check_server(a, &[swapped]).expect("check").is_alarm());
    // No key at all is no reason to trust.
    assert!(store.check_server(a, &[]).expect("check").is_alarm());
    let mut broken = real.clone();
    broken.public_key = "not base64!".into();
    assert!(store.check_server(a, &[broken]).expect("check").is_alarm());

    // A key pinned for server B does not vouch for an organization seen on A.
    let (_, other) = key(7, "k7");
    store
        .check_server("https://b.example", &[other])
        .expect("pin b");
    let org = Uuid::now_v7();
    store.record_orgs(a, &[org]).expect("record");
    store
        .record_orgs("https://b.example", &[org])
        .expect("first stays");
    assert_eq!(store.server_of(org).as_deref(), Some(a));
    let path = dir.path().join("b-signed.jsonl");
    std::fs::write(&path, bundle_signed_by(7, org, 3)).expect("write");
    let opened = bundle::open(&path, &store, &AtomicBool::new(false), |_, _| {}).expect("open");
    assert!(
        opened.verify.ok && !opened.verify.trusted,
        "{:?}",
        opened.verify
    );

    // An organization never seen here: integrity only, no pin to claim.
    let stranger = Uuid::now_v7();
    let path = dir.path().join("stranger.jsonl");
    std::fs::write(&path, bundle_signed_by(1, stranger, 3)).expect("write");
    let opened = bundle::open(&path, &store, &AtomicBool::new(false), |_, _| {}).expect("open");
    assert!(opened.server.is_none());
    assert!(opened.verify.ok && !opened.verify.trusted);

    // Not a regular file: refused before it is opened (a FIFO would block).
    let e = bundle::open(dir.path(), &store, &AtomicBool::new(false), |_, _| {}).expect_err("dir");
    assert_eq!(e.kind, loki_desktop::error::ErrorKind::InvalidInput);
}

#[test]
fn a_cancelled_read_stops() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("b.jsonl");
    std::fs::write(&path, bundle_signed_by(1, Uuid::now_v7(), 3)).expect("write");
    let store = TrustStore::new(dir.path());
    let e = bundle::open(&path, &store, &AtomicBool::new(true), |_, _| {}).expect_err("cancelled");
    assert_eq!(e.kind, loki_desktop::error::ErrorKind::Cancelled);
}
