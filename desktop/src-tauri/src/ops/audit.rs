//! The audit explorer's data: pages of events (from the daemon, or from an
//! opened bundle with the same filters), one event with its diff, the
//! chain's status checked here against pins and witness, and exports.

use std::sync::atomic::{AtomicBool, Ordering};

use loki_shared::api::AuditEventList;
use loki_shared::audit::{AuditEvent, BundleVerifier, FailureKind, VerifyReport};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::bundle;
use crate::client::AuditFilter;
use crate::error::{AppError, AppResult};
use crate::ops::diff::{diff, FieldChange};
use crate::state::AppState;
use crate::trust::PinState;

/// Where the explorer reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The signed-in organization on the daemon.
    Online,
    /// The bundle opened in offline mode.
    Offline,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct EventDetail {
    pub event: AuditEvent,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct Person {
    pub id: Uuid,
    pub email: String,
}

/// The chain as verified on this computer.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ChainStatus {
    pub report: VerifyReport,
    pub pin: PinState,
    /// Set when something must stop the user: what happened and what to do.
    pub alarm: Option<String>,
    /// The signed head was added to the witness file.
    pub witness_updated: bool,
    pub checked_at: String,
}

const MAX_PAGE: u32 = 500;

/// Whether an event passes the explorer's filters (offline; the daemon
/// applies the same ones online).
pub fn matches(e: &AuditEvent, f: &AuditFilter) -> bool {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    if let Some(actor) = set(&f.actor) {
        let ids = [e.actor.user_id, e.actor.api_key_id];
        if !ids.iter().flatten().any(|id| id.to_string() == actor) {
            return false;
        }
    }
    if let Some(a) = set(&f.action) {
        let ok = if a.ends_with('*') || a.ends_with('.') {
            e.action.starts_with(a.trim_end_matches('*'))
        } else {
            e.action == a
        };
        if !ok {
            return false;
        }
    }
    if set(&f.resource_type).is_some_and(|t| e.resource_type.as_deref() != Some(t))
        || set(&f.resource_id).is_some_and(|t| e.resource_id.as_deref() != Some(t))
        || set(&f.outcome).is_some_and(|o| e.outcome != o)
    {
        return false;
    }
    let time = chrono::DateTime::parse_from_rfc3339(&e.time).ok();
    let bound = |v: Option<&str>| v.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    if let (Some(t), Some(from)) = (time, bound(set(&f.from))) {
        if t < from {
            return false;
        }
    }
    if let (Some(t), Some(to)) = (time, bound(set(&f.to))) {
        if t > to {
            return false;
        }
    }
    true
}

fn check_times(f: &AuditFilter) -> AppResult<()> {
    for (name, v) in [("From", &f.from), ("To", &f.to)] {
        if let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| AppError::input(format!("{name}: “{s}” is not a date and time.")))?;
        }
    }
    Ok(())
}

/// A page, newest first; `cursor` is the seq to continue below.
pub async fn search(
    state: &AppState,
    source: Source,
    filter: &AuditFilter,
    cursor: Option<i64>,
    limit: u32,
) -> AppResult<AuditEventList> {
    check_times(filter)?;
    let limit = limit.clamp(1, MAX_PAGE);
    match source {
        Source::Online => {
            let mut s = state.signed_in().await?;
            let org = s.current_org()?;
            let f = filter.clone();
            s.call(|c, t| {
                let f = f.clone();
                async move { c.audit_events(&t, org, &f, cursor, limit).await }
            })
            .await
        }
        Source::Offline => {
            let bundle = state
                .offline
                .lock()
                .await
                .clone()
                .ok_or_else(|| AppError::input("Open an audit bundle first."))?;
            let mut events = Vec::with_capacity(limit as usize);
            let mut next = None;
            for e in bundle.events.iter().rev() {
                if cursor.is_some_and(|c| e.seq as i64 >= c) || !matches(e, filter) {
                    continue;
                }
                if events.len() == limit as usize {
                    next = events.last().map(|l: &AuditEvent| l.seq as i64);
                    break;
                }
                events.push(e.clone());
            }
            Ok(AuditEventList {
                events,
                next_cursor: next,
            })
        }
    }
}

pub async fn event(state: &AppState, source: Source, id: Uuid) -> AppResult<EventDetail> {
    let event = match source {
        Source::Online => {
            let mut s = state.signed_in().await?;
            let org = s.current_org()?;
            s.call(|c, t| async move { c.audit_event(&t, org, id).await })
                .await?
        }
        Source::Offline => state
            .offline
            .lock()
            .await
            .as_ref()
            .and_then(|b| b.events.iter().find(|e| e.id == id).cloned())
            .ok_or_else(|| AppError::input("That event is not in the open bundle."))?,
    };
    let changes = diff(event.before.as_ref(), event.after.as_ref());
    Ok(EventDetail { event, changes })
}

