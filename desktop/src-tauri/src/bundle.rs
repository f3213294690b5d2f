//! Audit bundles on disk: streamed in blocks with progress and cancel,
//! verified with loki-shared's verifier, and kept as events to browse.

use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use loki_shared::audit::{AuditEvent, BundleVerifier, Checks, VerifyReport};
use serde::Serialize;
use sha2::Digest;

use crate::error::{AppError, AppResult};
use crate::trust::TrustStore;

const BLOCK: usize = 2048;

/// Progress of a long task, sent to the window over a channel.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct Progress {
    /// What is happening, e.g. "Verifying".
    pub stage: String,
    pub done: f64,
    /// `None` when the total is unknown.
    pub total: Option<f64>,
}

/// Streams `path` in blocks of lines; returns the file's SHA-256 (hex).
pub fn each_block(
    path: &Path,
    cancel: &AtomicBool,
    mut progress: impl FnMut(u64, u64),
    mut f: impl FnMut(&[String]),
) -> AppResult<String> {
    // Checked before opening: opening a FIFO would block.
    let meta = std::fs::metadata(path).map_err(|e| AppError::io("open", path, e))?;
    if !meta.is_file() {
        return Err(AppError::input(format!(
            "{} is not a file: choose an audit bundle (.jsonl).",
            path.display()
        )));
    }
    let total = meta.len();
    let file = std::fs::File::open(path).map_err(|e| AppError::io("open", path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut digest = sha2::Sha256::new();
    let mut block = Vec::with_capacity(BLOCK);
    let mut buf = Vec::new();
    let mut read = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(AppError::cancelled());
        }
        buf.clear();
        let n = reader
            .by_ref()
            .take(64 << 20)
            .read_until(b'\n', &mut buf)
            .map_err(|e| AppError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        digest.update(&buf);
        read += n as u64;
        let line = String::from_utf8_lossy(&buf);
        block.push(line.trim_end_matches(['\n', '\r']).to_owned());
        if block.len() == BLOCK {
            f(&block);
            block.clear();
            progress(read, total);
        }
    }
    f(&block);
    progress(read, total);
    Ok(digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// An opened bundle: its verification and its events (oldest first).
#[derive(Debug)]
pub struct OpenedBundle {
    pub path: String,
    /// The server this organization was seen on at a sign-in here: its pins
    /// and witness are what the bundle was checked against.
    pub server: Option<String>,
    pub sha256: String,
    pub verify: VerifyReport,
    pub events: Vec<AuditEvent>,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads and verifies a bundle against what this app pinned and witnessed.
pub fn open(
    path: &Path,
    trust: &TrustStore,
    cancel: &AtomicBool,
    progress: impl FnMut(u64, u64),
) -> AppResult<OpenedBundle> {
    let mut verifier = BundleVerifier::new();
    let mut events = Vec::new();
    let threads = cores();
    let sha256 = each_block(path, cancel, progress, |block| {
        verifier.lines(block, threads);
        for line in block {
            if let Some(e) = event_of(line) {
                events.push(e);
            }
        }
    })?;
    let server = verifier.org().and_then(|o| trust.server_of(o));
    let checks = match (&server, verifier.org()) {
        (Some(s), Some(o)) => trust.checks(s, o)?,
        _ => Checks::default(),
    };
    let verify = verifier.finish_with(&checks);
    Ok(OpenedBundle {
        path: path.display().to_string(),
        server,
        sha256,
        verify,
        events,
    })
}

/// The event of an `{"type":"event","event":{…}}` line.
pub fn event_of(line: &str) -> Option<AuditEvent> {
    if !line.contains("\"event\"") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: String,
        event: Option<AuditEvent>,
    }
    let l: Line = serde_json::from_str(line).ok()?;
    (l.kind == "event").then_some(l.event).flatten()
}
