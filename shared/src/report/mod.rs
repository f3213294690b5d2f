//! Compliance reports: a model computed from an audit bundle,
//! streamed line by line (only the populations an auditor samples are
//! kept), plus an optional snapshot of current state from the daemon. It
//! renders as JSON (serde) and, with the `pdf` feature, as a PDF.

pub mod applicability;
pub mod collect;
mod frameworks;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod revocation;
mod row;
pub mod snapshot;
#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ReportSnapshot;
use crate::audit::{BundleVerifier, Checks, VerifyReport};
use crate::controls::Framework;
use collect::Evidence;

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub framework: Framework,
    /// Events before this are outside the period.
    pub from: Option<DateTime<Utc>>,
    /// Events after this are outside the period.
    pub to: Option<DateTime<Utc>>,
    /// GDPR Art. 15: the data subject (a user id).
    pub subject: Option<Uuid>,
    /// GDPR Art. 33: when the controller became aware of a breach.
    pub awareness: Option<DateTime<Utc>>,
    /// GDPR Art. 33 (controller input): the window in which the breach
    /// happened; only what it touched counts as potentially affected.
    pub incident: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// GDPR Art. 33 (controller input): when the supervisory authority was
    /// notified. LOKI cannot see a notification made outside it.
    pub notified_at: Option<DateTime<Utc>>,
    /// Stated in the report; the same input and time give the same report.
    pub generated_at: DateTime<Utc>,
}

impl ReportOptions {
    /// The whole bundle, no subject, no breach: set the rest as needed.
    pub fn new(framework: Framework, generated_at: DateTime<Utc>) -> Self {
        Self {
            framework,
            from: None,
            to: None,
            subject: None,
            awareness: None,
            incident: None,
            notified_at: None,
            generated_at,
        }
    }
}

/// How a control fares on the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Evidence found, no exceptions.
    Effective,
    /// Evidence found, with exceptions an auditor must look at.
    Exceptions,
    /// Nothing in the bundle (or snapshot) speaks to the control, or the
    /// evidence it needs (the current-state snapshot) was not given.
    NotTested,
    /// The control does not apply to this report (e.g. no data subject named).
    NotApplicable,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Effective => "Effective",
            Status::Exceptions => "Exceptions",
            Status::NotTested => "Not tested",
            Status::NotApplicable => "Not applicable",
        }
    }
}

/// A population: the full list of events or entities behind a figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    /// The rows as printed (display strings, in `columns` order).
    pub rows: Vec<Vec<String>>,
    /// For a population of events: the same rows as typed records (seq,
    /// event id, time as stored, actor, diff, ...), for sampling and tracing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<collect::Row>,
}

impl Table {
    fn new(title: &str, columns: &[&str], rows: Vec<Vec<String>>) -> Self {
        Self {
            title: title.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows,
            records: Vec::new(),
        }
    }
}

/// One control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub control_id: String,
    pub title: String,
    /// What the control asks.
    pub asks: String,
    /// What the bundle and snapshot show, in sentences with figures.
    pub evidence: Vec<String>,
    /// Exceptions and observations an auditor should follow up.
    pub findings: Vec<String>,
    /// For a section with exceptions: one paragraph an auditor can carry
    /// into the workpapers (what was tested, what was found, what follows).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub narrative: Option<String>,
    pub tables: Vec<Table>,
    pub status: Status,
}

/// Counts per day, drawn as a bar chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chart {
    pub title: String,
    /// What a bar measures (the y axis).
    pub y_label: String,
    /// What the x axis counts in.
    pub x_label: String,
    pub points: Vec<(String, u64)>,
}

