//! Reports made on this computer with loki-shared's engine: online from a
//! fresh bundle and the signed snapshot, offline from a bundle file. The
//! integrity result is shown before the PDF is saved.

use std::sync::atomic::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use loki_shared::audit::Checks;
use loki_shared::report::{pdf, ReportBuilder, ReportOptions, Status};
use loki_shared::Framework;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::bundle;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ops::audit::{export_to_file, Source};
use crate::state::{AppState, PendingReport};
use crate::trust::PinState;

#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type)]
pub struct ReportRequest {
    /// `soc2`, `iso27001` or `gdpr`.
    pub framework: String,
    /// A date (`2026-11-01`) or RFC 3339 time; empty: the whole trail.
    pub from: Option<String>,
    pub to: Option<String>,
    /// GDPR Art. 15: the data subject's user id.
    pub subject: Option<String>,
    /// GDPR Art. 33: when the controller became aware of the breach.
    pub awareness: Option<String>,
    /// GDPR Art. 33: when the supervisory authority was notified.
    pub notified_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ControlRow {
    pub control_id: String,
    pub title: String,
    pub status: String,
    pub exceptions: f64,
}

/// What the user sees before saving.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ReportPreview {
    pub title: String,
    pub org_name: Option<String>,
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub events_in_period: f64,
    pub verified: bool,
    pub trusted: bool,
    pub signer_fingerprints: Vec<String>,
    pub integrity_statement: String,
    /// Online: the server's pin state; offline: `None` (keys of every
    /// server pinned here are tried).
    pub pin: Option<PinState>,
    pub partial: bool,
    pub controls: Vec<ControlRow>,
    pub suggested_name: String,
    pub pdf_bytes: f64,
}

fn time(name: &str, v: &Option<String>, end_of_day: bool) -> AppResult<Option<DateTime<Utc>>> {
    let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_opt(23, 59, 59)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        return Ok(t.map(|t| t.and_utc()));
    }
    Err(AppError::input(format!(
        "{name}: “{s}” is not a date (2026-11-30) or a time (2026-11-30T09:00:00Z)."
    )))
}

pub fn options(r: &ReportRequest) -> AppResult<ReportOptions> {
    let framework = Framework::parse(&r.framework)
        .ok_or_else(|| AppError::input("Choose a framework: SOC 2, ISO 27001 or GDPR."))?;
    let mut o = ReportOptions::new(framework, Utc::now());
    o.from = time("From", &r.from, false)?;
    o.to = time("To", &r.to, true)?;
    if let (Some(f), Some(t)) = (o.from, o.to) {
        if f > t {
            return Err(AppError::input("The period starts after it ends."));
        }
    }
    o.subject =
        match r
            .subject
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => Some(Uuid::parse_str(s).map_err(|_| {
                AppError::input("Data subject: paste the person's user id (a UUID).")
            })?),
            None => None,
        };
    o.awareness = time("Awareness time", &r.awareness, false)?;
    o.notified_at = time("Notified at", &r.notified_at, false)?;
    Ok(o)
}

/// What a report reads: a fresh export (deleted when done) or a file.
enum Input {
    Temp(tempfile::NamedTempFile),
    File(std::path::PathBuf),
}

impl Input {
    fn path(&self) -> &std::path::Path {
        match self {
            Input::Temp(f) => f.path(),
            Input::File(p) => p,
        }
    }
}

fn status_label(s: Status) -> String {
    s.label().to_owned()
}