/// The organization's members by id (for showing actors by email); empty
/// when the user may not list members.
pub async fn people(state: &AppState) -> AppResult<Vec<Person>> {
    let mut s = state.signed_in().await?;
    let Some(org) = s.org else {
        return Ok(Vec::new());
    };
    let members = s.call(|c, t| async move { c.members(&t, org).await }).await;
    Ok(members
        .map(|m| {
            m.members
                .into_iter()
                .map(|m| Person {
                    id: m.user_id,
                    email: m.email,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// What a verification means for the user, when it must stop them.
pub fn alarm_of(report: &VerifyReport, pin: &PinState) -> Option<String> {
    if let PinState::Alarm { explanation, .. } = pin {
        return Some(explanation.clone());
    }
    if let Some(f) = &report.failure {
        return Some(match f.kind {
            FailureKind::WitnessMismatch | FailureKind::WitnessMissing => format!(
                "The history no longer contains a signed head this computer saw before (seq {}): \
                 {}. Events that were signed may have been removed or rewritten. Do not rely on this \
                 trail; keep the witness file and the bundle, and ask the server's operator.",
                f.seq, f.detail
            ),
            _ => format!(
                "The audit trail fails verification at seq {}: {}. Do not rely on it; export the \
                 bundle as evidence and ask the server's operator.",
                f.seq, f.detail
            ),
        });
    }
    if !report.trusted {
        return Some(format!(
            "The chain is intact, but its signer is not a pinned key: {}",
            report.authenticity
        ));
    }
    None
}

/// Exports the organization's bundle and verifies it here, against the keys
/// pinned for this server and the org's witness file; a passing head joins
/// the witness.
pub async fn chain_status(state: &AppState) -> AppResult<ChainStatus> {
    let (file, server, org, pin) = {
        let mut s = state.signed_in().await?;
        let org = s.current_org()?;
        let file =
            export_to_file(&mut s, org, "bundle", None, |_| {}, &AtomicBool::new(false)).await?;
        (file, s.server.clone(), org, s.pin.clone())
    };
    let checks = state.trust.checks(&server, org)?;
    let report = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let mut v = BundleVerifier::new();
        bundle::each_block(
            file.path(),
            &AtomicBool::new(false),
            |_, _| {},
            |block| v.lines(block, 2),
        )?;
        Ok((v.finish_with(&checks), checks))
    })
    .await
    .map_err(|e| AppError::new(crate::error::ErrorKind::Io, e.to_string()))??;
    let (report, checks) = report;
    // A bundle of another organization (signed by the same key) must not
    // stand in for this one's, nor enter its witness.
    let wrong_org = report.org_id != Some(org);
    let witness_updated = if pin.is_alarm() || wrong_org {
        false
    } else {
        state.trust.witness_update(&server, &report, &checks)?
    };
    let alarm =
        if wrong_org {
            Some(format!(
            "The server answered this organization's export with the chain of another one ({}). \
             Do not rely on it; tell the server's operator.",
            report.org_id.map(|o| o.to_string()).unwrap_or_else(|| "none".into())
        ))
        } else {
            alarm_of(&report, &pin)
        };
    Ok(ChainStatus {
        alarm,
        report,
        pin,
        witness_updated,
        checked_at: chrono::Utc::now().to_rfc3339(),
    })
}

/// Streams an export into a temporary file in `dir` (memory stays bounded
/// however long the trail; a file in the target's folder is renamed into
/// place).
pub async fn export_to_file(
    s: &mut crate::session::Session,
    org: Uuid,
    format: &'static str,
    dir: Option<&std::path::Path>,
    progress: impl Fn(u64) + Clone,
    cancel: &AtomicBool,
) -> AppResult<tempfile::NamedTempFile> {
    use std::io::Write;
    let io = |e: std::io::Error| {
        AppError::new(
            crate::error::ErrorKind::Io,
            format!("Cannot write the export: {e}."),
        )
    };
    s.call(|c, t| {
        let progress = progress.clone();
        async move {
            let mut file = match dir {
                Some(d) => tempfile::NamedTempFile::new_in(d),
                None => tempfile::NamedTempFile::new(),
            }
            .map_err(io)?;
            c.export(
                &t,
                org,
                format,
                |chunk| {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(AppError::cancelled());
                    }
                    file.write_all(chunk).map_err(io)
                },
                progress,
            )
            .await?;
            file.flush().map_err(io)?;
            Ok(file)
        }
    })
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Bundle,
    Csv,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ExportDone {
    pub path: String,
    pub bytes: f64,
}

/// Saves the organization's bundle or CSV at `path`.
pub async fn export(
    state: &AppState,
    format: ExportFormat,
    path: &str,
    progress: impl Fn(u64) + Clone,
) -> AppResult<ExportDone> {
    let path = crate::ops::save_target(state, path, "the export")?;
    state.cancel.store(false, Ordering::Relaxed);
    let file = {
        let mut s = state.signed_in().await?;
        let org = s.current_org()?;
        let f = match format {
            ExportFormat::Bundle => "bundle",
            ExportFormat::Csv => "csv",
        };
        export_to_file(&mut s, org, f, path.parent(), progress, &state.cancel).await?
    };
    let bytes = file.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    file.persist(&path)
        .map_err(|e| AppError::io("write", &path, e.error))?;
    Ok(ExportDone {
        path: path.display().to_string(),
        bytes: bytes as f64,
    })
}
