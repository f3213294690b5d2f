//! Trust an auditor can pin: the audit keys published with fingerprints, a
//! forged bundle re-signed with a fresh key refused under `--trust`, key
//! rotation carrying trust to the successor, and a witness file catching a
//! history rewritten by someone who holds the signing key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use loki_shared::audit::{AuditEvent, BundleWriter};
use serde_json::{json, Value};

mod support;
use support::{lokid, sigterm, start, wait_exit, LOKID};

fn verify(bundle: &Path, extra: &[&str]) -> (Output, Value) {
    let out = Command::new(LOKID)
        .args(["audit", "verify"])
        .arg(bundle)
        .args(extra)
        .output()
        .expect("run lokid audit verify");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

/// The independent verifier (tools/verify_bundle.py) on the same input:
/// its first word, or `None` (with a visible SKIPPED line) without Python.
fn python(bundle: &Path, extra: &[&str]) -> Option<String> {
    let Ok(python) = std::env::var("LOKI_TEST_PYTHON") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: LOKI_TEST_PYTHON is not set: tools/verify_bundle.py was not checked on trust and witness"
        );
        return None;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/verify_bundle.py");
    let out = Command::new(python)
        .arg(script)
        .arg(bundle)
        .args(extra)
        .output()
        .expect("LOKI_TEST_PYTHON is set but cannot run");
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A daemon with one organization and a few audited changes; returns its
/// base URL, the scoped token and the org id.
async fn daemon_with_org(dir: &Path) -> (std::process::Child, String, String, String) {
    let mut cmd = lokid(dir);
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(dir);
    let (child, addr) = start(cmd);
    let base = format!("http://{addr}/api/v1");
    let http = reqwest::Client::new();
    let creds = json!({"email": "auditee@example.com", "password": "correct horse battery staple"});
    let r = http
        .post(format!("{base}/auth/register"))
        .json(&creds)
        .send()
        .await
        .expect("register");
    assert!(r.status().is_success(), "{}", r.status());
    let login = |body: Value| http.post(format!("{base}/auth/login")).json(&body).send();
    let t: Value = login(creds.clone())
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = t["access_token"].as_str().unwrap_or_default().to_owned();
    let org: Value = http
        .post(format!("{base}/orgs"))
        .bearer_auth(&token)
        .json(&json!({"name": "Pinned"}))
        .send()
        .await
        .expect("org")
        .json()
        .await
        .expect("json");
    let org_id = org["id"].as_str().unwrap_or_default().to_owned();
    let mut scoped = creds.clone();
    scoped["org"] = json!(org_id);
    let t: Value = login(scoped)
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let scoped = t["access_token"].as_str().unwrap_or_default().to_owned();
    (child, base, scoped, org_id)
}

async fn rename(base: &str, token: &str, org: &str, name: &str) {
    let r = reqwest::Client::new()
        .patch(format!("{base}/orgs/{org}"))
        .bearer_auth(token)
        .json(&json!({"name": name}))
        .send()
        .await
        .expect("patch");
    assert!(r.status().is_success(), "{}", r.status());
}

async fn export(base: &str, token: &str, org: &str, path: &Path) -> String {
    let text = reqwest::Client::new()
        .get(format!("{base}/orgs/{org}/audit/export?format=bundle"))
        .bearer_auth(token)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("body");
    std::fs::write(path, &text).expect("write bundle");
    text
}

fn events_of(bundle: &str) -> Vec<AuditEvent> {
    bundle
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "event")
        .map(|v| serde_json::from_value(v["event"].clone()).expect("event"))
        .collect()
}

/// Re-chains `events` and signs them with `key`, as a forger would.
fn resign(events: Vec<AuditEvent>, org: uuid::Uuid, key: [u8; 32], kid: &str) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&key);
    let mut w = BundleWriter::new(Vec::new(), org, key, kid, "2026-12-01T10:00:00Z").expect("w");
    for e in events {
        w.event(e).expect("event");
    }
    w.checkpoint("2026-12-01T10:00:00Z").expect("checkpoint");
    String::from_utf8(w.finish().expect("finish")).expect("utf-8")
}

