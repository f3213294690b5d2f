//! The golden multi-day scenario: twelve days of an organization's life
//! (nine members, two removals, an API-key lifecycle, failed sign-ins with
//! a burst across a 10-minute boundary, denials, a folded flood, a token
//! reuse) and the SOC 2 / ISO reports' numbers checked against what the
//! scenario did.
//!
//! The daemon has no clock a test can move, so twelve days cannot pass
//! through a real one: the events are scripted in the shapes the daemon
//! writes (the same actions, resources and metadata as
//! `tests/tests/reports.rs` records from a real daemon), chained and signed
//! by the bundle writer, and verified against a pinned key like any bundle.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use loki_shared::api::ReportSnapshot;
use loki_shared::audit::{AuditEvent, BundleWriter, Checks, Pinned};
use loki_shared::controls::Framework;
use loki_shared::report::{self, Report, ReportBuilder, ReportOptions, Status};
use loki_tests::section;
use serde_json::{json, Value};
use uuid::Uuid;

const ORG_NAME: &str = "Nordlicht Söhne GmbH";
const KEY: [u8; 32] = [11; 32];

fn day(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15 + d, h, m, s)
        .single()
        .expect("time")
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// What the scenario did, counted as it did it.
#[derive(Default)]
struct Did {
    events: u64,
    sign_ins: u64,
    failed: u64,
    added: u64,
    removed: u64,
    rate_limited: u64,
    ip_denied: u64,
    internal_denials: u64,
    keys_created: u64,
    keys_rotated: u64,
    keys_revoked: u64,
}

struct Script {
    org: Uuid,
    events: Vec<AuditEvent>,
    people: HashMap<&'static str, Uuid>,
    did: Did,
    n: u128,
}

impl Script {
    fn id(&mut self) -> Uuid {
        self.n += 1;
        Uuid::from_u128(0x0100_0000_0000_0000 + self.n)
    }

    fn user(&self, name: &str) -> Uuid {
        self.people[name]
    }

    /// One event by `who` (a member's name, or "" for nobody known).
    fn ev(&mut self, at: DateTime<Utc>, who: &str, action: &str, outcome: &str) -> &mut AuditEvent {
        let mut e = AuditEvent::draft(&stamp(at), action, outcome);
        e.id = self.id();
        e.org_id = self.org;
        e.actor.kind = "user".into();
        if !who.is_empty() {
            e.actor.user_id = Some(self.user(who));
            e.actor.session_id = Some(Uuid::from_u128(0x5e55 + u128::from(who.as_bytes()[0])));
        }
        e.ip = Some(format!("192.0.2.{}", 10 + who.len()));
        e.user_agent = Some(format!("Firefox/140 ({who})"));
        e.request_id = Some(self.id().to_string());
        e.metadata = json!({});
        self.did.events += 1;
        self.events.push(e);
        self.events.last_mut().expect("just pushed")
    }

    fn join(&mut self, at: DateTime<Utc>, name: &'static str, role: &str) {
        let u = self.id();
        self.people.insert(name, u);
        let e = self.ev(at, name, "member.added", "success");
        e.resource_type = Some("member".into());
        e.resource_id = Some(u.to_string());
        e.after = Some(json!({"email": format!("{name}@nordlicht.test"), "roles": [role]}));
        self.did.added += 1;
    }

    fn sign_in(&mut self, at: DateTime<Utc>, name: &str) {
        self.ev(at, name, "auth.login_succeeded", "success")
            .metadata = json!({"kind": "token", "mfa": false});
        self.did.sign_ins += 1;
    }

    fn failed(&mut self, at: DateTime<Utc>, name: &str, ip: &str) {
        self.ev(at, name, "auth.login_failed", "failure").ip = Some(ip.into());
        self.did.failed += 1;
    }

    /// Removed by the admin; the daemon ends the member's session at once.
    fn remove(&mut self, at: DateTime<Utc>, name: &str) {
        let u = self.user(name);
        let e = self.ev(at, "admin", "member.removed", "success");
        e.resource_type = Some("member".into());
        e.resource_id = Some(u.to_string());
        e.before = Some(json!({"email": format!("{name}@nordlicht.test"), "roles": ["viewer"]}));
        let e = self.ev(
            at + Duration::milliseconds(4),
            "admin",
            "session.revoked",
            "success",
        );
        e.resource_type = Some("session".into());
        e.resource_id = Some(Uuid::from_u128(0x5e55 + u128::from(name.as_bytes()[0])).to_string());
        e.metadata = json!({"reason": "member_removed", "user_id": u});
        self.did.removed += 1;
    }

