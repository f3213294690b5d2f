//! The report as a PDF (A4): cover page with the integrity statement,
//! summary of controls, two vector bar charts, then one section per control
//! with population tables that break across pages under repeated headers;
//! page numbers on every page. Text is set in an embedded Unicode face
//! (DejaVu Sans, see `fonts`), so it draws and extracts as written. The same report gives byte-identical output: the
//! creation date is the report's generation time and the file identifier
//! is derived from the content instead of being random.

mod fonts;
mod layout;

use printpdf::{PdfDocument, PdfPage, PdfSaveOptions};

use super::{Report, Status, Table};
use layout::*;
fn status_color(s: Status) -> Rgb3 {
    match s {
        Status::Effective => GOOD,
        Status::Exceptions => BAD,
        Status::NotTested => WARN,
        Status::NotApplicable => MUTED,
    }
}

fn cover(w: &mut Writer, r: &Report) {
    w.rect(0.0, H - 150.0, W, 150.0, ACCENT);
    w.text(
        MARGIN,
        H - 70.0,
        10.0,
        true,
        Rgb3(0.85, 0.9, 1.0),
        "LOKI COMPLIANCE CONSOLE",
    );
    w.text(MARGIN, H - 104.0, 22.0, true, Rgb3(1.0, 1.0, 1.0), &r.title);
    w.y = H - 190.0;
    let org = match (&r.org_name, r.org_id) {
        (Some(n), Some(id)) => format!("{n} ({id})"),
        (None, Some(id)) => id.to_string(),
        (Some(n), None) => n.clone(),
        (None, None) => "unknown".into(),
    };
    let evidenced = r
        .applicability
        .iter()
        .filter(|a| a.coverage == "Evidenced")
        .count();
    let scope = format!(
        "{}: {} controls tested of {} in scope (see the Statement of Applicability); one organization's audit chain",
        match r.framework {
            crate::controls::Framework::Soc2 => "SOC 2 Trust Services Criteria",
            crate::controls::Framework::Iso27001 => "ISO/IEC 27001:2022 Annex A",
            crate::controls::Framework::Gdpr => "GDPR",
        },
        evidenced,
        r.applicability.len()
    );
    let facts = [
        ("Organization", org),
        ("Scope", scope),
        (
            "Period",
            format!(
                "{} to {}",
                r.period_from.as_deref().unwrap_or("(start)"),
                r.period_to.as_deref().unwrap_or("(end)")
            ),
        ),
        ("Generated", r.generated_at.clone()),
        (
            "Bundle SHA-256",
            r.bundle_sha256
                .clone()
                .unwrap_or_else(|| "not stated (built from a bundle in memory)".into()),
        ),
        (
            "Events in period",
            format!(
                "{} (a folded flood counts once per occurrence)",
                r.events_in_period
            ),
        ),
        (
            "Current state",
            r.snapshot_taken_at.as_ref().map_or(
                "PARTIAL: current state not included (controls that need it are Not tested)".into(),
                |t| match &r.snapshot_sha256 {
                    Some(h) => format!("signed snapshot taken {t}, SHA-256 {h}"),
                    None => format!("snapshot taken {t}"),
                },
            ),
        ),
    ];
    for (k, v) in facts {
        w.y -= 18.0;
        w.text(MARGIN, w.y, BODY, true, MUTED, k);
        for (i, line) in wrap(&v, BODY, false, CONTENT_W - 110.0).iter().enumerate() {
            if i > 0 {
                w.y -= 12.5;
            }
            w.text(MARGIN + 110.0, w.y, BODY, false, INK, line);
        }
    }
    // The integrity box: the first thing an auditor checks.
    let i = &r.integrity;
    let (c, label) = match (i.verified, i.trusted) {
        (true, true) => (GOOD, "AUDIT TRAIL INTEGRITY: VERIFIED AND TRUSTED"),
        (true, false) => (WARN, "AUDIT TRAIL INTEGRITY: VERIFIED, SIGNER NOT PINNED"),
        _ => (BAD, "AUDIT TRAIL INTEGRITY: VERIFICATION FAILED"),
    };
    let lines = wrap(&i.statement, BODY, false, CONTENT_W - 24.0);
    let head = i
        .signed_head
        .as_ref()
        .map_or("Signed head: none".to_owned(), |(seq, hash)| {
            format!("Signed head: seq {seq}, hash {hash}")
        });
    let signers = if i.signer_fingerprints.is_empty() {
        "Signed by: no verified checkpoint".to_owned()
    } else {
        format!("Signed by: {}", i.signer_fingerprints.join(", "))
    };
    let witness = match i.witnessed {
        0 => String::new(),
        n => format!(" Checked against {n} signed head(s) of a witness file."),
    };
    let head_lines = wrap(
        &format!("{head}. {signers}.{witness}"),
        SMALL,
        false,
        CONTENT_W - 24.0,
    );
    let box_h = 34.0 + lines.len() as f32 * 13.0 + head_lines.len() as f32 * 10.0 + 16.0;
    w.y -= 30.0 + box_h;
    w.rect(MARGIN, w.y, CONTENT_W, box_h, c);
    w.rect(
        MARGIN + 3.0,
        w.y + 3.0,
        CONTENT_W - 6.0,
        box_h - 6.0,
        Rgb3(1.0, 1.0, 1.0),
    );
    let mut y = w.y + box_h - 22.0;
    w.text(MARGIN + 12.0, y, 12.0, true, c, label);
    for l in &lines {
        y -= 13.0;
        w.text(MARGIN + 12.0, y, BODY, false, INK, l);
    }
    y -= 6.0;
    for l in &head_lines {
        y -= 10.0;
        w.text(MARGIN + 12.0, y, SMALL, false, MUTED, l);
    }
    w.gap(16.0);
    w.para(
        &format!(
            "Events {}-{} in the bundle, {} events and {} signed checkpoints checked with the hash chain (SHA-256 over JCS) and Ed25519 signatures.",
            i.first_seq.map_or("-".into(), |s| s.to_string()),
            i.last_seq.map_or("-".into(), |s| s.to_string()),
            i.events,
            i.checkpoints
        ),
        BODY,
        false,
        MUTED,
        0.0,
    );
    w.gap(10.0);
    w.para(
        "How to read this report: each control lists what it asks, the evidence found with figures, findings (exceptions to follow up), and the full populations behind the figures so that samples can be drawn. Statuses: Effective (tested, no exceptions), Exceptions (tested, with exceptions described), Not tested (the evidence the control needs is not in this report), Not applicable.",
        BODY,
        false,
        INK,
        0.0,
    );
}

