//! Trust on first use, kept: the audit keys pinned at a server's first
//! sign-in, and a witness file of signed heads per organization. A key that
//! is neither pinned nor introduced by a pinned key, or a history that lost
//! a head seen before, is an alarm the user must see.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use loki_shared::audit::trust::trusted_key_ids;
use loki_shared::audit::{fingerprint_of, BundleKey, Checks, Pinned, VerifyReport, Witness};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// What the user is told about a server's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PinState {
    /// First sign-in to this server: its keys are now pinned.
    PinnedNow { fingerprints: Vec<String> },
    /// The served keys are the pinned ones.
    Match { fingerprints: Vec<String> },
    /// A new key, introduced (signed) by a pinned one: pinned too.
    Succession {
        fingerprints: Vec<String>,
        added: Vec<String>,
    },
    /// A key neither pinned nor introduced by a pinned key.
    Alarm {
        fingerprints: Vec<String>,
        unexpected: Vec<String>,
        explanation: String,
    },
}

impl PinState {
    pub fn is_alarm(&self) -> bool {
        matches!(self, PinState::Alarm { .. })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PinRecord {
    pinned_at: String,
    keys: Vec<BundleKey>,
}

/// Pins and witnesses under the app's data folder.
#[derive(Debug, Clone)]
pub struct TrustStore {
    dir: PathBuf,
}

fn fps(keys: &[BundleKey]) -> Vec<String> {
    let mut v: Vec<String> = keys
        .iter()
        .filter_map(|k| fingerprint_of(&k.public_key))
        .collect();
    v.sort();
    v.dedup();
    v
}

impl TrustStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn pins_path(&self) -> PathBuf {
        self.dir.join("pinned-keys.json")
    }

    fn witness_path(&self, org: Uuid) -> PathBuf {
        self.dir.join("witness").join(format!("{org}.txt"))
    }

    fn load(&self) -> AppResult<HashMap<String, PinRecord>> {
        let path = self.pins_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                AppError::new(
                    crate::error::ErrorKind::TrustAlarm,
                    format!(
                        "The pinned-keys file {} is damaged ({e}). Restore it from a backup; \
                         deleting it re-pins at the next sign-in, trusting whatever the server presents.",
                        path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
            Err(e) => Err(AppError::io("read", &path, e)),
        }
    }

    fn save(&self, pins: &HashMap<String, PinRecord>) -> AppResult<()> {
        write_file(
            &self.pins_path(),
            &serde_json::to_vec_pretty(pins).unwrap_or_default(),
        )
    }

    /// Compares what a server presents with what was pinned for it, pinning
    /// at first use and accepting a signed succession.
    pub fn check_server(&self, server: &str, served: &[BundleKey]) -> AppResult<PinState> {
        let mut pins = self.load()?;
        let fingerprints = fps(served);
        let Some(record) = pins.get_mut(server) else {
            pins.insert(
                server.to_owned(),
                PinRecord {
                    pinned_at: chrono::Utc::now().to_rfc3339(),
                    keys: served.to_vec(),
                },
            );
            self.save(&pins)?;
            return Ok(PinState::PinnedNow { fingerprints });
        };
        let pinned = Pinned(fps(&record.keys).into_iter().collect());
        let mut all: HashMap<String, BundleKey> = HashMap::new();
        for k in record.keys.iter().chain(served) {
            all.entry(k.key_id.clone()).or_insert_with(|| k.clone());
        }
        let trusted = trusted_key_ids(&all, &pinned);
        let unexpected: Vec<String> = served
            .iter()
            .filter(|k| !trusted.contains(&k.key_id))
            .filter_map(|k| fingerprint_of(&k.public_key))
            .collect();
        if !unexpected.is_empty() {
            return Ok(PinState::Alarm {
                fingerprints,
                explanation: format!(
                    "This server now presents an audit key that was not pinned at your first sign-in \
                     ({}) and that no pinned key introduced. Either the server's signing key was \
                     replaced without a signed succession, or this is not the server you pinned. Its \
                     audit trail cannot be trusted from here: ask the server's operator how the key \
                     changed, and compare the fingerprint with theirs.",
                    record.pinned_at
                ),
                unexpected,
            });
        }
        let added: Vec<String> = served
            .iter()
            .filter(|k| !record.keys.iter().any(|p| p.key_id == k.key_id))
            .filter_map(|k| fingerprint_of(&k.public_key))
            .collect();
        if added.is_empty() {
            return Ok(PinState::Match { fingerprints });
        }
        for k in served {
            if !record.keys.iter().any(|p| p.key_id == k.key_id) {
                record.keys.push(k.clone());
            }
        }
        self.save(&pins)?;
        Ok(PinState::Succession {
            fingerprints,
            added,
        })
    }

    /// Fingerprints pinned for one server, or for every server known (an
    /// offline bundle says nothing of where it came from).
    pub fn pinned(&self, server: Option<&str>) -> AppResult<Pinned> {
        let pins = self.load()?;
        let set: HashSet<String> = pins
            .iter()
            .filter(|(s, _)| server.is_none_or(|want| want == s.as_str()))
            .flat_map(|(_, r)| fps(&r.keys))
            .collect();
        Ok(Pinned(set))
    }

    pub fn witness(&self, org: Uuid) -> AppResult<Witness> {
        let path = self.witness_path(org);
        match std::fs::read_to_string(&path) {
            Ok(text) => Witness::parse(&text).map_err(|e| {
                AppError::new(
                    crate::error::ErrorKind::TrustAlarm,
                    format!("The witness file {} is damaged: {e}.", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Witness::default()),
            Err(e) => Err(AppError::io("read", &path, e)),
        }
    }

    /// What a verification of `org`'s bundle checks against.
    pub fn checks(&self, server: Option<&str>, org: Option<Uuid>) -> AppResult<Checks> {
        let pinned = self.pinned(server)?;
        Ok(Checks {
            pinned: (!pinned.0.is_empty()).then_some(pinned),
            witness: match org {
                Some(o) => self.witness(o)?,
                None => Witness::default(),
            },
        })
    }

    /// After a verification that passed with trust, records its head.
    pub fn witness_update(&self, report: &VerifyReport, checks: &Checks) -> AppResult<bool> {
        let (true, true, Some(head)) = (report.ok, report.trusted, &report.head_checkpoint) else {
            return Ok(false);
        };
        let known = checks
            .witness
            .heads
            .iter()
            .any(|h| h.body.org_id == head.body.org_id && h.body.seq == head.body.seq);
        if known {
            return Ok(false);
        }
        let path = self.witness_path(head.body.org_id);
        let line = Witness::line(head)
            .map_err(|e| AppError::new(crate::error::ErrorKind::Io, e.to_string()))?;
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&line);
        text.push('\n');
        write_file(&path, text.as_bytes())?;
        Ok(true)
    }
}

/// Writes through a temporary file and a rename: a crash leaves the old
/// file or the new one, never half of one.
pub fn write_file(path: &Path, bytes: &[u8]) -> AppResult<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| AppError::io("create", dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| AppError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| AppError::io("write", path, e))
}