    fn key(&mut self, at: DateTime<Utc>, name: &str, action: &str, key: Uuid) {
        let e = self.ev(at, name, action, "success");
        e.resource_type = Some("api_key".into());
        e.resource_id = Some(key.to_string());
        match action {
            "api_key.created" => self.did.keys_created += 1,
            "api_key.rotated" => self.did.keys_rotated += 1,
            _ => self.did.keys_revoked += 1,
        }
    }
}

struct Golden {
    bundle: String,
    snapshot: ReportSnapshot,
    did: Did,
    keys: [Uuid; 3],
}

fn scenario() -> Golden {
    let org = Uuid::from_u128(0x0a11_ce00);
    let mut s = Script {
        org,
        events: Vec::new(),
        people: HashMap::new(),
        did: Did::default(),
        n: 0,
    };
    // Day 1: the organization and its nine members.
    let admin = s.id();
    s.people.insert("admin", admin);
    let e = s.ev(day(1, 8, 0, 0), "admin", "org.created", "success");
    e.resource_type = Some("organization".into());
    e.resource_id = Some(org.to_string());
    e.after = Some(json!({"name": ORG_NAME, "slug": "nordlicht", "tier": "enterprise"}));
    for (i, (name, role)) in [
        ("anna", "compliance_officer"),
        ("ben", "viewer"),
        ("cara", "auditor"),
        ("dirk", "viewer"),
        ("eva", "viewer"),
        ("finn", "compliance_officer"),
        ("gina", "viewer"),
        ("hans", "auditor"),
    ]
    .into_iter()
    .enumerate()
    {
        s.join(day(1, 9, i as u32, 0), name, role);
    }
    // Every member signs in every working day they are a member.
    let mut leaves: HashMap<&str, u32> = HashMap::new();
    leaves.insert("dirk", 6);
    leaves.insert("eva", 10);
    for d in 1..=12 {
        for name in [
            "admin", "anna", "ben", "cara", "dirk", "eva", "finn", "gina", "hans",
        ] {
            if leaves.get(name).is_some_and(|l| d > *l) || (d == 1 && name != "admin") {
                continue;
            }
            s.sign_in(day(d, 8, 30, u32::from(name.as_bytes()[1]) % 60), name);
        }
    }
    let keys = [s.id(), s.id(), s.id()];
    // Day 2-4: API keys; finn becomes an admin; MFA required of admins.
    s.key(day(2, 10, 0, 0), "dirk", "api_key.created", keys[0]);
    s.key(day(3, 11, 0, 0), "eva", "api_key.created", keys[1]);
    let finn = s.user("finn");
    let e = s.ev(day(3, 15, 0, 0), "admin", "role.assigned", "success");
    e.resource_type = Some("member".into());
    e.resource_id = Some(finn.to_string());
    e.before = Some(json!({"roles": ["compliance_officer"]}));
    e.after = Some(json!({"roles": ["compliance_officer", "admin"]}));
    s.key(day(4, 9, 0, 0), "anna", "api_key.created", keys[2]);
    let e = s.ev(
        day(4, 16, 0, 0),
        "admin",
        "security.settings_changed",
        "success",
    );
    e.resource_type = Some("organization".into());
    e.resource_id = Some(org.to_string());
    e.before = Some(json!({"name": ORG_NAME, "settings": {"require_mfa_for_admins": false}}));
    e.after = Some(json!({"name": ORG_NAME, "settings": {"require_mfa_for_admins": true}}));
    // Day 5: ben's password is guessed at from one address, six times
    // between 10:07 and 10:13 (across the 10:10 boundary), then locked.
    for m in [7, 8, 9, 11, 12, 13] {
        s.failed(day(5, 10, m, 0), "ben", "203.0.113.7");
    }
    s.ev(day(5, 10, 13, 1), "ben", "auth.account_locked", "denied")
        .ip = Some("203.0.113.7".into());
    // Day 6: anna rotates her key; dirk leaves, and his key is revoked
    // only on day 8 (late).
    s.key(day(6, 9, 0, 0), "anna", "api_key.rotated", keys[2]);
    s.remove(day(6, 14, 0, 0), "dirk");
    s.key(day(8, 13, 0, 0), "admin", "api_key.revoked", keys[0]);
    // Day 7: gina tries what a viewer may not (inside the boundary).
    for m in 0..3 {
        let e = s.ev(day(7, 11, m, 0), "gina", "access.denied", "denied");
        e.metadata =
            json!({"permission": "role:create", "reason": "no role or grant gives role:create"});
        s.did.internal_denials += 1;
    }
    // Day 8: a flood of 40 rate-limited requests, folded; two addresses denied.
    let e = s.ev(day(8, 10, 5, 0), "hans", "request.rate_limited", "denied");
    e.count = 40;
    e.metadata = json!({"limit": "org", "requests": 100, "window_secs": 60,
        "first_at": stamp(day(8, 10, 0, 0)), "last_at": stamp(day(8, 10, 4, 30))});
    s.did.events += 39;
    s.did.rate_limited += 40;
    for m in 0..2 {
        s.ev(day(8, 12, m, 0), "", "request.ip_denied", "denied").ip = Some("198.51.100.66".into());
        s.did.ip_denied += 1;
    }
    // Day 9: three failures hours apart (no burst); hans's refresh token reused.
    for h in [9, 12, 15] {
        s.failed(day(9, h, 0, 0), "cara", "198.51.100.4");
    }
    s.ev(
        day(9, 17, 0, 0),
        "hans",
        "auth.refresh_token_reused",
        "denied",
    );
    // Day 10: eva leaves; her key stays active (a finding at the snapshot).
    s.remove(day(10, 16, 0, 0), "eva");
    // Day 11: dirk tries to come back: refused (the revocation works).
    s.ev(
        day(11, 9, 0, 0),
        "dirk",
        "auth.membership_refused",
        "denied",
    )
    .metadata = json!({"org": org, "reason": "not_a_member"});

    // The chain is in time order, as the daemon appends it.
    s.events.sort_by(|a, b| a.time.cmp(&b.time));
    let mut w = BundleWriter::new(
        Vec::new(),
        org,
        SigningKey::from_bytes(&KEY),
        "golden-key",
        "2026-11-27T18:00:00Z",
    )
    .expect("bundle");
    for e in s.events.drain(..) {
        w.event(e).expect("event");
    }
    w.checkpoint("2026-11-27T18:00:00Z").expect("checkpoint");
    let bundle = String::from_utf8(w.finish().expect("finish")).expect("utf-8");

    let member = |name: &str, roles: &[&str], mfa: bool| {
        json!({"user_id": s.people[name], "email": format!("{name}@nordlicht.test"),
            "roles": roles, "mfa_enabled": mfa, "is_super_admin": false,
            "joined_at": "2026-11-16T09:00:00Z"})
    };
    let key = |id: Uuid, key_id: &str, by: &str, revoked: Option<&str>| {
        json!({"id": id, "org_id": org, "key_id": key_id, "name": format!("{by}'s key"),
            "scopes": ["org:read"], "created_by": s.people[by],
            "created_at": "2026-11-17T10:00:00Z", "revoked_at": revoked})
    };
    let snapshot: ReportSnapshot = serde_json::from_value(json!({
        "org_id": org,
        "taken_at": "2026-11-27T18:00:00Z",
        "organization": {"id": org, "name": ORG_NAME, "slug": "nordlicht", "tier": "enterprise",
            "status": "active", "created_at": "2026-11-16T08:00:00Z",
            "updated_at": "2026-11-19T16:00:00Z", "settings": {"require_mfa_for_admins": true}},
        "members": [
            member("admin", &["admin"], true), member("anna", &["compliance_officer"], true),
            member("ben", &["viewer"], false), member("cara", &["auditor"], true),
            member("finn", &["compliance_officer", "admin"], false),
            member("gina", &["viewer"], false), member("hans", &["auditor"], true),
        ],
        "roles": [],
        "api_keys": [
            key(keys[0], "k_dirk", "dirk", Some("2026-11-23T13:00:00Z")),
            key(keys[1], "k_eva", "eva", None),
            key(keys[2], "k_anna", "anna", None),
        ],
    }))
    .expect("snapshot");
    Golden {
        bundle,
        snapshot,
        did: s.did,
        keys,
    }
}