#[tokio::test]
async fn pinned_keys_refuse_a_resigned_forgery_and_an_edited_or_foreign_snapshot_and_follow_a_rotation(
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, base, token, org) = daemon_with_org(dir.path()).await;
    for i in 0..4 {
        rename(&base, &token, &org, &format!("Pinned {i}")).await;
    }
    // Published without signing in, with fingerprints and no secrets.
    let keys_text = reqwest::get(format!("{base}/audit/keys"))
        .await
        .expect("keys")
        .text()
        .await
        .expect("body");
    let keys: Value = serde_json::from_str(&keys_text).expect("json");
    let key = &keys["keys"][0];
    let fp = key["fingerprint"].as_str().unwrap_or_default().to_owned();
    assert!(fp.starts_with("SHA256:") && fp.len() == 7 + 43, "{fp}");
    assert_eq!(
        Some(fp.clone()),
        loki_shared::audit::fingerprint_of(key["public_key"].as_str().unwrap_or_default())
    );
    assert!(!keys_text.contains("private"), "{keys_text}");
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, &keys_text).expect("write keys");
    // Signed snapshots: this organization's, and another's.
    let snapshot = get_text(&base, &token, &format!("/orgs/{org}/reports/snapshot")).await;
    let snap_file = write(dir.path(), "snapshot.json", &snapshot);
    let other = reqwest::Client::new()
        .post(format!("{base}/orgs"))
        .bearer_auth(&token)
        .json(&json!({"name": "Other"}))
        .send()
        .await
        .expect("org")
        .json::<Value>()
        .await
        .expect("json");
    let other_id = other["id"].as_str().unwrap_or_default().to_owned();
    let other_token = relogin(&base, &other_id).await;
    let foreign = get_text(
        &base,
        &other_token,
        &format!("/orgs/{other_id}/reports/snapshot"),
    )
    .await;
    let foreign_file = write(dir.path(), "foreign.json", &foreign);
    let bundle_path = dir.path().join("genuine.jsonl");
    let genuine = export(&base, &token, &org, &bundle_path).await;
    sigterm(&child);
    assert!(wait_exit(child).success());

    // The operator's view of the same keys.
    let out = lokid(dir.path())
        .args(["admin", "audit-keys", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("audit-keys");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(printed["keys"][0]["fingerprint"], json!(fp));

    snapshots_are_checked(
        dir.path(),
        &bundle_path,
        &genuine,
        &snap_file,
        &foreign_file,
        &keys_file,
    );

    // Without pins: intact, but authenticity is said not to be established.
    let (out, report) = verify(&bundle_path, &[]);
    assert!(out.status.success());
    assert_eq!(
        (report["ok"].clone(), report["trusted"].clone()),
        (json!(true), json!(false))
    );
    assert!(stderr(&out).contains("not established"), "{}", stderr(&out));
    // Pinned by the saved file, or by the fingerprint alone.
    let keys_arg = keys_file.to_string_lossy().into_owned();
    for pin in [keys_arg.as_str(), fp.as_str()] {
        let (out, report) = verify(&bundle_path, &["--trust", pin]);
        assert!(out.status.success(), "{report}");
        assert_eq!(report["trusted"], true, "{report}");
        assert_eq!(report["signer_fingerprints"], json!([fp]));
    }

    // A forger deletes an event and re-signs everything with a fresh key.
    let mut events = events_of(&genuine);
    events.remove(events.len() / 2);
    let org_id: uuid::Uuid = org.parse().expect("uuid");
    let forged = dir.path().join("forged.jsonl");
    std::fs::write(&forged, resign(events, org_id, [9u8; 32], "audit-forged")).expect("write");
    let (out, report) = verify(&forged, &[]);
    assert!(out.status.success(), "self-consistent: {report}");
    assert_eq!(report["trusted"], false);
    let (out, report) = verify(&forged, &["--trust", &keys_arg]);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(
        (report["ok"].clone(), report["trusted"].clone()),
        (json!(true), json!(false))
    );
    assert!(report["authenticity"]
        .as_str()
        .is_some_and(|a| a.contains("audit-forged")));
    if let Some(verdict) = python(&forged, &["--trust", &keys_arg]) {
        assert_eq!(verdict, "untrusted audit-forged");
        let genuine_verdict = python(&bundle_path, &["--trust", &keys_arg]).unwrap_or_default();
        assert!(genuine_verdict.ends_with(" trusted"), "{genuine_verdict}");
    }
    // The report's cover says the same.
    let pdf_json = dir.path().join("forged.json");
    let out = Command::new(LOKID)
        .args(["report", "--framework", "soc2", "--trust", &keys_arg, "-o"])
        .arg(&pdf_json)
        .arg(&forged)
        .output()
        .expect("report");
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&std::fs::read(&pdf_json).expect("read")).expect("json");
    assert_eq!(r["integrity"]["trusted"], false);
    assert!(r["integrity"]["statement"]
        .as_str()
        .is_some_and(|s| s.contains("SIGNER NOT PINNED")));

    // Rotation: the old key introduces the new one; trust carries over.
    let out = lokid(dir.path())
        .args(["admin", "rotate-audit-key", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("rotate");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut cmd = lokid(dir.path());
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    let (child, addr) = start(cmd);
    let base = format!("http://{addr}/api/v1");
    let token = relogin(&base, &org).await;
    rename(&base, &token, &org, "After rotation").await;
    let rotated_path = dir.path().join("rotated.jsonl");
    export(&base, &token, &org, &rotated_path).await;
    sigterm(&child);
    assert!(wait_exit(child).success());
    let (out, report) = verify(&rotated_path, &["--trust", &keys_arg]);
    assert!(out.status.success(), "{report}");
    assert_eq!(report["trusted"], true, "{report}");
    if let Some(verdict) = python(&rotated_path, &["--trust", &keys_arg]) {
        assert!(verdict.ends_with(" trusted"), "succession: {verdict}");
    }
    let signers = report["signer_fingerprints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        signers.len() == 2 && signers.contains(&json!(fp)),
        "{report}"
    );
    // A key that no pinned key introduced is not trusted, even beside one that was.
    let (out, _) = verify(
        &rotated_path,
        &[
            "--trust",
            "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

async fn relogin(base: &str, org: &str) -> String {
    let t: Value = reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "auditee@example.com", "password": "correct horse battery staple", "org": org}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    t["access_token"].as_str().unwrap_or_default().to_owned()
}

fn bundle(n: u64, changed: Option<u64>) -> String {
    let events = (1..=n)
        .map(|i| {
            let mut e = AuditEvent::draft("2026-11-27T10:00:00Z", "org.updated", "success");
            let tag = if Some(i) == changed {
                "rewritten"
            } else {
                "original"
            };
            e.metadata = json!({"n": i, "tag": tag});
            e
        })
        .collect();
    resign(events, uuid::Uuid::from_u128(7), [3u8; 32], "k1")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn a_history_rewritten_with_the_signing_key_fails_against_the_witness() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fp = loki_shared::audit::fingerprint(
        ed25519_dalek::SigningKey::from_bytes(&[3u8; 32])
            .verifying_key()
            .as_bytes(),
    );
    let witness = dir.path().join("witness.jsonl");
    let w = witness.to_string_lossy().into_owned();
    let seen = write(dir.path(), "seen.jsonl", &bundle(5, None));
    let (out, report) = verify(
        &seen,
        &["--trust", &fp, "--witness", &w, "--witness-update"],
    );
    assert!(out.status.success(), "{report}");
    let recorded = std::fs::read_to_string(&witness).expect("witness written");
    assert_eq!(recorded.lines().count(), 1);
    assert!(recorded.contains("\"seq\":5"), "{recorded}");

    // The key holder rewrites event 3 and re-signs: valid and trusted on its own…
    let rewritten = write(dir.path(), "rewritten.jsonl", &bundle(5, Some(3)));
    let (out, report) = verify(&rewritten, &["--trust", &fp]);
    assert!(
        out.status.success() && report["trusted"] == true,
        "{report}"
    );
    // …but not against the head seen before.
    let (out, report) = verify(&rewritten, &["--trust", &fp, "--witness", &w]);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["failure"]["kind"], "witness_mismatch", "{report}");
    assert_eq!(
        report["failure"]["seq"], 5,
        "the witnessed head's seq: {report}"
    );
    // A history cut short before the witnessed head fails too.
    let cut = write(dir.path(), "cut.jsonl", &bundle(4, None));
    let (out, report) = verify(&cut, &["--witness", &w]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report["failure"]["kind"], "witness_missing", "{report}");
    if let Some(verdict) = python(&cut, &["--witness", &w]) {
        assert_eq!(verdict, "fail 5 witness missing");
    }

    // The same history grown: passes, and the new head is appended.
    let grown = write(dir.path(), "grown.jsonl", &bundle(8, None));
    let (out, report) = verify(
        &grown,
        &["--trust", &fp, "--witness", &w, "--witness-update"],
    );
    assert!(out.status.success(), "{report}");
    assert_eq!(report["witnessed"], 1);
    if let Some(verdict) = python(&grown, &["--trust", &fp, "--witness", &w]) {
        assert_eq!(verdict, "ok 8 trusted");
    }
    assert_eq!(
        std::fs::read_to_string(&witness)
            .expect("read")
            .lines()
            .count(),
        2
    );
    // A failed check never records its head.
    let (_, _) = verify(&rewritten, &["--witness", &w, "--witness-update"]);
    assert_eq!(
        std::fs::read_to_string(&witness)
            .expect("read")
            .lines()
            .count(),
        2
    );
}

async fn get_text(base: &str, token: &str, path: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.text().await.expect("body")
}

fn report_with(bundle: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(LOKID)
        .args(["report", "--framework", "soc2", "-o"])
        .arg(out)
        .arg(bundle)
        .args(extra)
        .output()
        .expect("run lokid report")
}

/// A signed snapshot is accepted and its hash is the one recorded when it
/// was taken; an edited one, another organization's, or one taken outside
/// the period is refused with the reason.
fn snapshots_are_checked(
    dir: &Path,
    bundle: &Path,
    bundle_text: &str,
    snap: &Path,
    foreign: &Path,
    keys: &Path,
) {
    let out_file = dir.join("with-snapshot.json");
    let s = snap.to_string_lossy().into_owned();
    let k = keys.to_string_lossy().into_owned();
    let out = report_with(bundle, &out_file, &["--snapshot", &s, "--trust", &k]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&std::fs::read(&out_file).expect("read")).expect("json");
    let sha = r["snapshot_sha256"].as_str().unwrap_or_default().to_owned();
    assert_eq!(sha.len(), 64, "{r}");
    assert_eq!(r["partial"], false);
    assert_eq!(
        r["bundle_sha256"],
        json!(loki_shared::audit::sha256_hex(bundle_text.as_bytes())),
        "the cover states the SHA-256 of the file it was made from"
    );
    assert!(
        bundle_text.contains(&format!("\"snapshot_sha256\":\"{sha}\"")),
        "the report.generated event records the same snapshot hash"
    );
    assert_eq!(r["integrity"]["trusted"], true);

    // One member's MFA flag flipped after signing.
    let text = std::fs::read_to_string(snap).expect("read");
    let mut v: Value = serde_json::from_str(&text).expect("json");
    v["members"][0]["mfa_enabled"] =
        json!(!v["members"][0]["mfa_enabled"].as_bool().unwrap_or(false));
    let edited = write(dir, "edited.json", &v.to_string());
    let out = report_with(
        bundle,
        &out_file,
        &["--snapshot", &edited.to_string_lossy()],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("signature does not verify"),
        "{}",
        stderr(&out)
    );
    let out = report_with(
        bundle,
        &out_file,
        &["--snapshot", &foreign.to_string_lossy()],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("describes organization"),
        "{}",
        stderr(&out)
    );
    // Unsigned (as an older daemon gave it).
    v = serde_json::from_str(&text).expect("json");
    v.as_object_mut().expect("object").remove("signature");
    let unsigned = write(dir, "unsigned.json", &v.to_string());
    let out = report_with(
        bundle,
        &out_file,
        &["--snapshot", &unsigned.to_string_lossy()],
    );
    assert!(stderr(&out).contains("not signed"), "{}", stderr(&out));
    // A period that ended before the snapshot was taken.
    let period = ["--snapshot", s.as_str(), "--to", "2026-01-01T00:00:00Z"];
    let out = report_with(bundle, &out_file, &period);
    assert!(
        stderr(&out).contains("outside the report's period"),
        "{}",
        stderr(&out)
    );
    let mut told = period.to_vec();
    told.push("--snapshot-any-time");
    assert!(report_with(bundle, &out_file, &told).status.success());

    // No snapshot: the report says it is partial and tests less.
    let out = report_with(bundle, &out_file, &[]);
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&std::fs::read(&out_file).expect("read")).expect("json");
    assert_eq!(r["partial"], true);
    let cc61 = r["sections"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["control_id"] == "CC6.1"))
        .cloned()
        .unwrap_or_default();
    assert_ne!(cc61["status"], "effective", "{cc61}");
}