/// What the chain verification found, stated on the first page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    pub verified: bool,
    pub events: u64,
    pub checkpoints: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The newest signed checkpoint that verified: seq and head hash.
    pub signed_head: Option<(u64, String)>,
    /// Verified, and every checkpoint signed by a pinned key (`--trust`) or
    /// a successor it introduced.
    pub trusted: bool,
    /// Fingerprints (`SHA256:…`) of the keys that signed the checkpoints.
    pub signer_fingerprints: Vec<String>,
    /// Heads of a witness file that the bundle was checked against.
    pub witnessed: u64,
    /// One sentence for the cover page.
    pub statement: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub control_id: String,
    pub title: String,
    pub status: Status,
    pub exceptions: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    pub framework: Framework,
    pub org_id: Option<Uuid>,
    pub org_name: Option<String>,
    /// RFC 3339; open ends are the first and last event in the bundle.
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub generated_at: String,
    pub integrity: Integrity,
    /// Whether current state (members, roles, keys) came with the bundle.
    pub snapshot_taken_at: Option<String>,
    /// SHA-256 of the signed snapshot's canonical JSON (as recorded in the
    /// `report.generated` event), when one was given and checked.
    pub snapshot_sha256: Option<String>,
    /// No snapshot: controls that need current state are Not tested.
    pub partial: bool,
    /// SHA-256 (hex) of the bundle file the report was made from (set by
    /// the caller that read the file).
    pub bundle_sha256: Option<String>,
    pub events_in_period: u64,
    pub summary: Vec<SummaryRow>,
    pub charts: Vec<Chart>,
    /// Every control of the framework's scope: evidenced here or not, and why.
    pub applicability: Vec<applicability::Applicability>,
    pub sections: Vec<Section>,
}

