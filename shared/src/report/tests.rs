//! Unit tests of the report model on a bundle built here (the golden tests
//! against a real daemon live in tests/tests/reports.rs).

use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use uuid::Uuid;

use super::*;
use crate::audit::{AuditEvent, BundleWriter};

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0)
        .single()
        .expect("time")
}

/// A signed bundle of (time, action, outcome, ip) events by one user.
fn bundle(events: &[(DateTime<Utc>, &str, &str, &str)]) -> String {
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut w = BundleWriter::new(
        Vec::new(),
        Uuid::from_u128(9),
        key,
        "k",
        "2026-11-30T00:00:00Z",
    )
    .expect("bundle");
    for (time, action, outcome, ip) in events {
        let mut e = AuditEvent::draft(&rfc3339(*time), action, outcome);
        e.actor.kind = "user".into();
        e.actor.user_id = Some(Uuid::from_u128(1));
        e.ip = Some((*ip).into());
        w.event(e).expect("event");
    }
    w.checkpoint("2026-11-30T00:00:00Z").expect("checkpoint");
    String::from_utf8(w.finish().expect("finish")).expect("utf-8")
}

fn options() -> ReportOptions {
    ReportOptions::new(Framework::Soc2, at(30, 0, 0))
}

#[test]
fn a_burst_of_failed_sign_ins_is_an_anomaly() {
    let mut events: Vec<_> = (0..5)
        .map(|i| (at(2, 10, i), "auth.login_failed", "failure", "203.0.113.9"))
        .collect();
    // Four from another address, and a fifth outside its 10-minute slot.
    events.extend((0..4).map(|i| (at(2, 10, i), "auth.login_failed", "failure", "198.51.100.1")));
    events.push((
        at(2, 10, 30),
        "auth.login_failed",
        "failure",
        "198.51.100.1",
    ));
    let r = from_bundle(&bundle(&events), options(), None);
    assert!(r.integrity.verified, "{}", r.integrity.statement);
    let cc72 = r
        .sections
        .iter()
        .find(|s| s.control_id == "CC7.2")
        .expect("CC7.2");
    assert_eq!(cc72.status, Status::Exceptions);
    assert_eq!(cc72.findings.len(), 1, "{:?}", cc72.findings);
    assert!(
        cc72.findings[0].starts_with("5 failed sign-in attempts from 203.0.113.9"),
        "{:?}",
        cc72.findings
    );
}

fn bursts_in(events: &[(DateTime<Utc>, &str, &str, &str)]) -> Vec<String> {
    let r = from_bundle(&bundle(events), options(), None);
    r.sections
        .iter()
        .find(|s| s.control_id == "CC7.2")
        .expect("CC7.2")
        .findings
        .clone()
}

#[test]
fn bursts_use_a_sliding_window_and_count_attempts_not_lockouts() {
    // 10:07 to 10:11: across the 10:10 clock boundary, still one burst.
    let across: Vec<_> = (7..12)
        .map(|m| (at(2, 10, m), "auth.login_failed", "failure", "203.0.113.9"))
        .collect();
    let found = bursts_in(&across);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("2026-11-02T10:07:00Z"), "{found:?}");
    // Four failures and the lockout they caused are not five attempts.
    let mut locked: Vec<_> = (0..4)
        .map(|m| (at(2, 10, m), "auth.login_failed", "failure", "203.0.113.9"))
        .collect();
    locked.push((at(2, 10, 4), "auth.account_locked", "denied", "203.0.113.9"));
    assert!(bursts_in(&locked).is_empty());
    // Five spread over more than 10 minutes are not a burst either.
    let spread: Vec<_> = (0..5)
        .map(|i| {
            (
                at(2, 10, i * 3),
                "auth.login_failed",
                "failure",
                "203.0.113.9",
            )
        })
        .collect();
    assert!(bursts_in(&spread).is_empty());
    // A long attack is one burst, with every attempt counted.
    let long: Vec<_> = (0..20)
        .map(|m| (at(2, 11, m), "auth.mfa_failed", "failure", "203.0.113.9"))
        .collect();
    let found = bursts_in(&long);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("20 failed sign-in attempts"),
        "{found:?}"
    );
}

#[test]
fn the_period_filters_events_and_charts_fill_empty_days() {
    let events = [
        (at(1, 9, 0), "access.denied", "denied", "10.0.0.1"),
        (at(3, 9, 0), "access.denied", "denied", "10.0.0.1"),
        (at(3, 9, 5), "audit.read", "success", "10.0.0.1"),
        (at(9, 9, 0), "access.denied", "denied", "10.0.0.1"),
    ];
    let mut o = options();
    o.from = Some(at(2, 0, 0));
    o.to = Some(at(5, 0, 0));
    let r = from_bundle(&bundle(&events), o, None);
    assert_eq!(r.events_in_period, 2);
    assert_eq!(r.period_from.as_deref(), Some("2026-11-02T00:00:00Z"));
    // The whole bundle is still verified, not only the period.
    assert_eq!(r.integrity.events, 4);
    let all = from_bundle(&bundle(&events), options(), None);
    let days: Vec<_> = all.charts[1].points.iter().map(|p| p.1).collect();
    assert_eq!(days, [1, 0, 1, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn json_and_pdf_renderings_of_an_empty_period() {
    let events = [(at(1, 9, 0), "audit.read", "success", "10.0.0.1")];
    let mut o = options();
    o.from = Some(at(20, 0, 0));
    let r = from_bundle(&bundle(&events), o, None);
    assert_eq!(r.events_in_period, 0);
    assert!(r
        .sections
        .iter()
        .all(|s| s.status == Status::NotTested || s.control_id == "CC7.2"));
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["framework"], "soc2");
    #[cfg(feature = "pdf")]
    {
        let pdf = pdf::render(&r);
        assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 1000);
    }
}
