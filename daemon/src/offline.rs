//! Offline tools of the `lokid` command line: they read an exported audit
//! bundle and need no daemon, configuration or database.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use loki_shared::api::ReportSnapshot;
use loki_shared::audit::{Checks, Pinned, VerifyReport, Witness};
use loki_shared::report::{ReportBuilder, ReportOptions};
use loki_shared::Framework;

/// A reader that hashes what passes through it (the bundle's SHA-256, stated
/// on the report's cover, without a second read of the file).
struct Hashing<R> {
    inner: R,
    digest: sha2::Sha256,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// Lines read and prepared (parsed, hashed) together, on every core.
const BLOCK: usize = 4 * 1024;

/// Streams a bundle in blocks of lines into `f` (memory stays bounded);
/// returns the SHA-256 (hex) of the bytes read.
fn each_block(path: &Path, mut f: impl FnMut(&[String])) -> anyhow::Result<String> {
    use sha2::Digest;
    let inner: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )
    };
    let mut reader = std::io::BufReader::with_capacity(
        1 << 20,
        Hashing {
            inner,
            digest: sha2::Sha256::new(),
        },
    );
    let mut block = Vec::with_capacity(BLOCK);
    let mut buf = String::new();
    loop {
        buf.clear();
        let n = reader
            .read_line(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        block.push(buf.trim_end_matches(['\n', '\r']).to_owned());
        if block.len() == BLOCK {
            f(&block);
            block.clear();
        }
    }
    f(&block);
    let digest = reader.into_inner().digest.finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pinned keys and witnessed heads (`lokid audit verify`, `lokid report`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrustArgs {
    /// Pin the audit keys: a file saved from `GET /api/v1/audit/keys` (or
    /// `lokid admin audit-keys`), or a fingerprint `SHA256:…`. Repeatable.
    /// Without it, authenticity is not established.
    #[arg(long, value_name = "KEYS")]
    pub trust: Vec<String>,
    /// A witness file of signed heads seen before: the bundle must still
    /// contain each of them (a rewritten history fails).
    #[arg(long, value_name = "FILE")]
    pub witness: Option<PathBuf>,
    /// After a successful check, append the bundle's signed head to the
    /// witness file.
    #[arg(long, requires = "witness")]
    pub witness_update: bool,
}

impl TrustArgs {
    /// What the reader brings to the verification.
    pub fn checks(&self) -> anyhow::Result<Checks> {
        let pinned = if self.trust.is_empty() {
            None
        } else {
            let mut p = Pinned::default();
            for t in &self.trust {
                let text = if t.starts_with("SHA256:") {
                    t.clone()
                } else {
                    std::fs::read_to_string(t)
                        .with_context(|| format!("--trust: cannot read {t}"))?
                };
                p.add(&text)
                    .map_err(|e| anyhow::anyhow!("--trust {t}: {e}"))?;
            }
            Some(p)
        };
        let witness = match &self.witness {
            Some(w) if w.exists() => {
                let text = std::fs::read_to_string(w)
                    .with_context(|| format!("--witness: cannot read {}", w.display()))?;
                Witness::parse(&text).map_err(|e| anyhow::anyhow!("--witness: {e}"))?
            }
            _ => Witness::default(),
        };
        Ok(Checks { pinned, witness })
    }

    /// Whether the verification passed what was asked: the chain, and the
    /// pinned keys when some were given.
    pub fn passed(&self, report: &VerifyReport) -> bool {
        report.ok && (self.trust.is_empty() || report.trusted)
    }

    /// `--witness-update`: appends the new head (when the check passed and
    /// the head is not already there).
    pub fn update(&self, report: &VerifyReport, checks: &Checks) -> anyhow::Result<()> {
        let (Some(path), true, Some(head)) = (
            &self.witness,
            self.witness_update && self.passed(report),
            &report.head_checkpoint,
        ) else {
            return Ok(());
        };
        let known = checks
            .witness
            .heads
            .iter()
            .any(|h| h.body.org_id == head.body.org_id && h.body.seq == head.body.seq);
        if !known {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--witness: cannot write {}", path.display()))?;
            writeln!(f, "{}", Witness::line(head)?)?;
        }
        Ok(())
    }
}

/// `lokid audit verify`: prints the JSON report; exit 1 when it fails (or,
/// with `--trust`, when a signer is not trusted).
pub fn verify_bundle(path: &Path, trust: &TrustArgs) -> anyhow::Result<()> {
    let checks = trust.checks()?;
    let mut verifier = loki_shared::audit::BundleVerifier::new();
    let threads = cores();
    let sha256 = each_block(path, |block| verifier.lines(block, threads))?;
    let report = verifier.finish_with(&checks);
    eprintln!("bundle SHA-256: {sha256}");
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("{}", report.authenticity);
    trust.update(&report, &checks)?;
    if trust.passed(&report) {
        Ok(())
    } else {
        std::process::exit(1)
    }
}

fn time(field: &str, v: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| {
                format!("--{field}: expected an RFC 3339 time such as 2026-11-27T10:00:00Z")
            })
    })
    .transpose()
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The exported audit bundle (JSON Lines), or `-` for standard input.
    pub bundle: PathBuf,
    /// soc2, iso27001 or gdpr.
    #[arg(long)]
    pub framework: String,
    /// GDPR Art. 15: the data subject's user id.
    #[arg(long)]
    pub subject: Option<uuid::Uuid>,
    /// Start of the period (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// GDPR Art. 33: when the breach became known (RFC 3339).
    #[arg(long)]
    pub awareness: Option<String>,
    /// GDPR Art. 33: start of the incident window (RFC 3339); only what
    /// happened inside it counts as potentially affected.
    #[arg(long, requires = "incident_to")]
    pub incident_from: Option<String>,
    /// GDPR Art. 33: end of the incident window (RFC 3339).
    #[arg(long, requires = "incident_from")]
    pub incident_to: Option<String>,
    /// GDPR Art. 33: when the supervisory authority was notified (RFC 3339),
    /// as the controller states it.
    #[arg(long, requires = "awareness")]
    pub notified_at: Option<String>,
    /// Current state from `GET /api/v1/orgs/{id}/reports/snapshot` (signed
    /// JSON). Refused when the signature fails, it describes another
    /// organization, or it was taken outside the period.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Accept a snapshot taken outside --from/--to.
    #[arg(long, requires = "snapshot")]
    pub snapshot_any_time: bool,
    /// The generation time stated in the report (default: now); the same
    /// bundle and time give a byte-identical PDF.
    #[arg(long)]
    pub generated_at: Option<String>,
    /// Output file: `.pdf` or `.json`.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `lokid report`: builds the report while the bundle streams through.