fn summary(w: &mut Writer, r: &Report) {
    w.heading("Summary of controls", 15.0);
    let rows = r
        .summary
        .iter()
        .map(|s| {
            vec![
                s.control_id.clone(),
                s.title.clone(),
                s.status.label().to_owned(),
                s.exceptions.to_string(),
            ]
        })
        .collect();
    w.table(&Table {
        title: "Controls".into(),
        columns: vec![
            "Control".into(),
            "Title".into(),
            "Status".into(),
            "Findings".into(),
        ],
        rows,
        records: Vec::new(),
    });
    for c in &r.charts {
        w.chart(c);
    }
    applicability(w, r);
}

fn applicability(w: &mut Writer, r: &Report) {
    w.new_page();
    w.heading("Statement of Applicability", 15.0);
    w.para(
        "Every control of the framework's scope: whether this report evidences it and with what conclusion, and for the rest why the evidence lies outside what LOKI records.",
        BODY,
        false,
        INK,
        0.0,
    );
    let rows = r
        .applicability
        .iter()
        .map(|a| {
            vec![
                a.control_id.clone(),
                a.title.clone(),
                match a.status {
                    Some(st) => format!("{}: {}", a.coverage, st.label()),
                    None => a.coverage.clone(),
                },
                a.note.clone(),
            ]
        })
        .collect();
    w.table(&Table {
        title: "Controls in scope".into(),
        columns: vec![
            "Control".into(),
            "Title".into(),
            "Coverage".into(),
            "Evidence, or why not".into(),
        ],
        rows,
        records: Vec::new(),
    });
}