/// Builds a report while the bundle streams through.
pub struct ReportBuilder {
    options: ReportOptions,
    verifier: BundleVerifier,
    evidence: Evidence,
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ReportBuilder {
    pub fn new(options: ReportOptions) -> Self {
        Self {
            evidence: Evidence::new(&options),
            options,
            verifier: BundleVerifier::new(),
        }
    }

    /// The keys the bundle carried so far (to check a snapshot's signature).
    pub fn keys(&self) -> &std::collections::HashMap<String, crate::audit::BundleKey> {
        self.verifier.keys()
    }

    /// The bundle's organization, from its manifest.
    pub fn org(&self) -> Option<Uuid> {
        self.verifier.org()
    }

    /// Checks a signed snapshot against what the bundle carried so far (its
    /// keys, or those pinned; its organization) and the report's period.
    pub fn check_snapshot(
        &self,
        text: &str,
        pinned: Option<&crate::audit::Pinned>,
        any_time: bool,
    ) -> Result<snapshot::Checked, String> {
        snapshot::check(
            text,
            &snapshot::Expect {
                keys: self.keys(),
                pinned,
                org: self.org(),
                from: self.options.from,
                to: self.options.to,
                any_time,
            },
        )
    }

    /// Feeds one bundle line (JSON Lines, as exported).
    pub fn line(&mut self, line: &str) {
        self.verifier.line(line);
        self.evidence.line(line);
    }

    /// Feeds lines in order; the verification's parsing and hashing run on
    /// up to `threads` threads (same result as [`Self::line`] on each).
    pub fn lines(&mut self, lines: &[String], threads: usize) {
        self.verifier.lines(lines, threads);
        for l in lines {
            self.evidence.line(l);
        }
    }

    /// The report, with current state when a snapshot is given.
    pub fn finish(self, snapshot: Option<&ReportSnapshot>) -> Report {
        self.finish_with(snapshot, &Checks::default()).0
    }

    /// [`Self::finish`] with pinned keys and a witness; also returns the
    /// verification (its head is what a witness file records).
    pub fn finish_with(
        self,
        snapshot: Option<&ReportSnapshot>,
        checks: &Checks,
    ) -> (Report, VerifyReport) {
        let verify = self.verifier.finish_with(checks);
        let integrity = integrity(&verify);
        let mut ev = self.evidence;
        let members: Vec<(Uuid, &str)> = snapshot
            .map(|s| {
                s.members
                    .iter()
                    .map(|m| (m.user_id, m.email.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        ev.resolve_emails(&members);
        let o = &self.options;
        let sections = frameworks::sections(o, &ev, snapshot, &integrity);
        let summary = sections
            .iter()
            .map(|s| SummaryRow {
                control_id: s.control_id.clone(),
                title: s.title.clone(),
                status: s.status,
                exceptions: s.findings.len(),
            })
            .collect();
        let title = match o.framework {
            Framework::Soc2 => "SOC 2 evidence report",
            Framework::Iso27001 => "ISO/IEC 27001:2022 Annex A evidence report",
            Framework::Gdpr => "GDPR evidence report",
        };
        let report = Report {
            title: title.to_owned(),
            framework: o.framework,
            org_id: verify.org_id.or(snapshot.map(|s| s.organization.id)),
            org_name: snapshot
                .map(|s| s.organization.name.clone())
                .or(ev.org_name.clone()),
            period_from: o.from.map(rfc3339).or_else(|| ev.first_time.map(rfc3339)),
            period_to: o.to.map(rfc3339).or_else(|| ev.last_time.map(rfc3339)),
            generated_at: rfc3339(o.generated_at),
            integrity,
            snapshot_taken_at: snapshot.map(|s| rfc3339(s.taken_at)),
            snapshot_sha256: None,
            partial: snapshot.is_none(),
            bundle_sha256: None,
            events_in_period: ev.in_period,
            summary,
            charts: vec![
                chart("Audit events per day", "Events", &ev.per_day, &ev.per_day),
                chart(
                    "Refused requests per day",
                    "Refused requests",
                    &ev.denials_per_day,
                    &ev.per_day,
                ),
            ],
            applicability: applicability::statement(o.framework, &sections),
            sections,
        };
        (report, verify)
    }
}

/// Counts for every day of `span`'s range (zeros included, so gaps show
/// and both charts share one axis).
fn chart(
    title: &str,
    y_label: &str,
    days: &std::collections::BTreeMap<NaiveDate, u64>,
    span: &std::collections::BTreeMap<NaiveDate, u64>,
) -> Chart {
    let mut points = Vec::new();
    if let (Some((first, _)), Some((last, _))) = (span.first_key_value(), span.last_key_value()) {
        let mut d = *first;
        loop {
            points.push((d.to_string(), days.get(&d).copied().unwrap_or(0)));
            match d.succ_opt() {
                Some(next) if d < *last && points.len() < 366 => d = next,
                _ => break,
            }
        }
    }
    Chart {
        title: title.to_owned(),
        y_label: format!("{y_label} per day"),
        x_label: "Day (UTC)".to_owned(),
        points,
    }
}

fn integrity(v: &VerifyReport) -> Integrity {
    let signers = v.signer_fingerprints.join(", ");
    let statement = match &v.failure {
        None if v.trusted => format!(
            "VERIFIED AND TRUSTED: the hash chain of {} events is intact, signed checkpoint seq {} \
             covers it, and every checkpoint is signed by a pinned key ({signers}).",
            v.events,
            v.signed_head.as_ref().map_or(0, |h| h.0)
        ),
        None => format!(
            "VERIFIED, SIGNER NOT PINNED: the hash chain of {} events is intact and signed \
             checkpoint seq {} covers it, but the signing key ({signers}) was not checked against \
             a pinned key, so who signed is not established.",
            v.events,
            v.signed_head.as_ref().map_or(0, |h| h.0)
        ),
        Some(f) => format!(
            "VERIFICATION FAILED at seq {} ({:?}): {}. Events from that seq on cannot be relied upon.",
            f.seq, f.kind, f.detail
        ),
    };
    Integrity {
        verified: v.ok,
        events: v.events,
        checkpoints: v.checkpoints,
        first_seq: v.first_seq,
        last_seq: v.last_seq,
        signed_head: v.signed_head.clone(),
        trusted: v.trusted,
        signer_fingerprints: v.signer_fingerprints.clone(),
        witnessed: v.witnessed,
        statement,
    }
}

/// Builds a report from a whole bundle in memory (tests, small bundles).
pub fn from_bundle(
    bundle: &str,
    options: ReportOptions,
    snapshot: Option<&ReportSnapshot>,
) -> Report {
    let mut b = ReportBuilder::new(options);
    for line in bundle.lines() {
        b.line(line);
    }
    b.finish(snapshot)
}