fn report(g: &Golden, framework: Framework) -> Report {
    let mut builder = ReportBuilder::new(ReportOptions::new(framework, day(12, 18, 30, 0)));
    for l in g.bundle.lines() {
        builder.line(l);
    }
    let mut pinned = Pinned::default();
    pinned
        .add(&loki_shared::audit::fingerprint(
            SigningKey::from_bytes(&KEY).verifying_key().as_bytes(),
        ))
        .expect("fingerprint");
    let checks = Checks {
        pinned: Some(pinned),
        witness: Default::default(),
    };
    let (mut r, _) = builder.finish_with(Some(&g.snapshot), &checks);
    r.bundle_sha256 = Some(loki_shared::audit::sha256_hex(g.bundle.as_bytes()));
    r
}

/// The cover's text, read back with lopdf.
fn pdf_first_page(pdf: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(pdf).expect("a readable PDF");
    doc.extract_text(&[1]).expect("page text")
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

#[test]
fn twelve_days_give_the_figures_the_scenario_made() {
    let g = scenario();
    let r = report(&g, Framework::Soc2);
    let d = &g.did;
    assert!(
        r.integrity.verified && r.integrity.trusted,
        "{:?}",
        r.integrity
    );
    assert_eq!(r.org_name.as_deref(), Some(ORG_NAME));
    assert_eq!(r.events_in_period, d.events);
    // One bar per day, twelve days, adding up to every occurrence.
    let per_day = &r.charts[0].points;
    assert_eq!(per_day.len(), 12);
    assert_eq!(per_day.iter().map(|p| p.1).sum::<u64>(), d.events);
    assert_eq!(r.charts[1].points.iter().map(|p| p.1).sum::<u64>(), {
        // Denied outcomes: lockout, flood, ip denials, internal denials,
        // token reuse, dirk's refused return.
        1 + d.rate_limited + d.ip_denied + d.internal_denials + 1 + 1
    });

    let cc61 = section(&r, "CC6.1");
    assert!(
        has(
            &cc61.evidence,
            &format!(
                "{} successful sign-ins and {} failed or refused sign-in attempts",
                d.sign_ins,
                d.failed + 1
            )
        ),
        "{:?}",
        cc61.evidence
    );
    assert!(has(
        &cc61.evidence,
        &format!(
            "API keys: {} created, {} rotated, {} revoked in the period; 2 active at the snapshot",
            d.keys_created, d.keys_rotated, d.keys_revoked
        )
    ));
    // finn became an admin without MFA.
    assert!(
        has(&cc61.findings, "finn@nordlicht.test"),
        "{:?}",
        cc61.findings
    );

    let cc62 = section(&r, "CC6.2");
    assert_eq!(cc62.status, Status::Exceptions);
    assert!(has(
        &cc62.evidence,
        &format!("{} members added and {} removed", d.added, d.removed)
    ));
    assert!(
        has(
            &cc62.evidence,
            "0 of 2 removals fully revoked within 24 h; the longest took 1 d 23 h"
        ),
        "{:?}",
        cc62.evidence
    );
    assert!(
        has(&cc62.findings, "dirk@nordlicht.test"),
        "{:?}",
        cc62.findings
    );
    assert!(has(&cc62.findings, "1 d 23 h later (more than 24 h)"));
    assert!(has(&cc62.findings, "eva@nordlicht.test"));
    assert!(has(&cc62.findings, "still holds: API key k_eva"));
    assert_eq!(
        cc62.findings.len(),
        2,
        "one finding per departed member: {:?}",
        cc62.findings
    );
    let term_eva = &cc62
        .tables
        .iter()
        .find(|t| t.title.starts_with("Terminations"))
        .expect("t")
        .rows[1];
    assert!(term_eva[4].starts_with("NOT COMPLETE"), "{term_eva:?}");
    assert!(has(
        &cc62.evidence,
        "1 attempts by removed members were refused"
    ));
    let term = cc62
        .tables
        .iter()
        .find(|t| t.title.starts_with("Terminations"))
        .expect("terminations");
    assert_eq!(term.rows.len(), 2);
    assert_eq!(term.rows[0][2], "1");
    assert!(
        term.rows[0][3].starts_with(&g.keys[0].to_string()),
        "{:?}",
        term.rows[0]
    );
    let narrative = cc62.narrative.as_deref().expect("narrative");
    assert!(narrative.contains(&format!("tested against {} audit events", d.events)));

    let cc66 = section(&r, "CC6.6");
    assert!(has(
        &cc66.evidence,
        &format!("request.rate_limited: {} refused", d.rate_limited)
    ));
    assert!(has(
        &cc66.evidence,
        &format!("request.ip_denied: {} refused", d.ip_denied)
    ));
    assert!(has(
        &cc66.evidence,
        &format!("{} refusals inside the boundary", d.internal_denials + 1)
    ));

    let cc72 = section(&r, "CC7.2");
    assert!(
        has(&cc72.evidence, "1 failed sign-in bursts"),
        "{:?}",
        cc72.evidence
    );
    assert!(has(&cc72.evidence, "1 refresh-token reuses"));
    assert!(has(
        &cc72.findings,
        "6 failed sign-in attempts from 203.0.113.7, the first at 2026-11-20T10:07:00Z"
    ));

    // Every record traces to an event of the bundle: seq, id and time.
    let events: HashMap<u64, Value> = g
        .bundle
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "event")
        .map(|v| (v["event"]["seq"].as_u64().unwrap_or(0), v["event"].clone()))
        .collect();
    let mut traced = 0;
    for s in &r.sections {
        for t in &s.tables {
            for rec in &t.records {
                let e = &events[&rec.seq];
                assert_eq!(e["id"], rec.event_id.to_string());
                assert_eq!(e["time"], &*rec.time);
                traced += 1;
            }
        }
    }
    assert!(traced > 100, "{traced}");
    // The flood keeps its first and last occurrence and its count.
    let flood = cc66.tables[0]
        .records
        .iter()
        .find(|r| &*r.action == "request.rate_limited")
        .expect("flood");
    assert_eq!(flood.count, 40);
    assert_eq!(
        flood.first_at.as_deref(),
        Some("2026-11-23T10:00:00.000000Z")
    );

    let pdf = report::pdf::render(&r);
    assert_eq!(pdf, report::pdf::render(&r), "same report, same bytes");
    let cover = pdf_first_page(&pdf);
    for needle in [
        ORG_NAME,
        "SOC 2 Trust Services Criteria: 6 controls tested of 40 in scope",
        "2026-11-16T08:00:00Z to 2026-11-27T08:30:50Z",
        "2026-11-27T18:30:00Z",
        r.bundle_sha256.as_deref().unwrap_or("?"),
        "VERIFIED AND TRUSTED",
    ] {
        assert!(cover.contains(needle), "{needle} not on the cover: {cover}");
    }
    if let Ok(dir) = std::env::var("LOKI_REPORT_SAMPLE_DIR") {
        std::fs::write(format!("{dir}/report-soc2-sample.pdf"), &pdf).expect("sample");
    }
}