pub fn report(a: &ReportArgs) -> anyhow::Result<()> {
    let framework = Framework::parse(&a.framework).with_context(|| {
        format!(
            "--framework: `{}` is not soc2, iso27001 or gdpr",
            a.framework
        )
    })?;
    let (from, to) = (
        time("from", a.from.as_deref())?,
        time("to", a.to.as_deref())?,
    );
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(f <= t, "--from must not be after --to");
    }
    let incident = match (
        time("incident-from", a.incident_from.as_deref())?,
        time("incident-to", a.incident_to.as_deref())?,
    ) {
        (Some(f), Some(t)) => {
            anyhow::ensure!(f <= t, "--incident-from must not be after --incident-to");
            Some((f, t))
        }
        _ => None,
    };
    let options = ReportOptions {
        incident,
        notified_at: time("notified-at", a.notified_at.as_deref())?,
        framework,
        from,
        to,
        subject: a.subject,
        awareness: time("awareness", a.awareness.as_deref())?,
        generated_at: time("generated-at", a.generated_at.as_deref())?.unwrap_or_else(Utc::now),
    };
    let snapshot_text = match &a.snapshot {
        Some(p) => Some(
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        None => None,
    };
    let checks = a.trust.checks()?;
    let mut builder = ReportBuilder::new(options);
    let threads = cores();
    let bundle_sha256 = each_block(&a.bundle, |block| builder.lines(block, threads))?;
    let checked = match (&snapshot_text, &a.snapshot) {
        (Some(text), Some(p)) => Some(
            builder
                .check_snapshot(text, checks.pinned.as_ref(), a.snapshot_any_time)
                .map_err(|e| anyhow::anyhow!("--snapshot {} refused: {e}", p.display()))?,
        ),
        _ => None,
    };
    let snap: Option<&ReportSnapshot> = checked.as_ref().map(|c| &c.snapshot);
    let (mut report, verify) = builder.finish_with(snap, &checks);
    report.snapshot_sha256 = checked.as_ref().map(|c| c.sha256.clone());
    report.bundle_sha256 = Some(bundle_sha256);
    a.trust.update(&verify, &checks)?;
    let ext = a
        .output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let bytes = match ext {
        "pdf" => loki_shared::report::pdf::render(&report),
        "json" => serde_json::to_vec_pretty(&report)?,
        _ => anyhow::bail!("-o: name a .pdf or .json file"),
    };
    std::fs::write(&a.output, bytes)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    eprintln!(
        "{}: {} controls, integrity {}",
        a.output.display(),
        report.sections.len(),
        match (report.integrity.verified, report.integrity.trusted) {
            (true, true) => "verified and trusted",
            (true, false) => "verified, signer not pinned",
            _ => "FAILED",
        }
    );
    Ok(())
}