/// Builds the report and keeps its PDF until [`save`].
pub async fn generate(
    state: &AppState,
    source: Source,
    request: &ReportRequest,
    progress: impl Fn(&str, u64, Option<u64>) + Clone + Send + Sync + 'static,
) -> AppResult<ReportPreview> {
    let opts = options(request)?;
    state.cancel.store(false, Ordering::Relaxed);
    let cancel = state.cancel.clone();
    // Online: a fresh export streamed to a temporary file; offline: the
    // bundle file itself, read again (its hash is of what this report read).
    let (input, snapshot_text, checks, pin) = match source {
        Source::Online => {
            let mut s = state.signed_in().await?;
            let org = s.current_org()?;
            let p = progress.clone();
            let file = export_to_file(
                &mut s,
                org,
                "bundle",
                None,
                move |n| p("Downloading the audit bundle", n, None),
                &cancel,
            )
            .await?;
            progress("Fetching the signed snapshot", 0, None);
            let snap = s
                .call(|c, t| async move { c.snapshot(&t, org).await })
                .await?;
            let checks = state.trust.checks(&s.server, org)?;
            (Input::Temp(file), Some(snap), checks, Some(s.pin.clone()))
        }
        Source::Offline => {
            let b = state
                .offline
                .lock()
                .await
                .clone()
                .ok_or_else(|| AppError::input("Open an audit bundle first."))?;
            let checks: Checks = match (&b.server, b.verify.org_id) {
                (Some(s), Some(o)) => state.trust.checks(s, o)?,
                _ => Checks::default(),
            };
            (Input::File(b.path.clone().into()), None, checks, None)
        }
    };
    let framework = opts.framework;
    let built = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let mut builder = ReportBuilder::new(opts);
        let bundle_sha = bundle::each_block(
            input.path(),
            &cancel,
            |done, total| progress("Verifying and reading events", done, Some(total)),
            |block| builder.lines(block, 2),
        )?;
        let checked = match &snapshot_text {
            Some(text) => Some(
                builder
                    .check_snapshot(text, checks.pinned.as_ref(), false)
                    .map_err(|e| {
                        AppError::new(
                            ErrorKind::TrustAlarm,
                            format!("The server's signed snapshot was refused: {e}."),
                        )
                    })?,
            ),
            None => None,
        };
        let (mut report, _verify) =
            builder.finish_with(checked.as_ref().map(|c| &c.snapshot), &checks);
        report.snapshot_sha256 = checked.map(|c| c.sha256);
        report.bundle_sha256 = Some(bundle_sha);
        progress("Drawing the PDF", 0, None);
        let bytes = pdf::render(&report);
        Ok((report, bytes))
    })
    .await
    .map_err(|e| AppError::new(ErrorKind::Io, e.to_string()))??;
    let (report, bytes) = built;
    let day = Utc::now().format("%Y-%m-%d");
    let slug = report
        .org_name
        .as_deref()
        .unwrap_or("organization")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>();
    let suggested_name = format!(
        "{}-{}-{day}.pdf",
        slug.trim_matches('-'),
        framework.as_str()
    );
    let preview = ReportPreview {
        title: report.title.clone(),
        org_name: report.org_name.clone(),
        period_from: report.period_from.clone(),
        period_to: report.period_to.clone(),
        events_in_period: report.events_in_period as f64,
        verified: report.integrity.verified,
        trusted: report.integrity.trusted,
        signer_fingerprints: report.integrity.signer_fingerprints.clone(),
        integrity_statement: report.integrity.statement.clone(),
        pin,
        partial: report.partial,
        controls: report
            .summary
            .iter()
            .map(|r| ControlRow {
                control_id: r.control_id.clone(),
                title: r.title.clone(),
                status: status_label(r.status),
                exceptions: r.exceptions as f64,
            })
            .collect(),
        suggested_name: suggested_name.clone(),
        pdf_bytes: bytes.len() as f64,
    };
    *state.report.lock().await = Some(PendingReport {
        pdf: bytes,
        suggested_name,
        saved_to: None,
    });
    Ok(preview)
}

/// Writes the report made last to `path`.
pub async fn save(state: &AppState, path: &str) -> AppResult<String> {
    let path = crate::ops::save_target(state, path, "the PDF")?;
    let mut guard = state.report.lock().await;
    let r = guard
        .as_mut()
        .ok_or_else(|| AppError::input("Generate a report first."))?;
    crate::trust::write_file(&path, &r.pdf)?;
    r.saved_to = Some(path.clone());
    Ok(path.display().to_string())
}

/// The saved report's path (what the system viewer may open: the window
/// cannot name another file).
pub async fn saved_path(state: &AppState) -> AppResult<std::path::PathBuf> {
    state
        .report
        .lock()
        .await
        .as_ref()
        .and_then(|r| r.saved_to.clone())
        .ok_or_else(|| AppError::input("Save the report first."))
}
