//! What a tampered bundle does to a report, and long tables across pages.

use super::scenario::*;

/// A bundle altered after export: the report says so on its first page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_bundle_is_reported_on_page_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let s = scenario(&app).await;
    app.stop().await;
    // Make bob an admin in the record of his last role change.
    let tampered: String = s
        .bundle
        .lines()
        .map(|l| {
            if l.contains("\"role.revoked\"") {
                l.replace(
                    "\"after\":{\"roles\":[\"viewer\"]}",
                    "\"after\":{\"roles\":[\"admin\"]}",
                )
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        tampered,
        s.bundle.trim_end(),
        "the tamper changed something"
    );
    let r = report::from_bundle(&tampered, options(Framework::Soc2), Some(&s.snapshot));
    assert!(!r.integrity.verified);
    assert!(
        r.integrity
            .statement
            .starts_with("VERIFICATION FAILED at seq"),
        "{}",
        r.integrity.statement
    );
    assert!(r.sections.iter().all(|s| s.status == Status::Exceptions));
    let first = pdf_text(&report::pdf::render(&r), Some((1, 1)));
    assert!(first.contains("VERIFICATION FAILED"), "{first}");
}

/// A population longer than a page continues on the next pages under its
/// header row, and every page is numbered.
#[test]
fn long_tables_repeat_their_header_on_every_page() {
    let rows: Vec<Vec<String>> = (0..400)
        .map(|i| {
            vec![
                format!("2026-11-{:02} 10:00:00Z", i % 28 + 1),
                format!("row-{i:04}"),
            ]
        })
        .collect();
    let r = Report {
        title: "Header test".into(),
        framework: Framework::Soc2,
        org_id: None,
        org_name: Some("Acme".into()),
        period_from: None,
        period_to: None,
        generated_at: "2026-11-27T12:00:00Z".into(),
        integrity: report::Integrity {
            verified: true,
            events: 0,
            checkpoints: 0,
            first_seq: None,
            last_seq: None,
            signed_head: None,
            trusted: false,
            signer_fingerprints: Vec::new(),
            witnessed: 0,
            statement: "VERIFIED".into(),
        },
        snapshot_taken_at: None,
        snapshot_sha256: None,
        partial: true,
        bundle_sha256: None,
        events_in_period: 0,
        summary: Vec::new(),
        charts: Vec::new(),
        applicability: Vec::new(),
        sections: vec![report::Section {
            control_id: "CC6.1".into(),
            title: "Long".into(),
            asks: "Rows.".into(),
            evidence: Vec::new(),
            findings: Vec::new(),
            narrative: None,
            tables: vec![report::Table {
                title: "Population".into(),
                columns: vec!["Sample column".into(), "Identifier".into()],
                rows,
                records: Vec::new(),
            }],
            status: Status::Effective,
        }],
    };
    let pdf = report::pdf::render(&r);
    let text = pdf_text(&pdf, None);
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert!(pages.len() >= 6, "{} pages", pages.len());
    let n = pages.len();
    let mut seen = 0;
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains(&format!("Page {} of {n}", i + 1)),
            "page {}",
            i + 1
        );
        if page.contains("row-") {
            assert!(
                page.contains("Sample column"),
                "page {} lacks the header",
                i + 1
            );
            seen += page.matches("row-").count();
        }
    }
    assert_eq!(seen, 400, "every row printed once");
}
