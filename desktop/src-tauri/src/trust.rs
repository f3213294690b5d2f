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
    /// Serialises read-modify-write of the files (two checks at once must
    /// not drop a line).
    write: std::sync::Arc<std::sync::Mutex<()>>,
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
        Self {
            dir: dir.into(),
            write: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pins_path(&self) -> PathBuf {
        self.dir.join("pinned-keys.json")
    }

    /// One witness file per server and organization.
    fn witness_path(&self, server: &str, org: Uuid) -> PathBuf {
        let tag: String = crate::ops::sha256_hex(server.as_bytes())
            .chars()
            .take(16)
            .collect();
        self.dir
            .join("witness")
            .join(tag)
            .join(format!("{org}.txt"))
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
    /// at first use and accepting a signed succession. Keys are compared by
    /// fingerprint (a key id is only a label the server chooses).
    pub fn check_server(&self, server: &str, served: &[BundleKey]) -> AppResult<PinState> {
        let _write = self.lock();
        let mut pins = self.load()?;
        let fingerprints = fps(served);
        let unreadable: Vec<String> = served
            .iter()
            .filter(|k| fingerprint_of(&k.public_key).is_none())
            .map(|k| format!("key {} (unreadable)", k.key_id))
            .collect();
        if served.is_empty() || !unreadable.is_empty() {
            return Ok(PinState::Alarm {
                fingerprints,
                unexpected: unreadable,
                explanation:
                    "This server presents no usable audit key, so nothing it signs can be \
                              checked. Ask its operator; nothing was pinned."
                        .to_owned(),
            });
        }
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
        let pinned_fps: HashSet<String> = fps(&record.keys).into_iter().collect();
        let served_map: HashMap<String, BundleKey> = served
            .iter()
            .map(|k| (k.key_id.clone(), k.clone()))
            .collect();
        let trusted = trusted_key_ids(&served_map, &Pinned(pinned_fps.clone()));
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
        let new: Vec<&BundleKey> = served
            .iter()
            .filter(|k| fingerprint_of(&k.public_key).is_some_and(|f| !pinned_fps.contains(&f)))
            .collect();
        if new.is_empty() {
            return Ok(PinState::Match { fingerprints });
        }
        let added = fps(&new.iter().map(|k| (*k).clone()).collect::<Vec<_>>());
        record.keys.extend(new.into_iter().cloned());
        self.save(&pins)?;
        Ok(PinState::Succession {
            fingerprints,
            added,
        })
    }

    fn orgs_path(&self) -> PathBuf {
        self.dir.join("organizations.json")
    }

    fn orgs(&self) -> HashMap<Uuid, String> {
        std::fs::read_to_string(self.orgs_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Remembers on which server each organization was seen (the first one
    /// stays): an offline bundle of that organization is checked against that
    /// server's pins only.
    pub fn record_orgs(&self, server: &str, orgs: &[Uuid]) -> AppResult<()> {
        let _write = self.lock();
        let mut map = self.orgs();
        let before = map.len();
        for o in orgs {
            map.entry(*o).or_insert_with(|| server.to_owned());
        }
        if map.len() == before {
            return Ok(());
        }
        write_file(
            &self.orgs_path(),
            &serde_json::to_vec_pretty(&map).unwrap_or_default(),
        )
    }

    /// The server an organization was seen on.
    pub fn server_of(&self, org: Uuid) -> Option<String> {
        self.orgs().get(&org).cloned()
    }

    /// Fingerprints pinned for a server.
    pub fn pinned(&self, server: &str) -> AppResult<Pinned> {
        let pins = self.load()?;
        Ok(Pinned(
            pins.get(server)
                .map(|r| fps(&r.keys).into_iter().collect())
                .unwrap_or_default(),
        ))
    }

    /// Whether any server is pinned here.
    pub fn any_pinned(&self) -> AppResult<bool> {
        Ok(!self.load()?.is_empty())
    }

    pub fn witness(&self, server: &str, org: Uuid) -> AppResult<Witness> {
        let path = self.witness_path(server, org);
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

    /// What a verification of `org`'s bundle from `server` checks against.
    pub fn checks(&self, server: &str, org: Uuid) -> AppResult<Checks> {
        let pinned = self.pinned(server)?;
        Ok(Checks {
            pinned: (!pinned.0.is_empty()).then_some(pinned),
            witness: self.witness(server, org)?,
        })
    }

    /// After a verification that passed with trust, records its head.
    pub fn witness_update(
        &self,
        server: &str,
        report: &VerifyReport,
        checks: &Checks,
    ) -> AppResult<bool> {
        let (true, true, Some(head)) = (report.ok, report.trusted, &report.head_checkpoint) else {
            return Ok(false);
        };
        let _write = self.lock();
        let known = checks
            .witness
            .heads
            .iter()
            .any(|h| h.body.org_id == head.body.org_id && h.body.seq == head.body.seq);
        if known {
            return Ok(false);
        }
        let path = self.witness_path(server, head.body.org_id);
        let line = Witness::line(head)
            .map_err(|e| AppError::new(crate::error::ErrorKind::Io, e.to_string()))?;
        let mut text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(AppError::io("read", &path, e)),
        };
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