#[test]
fn the_iso_report_of_the_same_twelve_days() {
    let g = scenario();
    let r = report(&g, Framework::Iso27001);
    let d = &g.did;
    let a516 = section(&r, "A.5.16");
    assert!(has(
        &a516.evidence,
        "0 of 2 removals fully revoked within 24 h"
    ));
    let a83 = section(&r, "A.8.3");
    assert!(has(
        &a83.evidence,
        &format!(
            "{} requests refused for a missing permission",
            d.internal_denials
        )
    ));
    let a832 = section(&r, "A.8.32");
    // The settings change; role.assigned is an access change, not a change of the system.
    assert!(
        has(&a832.evidence, "2 changes in the period"),
        "{:?}",
        a832.evidence
    );
    let a526 = section(&r, "A.5.26");
    assert_eq!(a526.status, Status::NotTested);
    assert!(has(&a526.evidence, "1 account lockouts"));
    let a820 = section(&r, "A.8.20");
    assert!(has(
        &a820.evidence,
        &format!("request.ip_denied: {} refused", d.ip_denied)
    ));
    for c in Framework::Iso27001.controls() {
        assert!(
            r.applicability.iter().any(|a| a.control_id == *c),
            "{c} missing from the statement of applicability"
        );
    }
    // Nothing is left without either a section or a reason.
    for a in &r.applicability {
        let sec = r.sections.iter().any(|s| s.control_id == a.control_id);
        assert_eq!(a.coverage == "Evidenced", sec, "{a:?}");
        assert!(sec || a.note != "No section in this report.", "{a:?}");
    }
}