fn section(w: &mut Writer, s: &super::Section) {
    w.new_page();
    w.heading(&format!("{}  {}", s.control_id, s.title), 14.0);
    let status = format!("Status: {}", s.status.label());
    w.para(&status, 11.0, true, status_color(s.status), 0.0);
    w.gap(4.0);
    w.para("What the control asks", BODY, true, INK, 0.0);
    w.para(&s.asks, BODY, false, INK, 0.0);
    w.gap(4.0);
    w.para("Evidence", BODY, true, INK, 0.0);
    for e in &s.evidence {
        w.bullet(e, INK);
    }
    w.gap(4.0);
    w.para("Findings", BODY, true, INK, 0.0);
    if s.findings.is_empty() {
        w.bullet("None.", GOOD);
    }
    for f in &s.findings {
        w.bullet(f, BAD);
    }
    if let Some(n) = &s.narrative {
        w.gap(4.0);
        w.para("Exception narrative", BODY, true, INK, 0.0);
        w.para(n, BODY, false, INK, 0.0);
    }
    for t in &s.tables {
        w.table(t);
    }
}

/// Renders the report. Same report, same bytes.
pub fn render(r: &Report) -> Vec<u8> {
    let head = format!(
        "{} | {} | {} to {}",
        r.title,
        r.org_name
            .clone()
            .or(r.org_id.map(|i| i.to_string()))
            .unwrap_or_default(),
        r.period_from.as_deref().unwrap_or("-"),
        r.period_to.as_deref().unwrap_or("-")
    );
    let mut w = Writer::new(head);
    cover(&mut w, r);
    w.new_page();
    if !r.integrity.verified {
        w.para(&r.integrity.statement, BODY, true, BAD, 0.0);
    }
    summary(&mut w, r);
    for s in &r.sections {
        section(&mut w, s);
    }
    let footer = format!("LOKI | {} | generated {}", r.title, r.generated_at);
    let pages = w
        .finish(&footer)
        .into_iter()
        .map(|p| {
            let (w, h) = if p.landscape {
                (297.0, 210.0)
            } else {
                (210.0, 297.0)
            };
            PdfPage::new(printpdf::Mm(w), printpdf::Mm(h), p.ops)
        })
        .collect();
    let mut doc = PdfDocument::new(&r.title);
    fonts::register(&mut doc);
    let t = chrono::DateTime::parse_from_rfc3339(&r.generated_at).map_or(0, |t| t.timestamp());
    if let Ok(date) = printpdf::OffsetDateTime::from_unix_timestamp(t) {
        doc.metadata.info.creation_date = date;
        doc.metadata.info.modification_date = date;
        doc.metadata.info.metadata_date = date;
    }
    doc.metadata.info.creator = "LOKI".into();
    doc.metadata.info.producer = "LOKI report (printpdf)".into();
    let mut warnings = Vec::new();
    let bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings);
    deterministic_id(bytes)
}

/// printpdf writes a random `/ID` into the trailer; replace it (same
/// length, so offsets stay valid) with one derived from the content.
fn deterministic_id(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(at) = find(&bytes, b"/ID") else {
        return bytes;
    };
    let digest = crate::audit::sha256_hex(&bytes[..at]);
    let mut pos = at;
    // Two literal strings follow: (...)(...).
    for part in 0..2 {
        let Some(open) = bytes[pos..]
            .iter()
            .position(|b| *b == b'(')
            .map(|i| pos + i)
        else {
            break;
        };
        let Some(close) = bytes[open..]
            .iter()
            .position(|b| *b == b')')
            .map(|i| open + i)
        else {
            break;
        };
        let seed = &digest.as_bytes()[part * 16..];
        for (k, b) in bytes[open + 1..close].iter_mut().enumerate() {
            *b = seed[k % seed.len()];
        }
        pos = close + 1;
    }
    bytes
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
