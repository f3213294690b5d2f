//! Streaming bundle verification: feed lines, then `finish`. Memory grows
//! with one 32-byte hash per event (to match checkpoints that come after
//! the events), not with the events themselves.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{
    canonical, sha256_hex, AuditFormatError, BundleKey, Checkpoint, Manifest, BUNDLE_FORMAT,
    GENESIS_HASH,
};

/// Why verification failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum FailureKind {
    /// A line is not valid JSON or lacks required fields.
    Malformed,
    /// An event's content does not match its hash (it was altered).
    HashMismatch,
    /// An event's `prev_hash` is not the previous event's hash.
    ChainBroken,
    /// A seq is missing (an event was deleted).
    Gap,
    /// Seqs go backwards or repeat (events reordered or duplicated).
    OutOfOrder,
    /// A checkpoint's signature does not verify.
    BadSignature,
    /// A checkpoint names a key the bundle does not carry.
    UnknownKey,
    /// A checkpoint's head hash differs from the event at its seq.
    CheckpointMismatch,
    /// Events after the last checkpoint: nothing vouches for them.
    UncoveredTail,
    /// A checkpoint covers events the bundle does not contain (the newest
    /// events were removed).
    TruncatedTail,
    /// A head in the witness file has another hash in the bundle: the
    /// history seen before was rewritten.
    WitnessMismatch,
    /// The bundle ends before a head in the witness file: history seen
    /// before is missing.
    WitnessMissing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Failure {
    /// The first seq at which the chain stops being trustworthy.
    pub seq: u64,
    pub kind: FailureKind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct VerifyReport {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub org_id: Option<Uuid>,
    pub events: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_seq: Option<u64>,
    /// The newest signed checkpoint that verified: (seq, head hash).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signed_head: Option<(u64, String)>,
    pub checkpoints: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
    /// The chain verifies and every checkpoint is signed by a pinned key or
    /// a successor it introduced. Always false without pinned keys.
    #[serde(default)]
    pub trusted: bool,
    /// Fingerprints of the keys that signed the bundle's checkpoints.
    #[serde(default)]
    pub signer_fingerprints: Vec<String>,
    /// One sentence on who signed and whether that is established.
    #[serde(default)]
    pub authenticity: String,
    /// Heads of the witness file checked against the bundle.
    #[serde(default)]
    pub witnessed: u64,
    /// The newest checkpoint that verified (what `--witness-update` records).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub head_checkpoint: Option<Checkpoint>,
}

/// What the reader brings to a verification: pinned keys and a witness.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// `None`: no keys pinned, authenticity is not established.
    pub pinned: Option<super::Pinned>,
    pub witness: super::Witness,
}

#[derive(Default)]
pub struct BundleVerifier {
    manifest: Option<Manifest>,
    keys: HashMap<String, VerifyingKey>,
    key_lines: HashMap<String, BundleKey>,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    last_hash: Option<String>,
    /// `prev_hash` of the first event (to match an anchoring checkpoint).
    first_prev: Option<String>,
    /// Hash of each event, indexed by `seq - first_seq`.
    hashes: Vec<[u8; 32]>,
    checkpoints: Vec<Checkpoint>,
    events: u64,
    failure: Option<Failure>,
    line_no: u64,
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

impl BundleVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, seq: u64, kind: FailureKind, detail: impl Into<String>) {
        // Keep the first failure in chain order.
        let earlier = self.failure.as_ref().is_none_or(|f| seq < f.seq);
        if earlier {
            self.failure = Some(Failure {
                seq,
                kind,
                detail: detail.into(),
            });
        }
    }

    /// The keys read so far, by id.
    pub fn keys(&self) -> &HashMap<String, BundleKey> {
        &self.key_lines
    }

    /// The organization named by the manifest (once read).
    pub fn org(&self) -> Option<Uuid> {
        self.manifest.as_ref().map(|m| m.org_id)
    }

    fn next_seq(&self) -> u64 {
        self.last_seq.map_or(0, |s| s + 1)
    }

    /// Feeds one bundle line.
    pub fn line(&mut self, line: &str) {
        self.feed(prepare(line));
    }

    /// Feeds lines in order, preparing them on every core first (`threads`
    /// at most). The result is the same as feeding each with [`Self::line`].
    pub fn lines(&mut self, lines: &[String], threads: usize) {
        for p in prepare_all(lines, threads) {
            self.feed(p);
        }
    }

    /// Feeds one line as [`prepare`] left it.
    pub fn feed(&mut self, p: Prepared) {
        self.line_no += 1;
        let v = match p {
            Prepared::Blank => return,
            Prepared::Malformed(e) => {
                let at = self.next_seq();
                return self.fail(
                    at,
                    FailureKind::Malformed,
                    format!("line {}: {e}", self.line_no),
                );
            }
            Prepared::Event(d) => return self.event(d),
            Prepared::Parsed(value) => value,
        };
        let at = self.next_seq();
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut v = v;
        let body = v.get_mut(&kind).map(Value::take).unwrap_or(Value::Null);
        match kind.as_str() {
            "manifest" => match serde_json::from_value::<Manifest>(body) {
                Ok(m) if m.format == BUNDLE_FORMAT => self.manifest = Some(m),
                Ok(m) => self.fail(
                    0,
                    FailureKind::Malformed,
                    format!("unknown bundle format `{}`", m.format),
                ),
                Err(e) => self.fail(0, FailureKind::Malformed, format!("manifest: {e}")),
            },
            "key" => match serde_json::from_value::<BundleKey>(body) {
                Ok(k) => {
                    let raw = URL_SAFE_NO_PAD.decode(&k.public_key).ok();
                    let key = raw
                        .and_then(|r| <[u8; 32]>::try_from(r.as_slice()).ok())
                        .and_then(|r| VerifyingKey::from_bytes(&r).ok());
                    match key {
                        Some(key) => {
                            self.keys.insert(k.key_id.clone(), key);
                            self.key_lines.insert(k.key_id.clone(), k);
                        }
                        None => self.fail(
                            0,
                            FailureKind::Malformed,
                            format!("key {}: not an Ed25519 public key", k.key_id),
                        ),
                    }
                }
                Err(e) => self.fail(0, FailureKind::Malformed, format!("key: {e}")),
            },
            "event" => self.event(EventDigest::of(body)),
            "checkpoint" => match serde_json::from_value::<Checkpoint>(body) {
                Ok(c) => self.checkpoints.push(c),
                Err(e) => self.fail(at, FailureKind::Malformed, format!("checkpoint: {e}")),
            },
            other => self.fail(
                at,
                FailureKind::Malformed,
                format!("line {}: unknown type `{other}`", self.line_no),
            ),
        }
    }

    fn event(&mut self, d: EventDigest) {
        self.events += 1;
        let expected = self.next_seq();
        let EventDigest {
            seq,
            stored,
            prev,
            computed,
        } = d;
        let Some(seq) = seq else {
            return self.fail(expected, FailureKind::Malformed, "event without a seq");
        };
        match self.last_seq {
            None => {
                self.first_seq = Some(seq);
                self.first_prev = Some(prev.clone());
                if seq == 1 && prev != GENESIS_HASH {
                    self.fail(
                        seq,
                        FailureKind::ChainBroken,
                        "the first event's prev_hash is not the genesis hash",
                    );
                }
            }
            Some(last) if seq <= last => {
                return self.fail(
                    seq,
                    FailureKind::OutOfOrder,
                    format!("seq {seq} after seq {last}"),
                );
            }
            Some(last) if seq > last + 1 => {
                self.fail(
                    last + 1,
                    FailureKind::Gap,
                    format!("seq {} to {} missing", last + 1, seq - 1),
                );
            }
            Some(_) => {
                if self.last_hash.as_deref() != Some(prev.as_str()) {
                    self.fail(
                        seq,
                        FailureKind::ChainBroken,
                        "prev_hash is not the previous event's hash",
                    );
                }
            }
        }
        match computed {
            Ok(h) if h == stored => {}
            Ok(_) => self.fail(
                seq,
                FailureKind::HashMismatch,
                "the event's content does not match its hash",
            ),
            Err(e) => self.fail(seq, FailureKind::Malformed, e.to_string()),
        }
        // Index by position; a gap pads so seq arithmetic stays right.
        let first = self.first_seq.unwrap_or(seq);
        while (self.hashes.len() as u64) < seq - first {
            self.hashes.push([0; 32]);
        }
        self.hashes.push(hex32(&stored).unwrap_or([0; 32]));
        self.last_seq = Some(seq);
        self.last_hash = Some(stored);
    }

    fn hash_at(&self, seq: u64) -> Option<[u8; 32]> {
        let first = self.first_seq?;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.hashes.get(i).copied()
    }

    /// Checks the checkpoints and coverage; returns the report.
    pub fn finish(self) -> VerifyReport {
        self.finish_with(&Checks::default())
    }

    /// [`Self::finish`], then the witness heads and the pinned keys.
    pub fn finish_with(mut self, checks: &Checks) -> VerifyReport {
        if self.manifest.is_none() {
            self.fail(0, FailureKind::Malformed, "the bundle has no manifest");
        }
        let org = self.manifest.as_ref().map(|m| m.org_id);
        let checkpoints = std::mem::take(&mut self.checkpoints);
        let mut signed_head: Option<(u64, String)> = None;
        let mut head_checkpoint: Option<Checkpoint> = None;
        let mut signers: Vec<String> = Vec::new();
        for c in &checkpoints {
            let b = &c.body;
            if Some(b.org_id) != org {
                self.fail(
                    b.seq,
                    FailureKind::CheckpointMismatch,
                    "checkpoint of another organization",
                );
                continue;
            }
            let Some(key) = self.keys.get(&b.key_id) else {
                self.fail(
                    b.seq,
                    FailureKind::UnknownKey,
                    format!("no key `{}` in the bundle", b.key_id),
                );
                continue;
            };
            let sig = URL_SAFE_NO_PAD
                .decode(&c.signature)
                .ok()
                .and_then(|s| Signature::from_slice(&s).ok());
            let valid = match (sig, b.signed_bytes()) {
                (Some(sig), Ok(bytes)) => key.verify(&bytes, &sig).is_ok(),
                _ => false,
            };
            if !valid {
                self.fail(
                    b.seq,
                    FailureKind::BadSignature,
                    format!("checkpoint at seq {} has a bad signature", b.seq),
                );
                continue;
            }
            let in_range = self.first_seq.is_some_and(|f| b.seq >= f)
                && self.last_seq.is_some_and(|l| b.seq <= l);
            if in_range {
                if self.hash_at(b.seq) != hex32(&b.head_hash) {
                    self.fail(
                        b.seq,
                        FailureKind::CheckpointMismatch,
                        format!("checkpoint at seq {} does not match the event", b.seq),
                    );
                    continue;
                }
            } else if self.last_seq.is_none_or(|l| b.seq > l) {
                let from = self.last_seq.map_or(1, |l| l + 1);
                self.fail(
                    from,
                    FailureKind::TruncatedTail,
                    format!(
                        "a checkpoint covers seq {} but the events end before it",
                        b.seq
                    ),
                );
                continue;
            }
            // (A checkpoint just before the first event anchors a range
            // export or a purge; it is matched below.)
            if !signers.contains(&b.key_id) {
                signers.push(b.key_id.clone());
            }
            if signed_head.as_ref().is_none_or(|(s, _)| b.seq > *s) {
                signed_head = Some((b.seq, b.head_hash.clone()));
                head_checkpoint = Some(c.clone());
            }
        }
        // A chain that does not start at 1 must be anchored by a checkpoint.
        if let Some(first) = self.first_seq.filter(|f| *f > 1) {
            let anchored = checkpoints.iter().any(|c| {
                c.body.seq + 1 == first && Some(&c.body.head_hash) == self.first_prev.as_ref()
            });
            if !anchored {
                self.fail(
                    first,
                    FailureKind::ChainBroken,
                    "the first event is not anchored by a checkpoint at the previous seq",
                );
            }
        }
        // Coverage is reported only when nothing more specific went wrong
        // (a bad checkpoint signature also leaves events uncovered).
        if self.failure.is_some() {
        } else if let (Some(last), Some((head, _))) = (self.last_seq, &signed_head) {
            if last > *head {
                self.fail(
                    head + 1,
                    FailureKind::UncoveredTail,
                    format!(
                        "events {} to {last} are after the last checkpoint",
                        head + 1
                    ),
                );
            }
        } else if let Some(last) = self.last_seq {
            self.fail(
                self.first_seq.unwrap_or(1).min(last),
                FailureKind::UncoveredTail,
                "no valid checkpoint covers the events",
            );
        }
        let witnessed = self.witness(org, &checks.witness, &checkpoints);
        let signer_fingerprints: Vec<String> = signers
            .iter()
            .filter_map(|k| self.key_lines.get(k))
            .filter_map(|k| super::fingerprint_of(&k.public_key))
            .collect();
        let ok = self.failure.is_none();
        let (trusted, authenticity) = match &checks.pinned {
            None => (
                false,
                "Authenticity not established: no keys pinned (--trust); the bundle's own keys \
                 prove only that it is self-consistent."
                    .to_owned(),
            ),
            Some(pinned) => {
                let trusted = super::trust::trusted_key_ids(&self.key_lines, pinned);
                match signers.iter().find(|k| !trusted.contains(*k)) {
                    _ if !ok => (false, "Not trusted: the chain does not verify.".to_owned()),
                    _ if signers.is_empty() => {
                        (false, "Not trusted: no checkpoint verified.".to_owned())
                    }
                    Some(k) => (
                        false,
                        format!(
                            "Not trusted: key `{k}` ({}) is neither pinned nor introduced by a \
                             pinned key.",
                            self.key_lines
                                .get(k)
                                .and_then(|l| super::fingerprint_of(&l.public_key))
                                .unwrap_or_default()
                        ),
                    ),
                    None => (
                        true,
                        format!(
                            "Trusted: every checkpoint is signed by a pinned key or its \
                             successor ({}).",
                            signer_fingerprints.join(", ")
                        ),
                    ),
                }
            }
        };
        VerifyReport {
            ok: self.failure.is_none(),
            org_id: org,
            events: self.events,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            signed_head,
            checkpoints: checkpoints.len() as u64,
            failure: self.failure,
            trusted,
            signer_fingerprints,
            authenticity,
            witnessed,
            head_checkpoint,
        }
    }

    /// Checks each witnessed head of this chain: the bundle holds its seq
    /// with the same hash, or starts after it behind a signed anchor (purge
    /// or range export). Returns how many heads were checked.
    fn witness(
        &mut self,
        org: Option<Uuid>,
        witness: &super::Witness,
        checkpoints: &[Checkpoint],
    ) -> u64 {
        let ranged = self.manifest.as_ref().is_some_and(|m| m.to.is_some());
        let mut checked = 0;
        for h in witness.heads.iter().filter(|h| Some(h.body.org_id) == org) {
            let seq = h.body.seq;
            let (Some(first), Some(last)) = (self.first_seq, self.last_seq) else {
                self.fail(seq, FailureKind::WitnessMissing, "the bundle has no events");
                continue;
            };
            if seq > last {
                if !ranged {
                    self.fail(
                        last + 1,
                        FailureKind::WitnessMissing,
                        format!(
                            "a head seen before at seq {seq} is missing: the bundle ends at {last}"
                        ),
                    );
                    checked += 1;
                }
                continue;
            }
            checked += 1;
            if seq >= first {
                if self.hash_at(seq) != hex32(&h.body.head_hash) {
                    self.fail(
                        seq,
                        FailureKind::WitnessMismatch,
                        format!(
                            "seq {seq} differs from the head seen before: history was rewritten"
                        ),
                    );
                }
            } else {
                let anchored = checkpoints.iter().any(|c| c.body.seq + 1 == first);
                if !anchored {
                    self.fail(
                        first,
                        FailureKind::WitnessMissing,
                        format!(
                            "a head seen before at seq {seq} precedes the bundle without an anchor"
                        ),
                    );
                }
            }
        }
        checked
    }
}

/// Verifies a whole bundle held in memory.
pub fn verify_str(bundle: &str) -> VerifyReport {
    let mut v = BundleVerifier::new();
    for l in bundle.lines() {
        v.line(l);
    }
    v.finish()
}

#[cfg(test)]
mod tests;

/// A bundle line after the work that does not depend on the lines before
/// it: parsed, and an event reduced to what the chain check needs (its
/// seq, hashes and recomputed hash), so the parsed event is dropped on the
/// thread that parsed it.
pub enum Prepared {
    Blank,
    Malformed(String),
    Event(EventDigest),
    Parsed(Value),
}

/// What the chain check needs of one event.
pub struct EventDigest {
    seq: Option<u64>,
    stored: String,
    prev: String,
    computed: Result<String, AuditFormatError>,
}

impl EventDigest {
    fn of(mut event: Value) -> Self {
        let text = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            seq: event.get("seq").and_then(Value::as_u64),
            stored: text(&event, "hash"),
            prev: text(&event, "prev_hash"),
            computed: owned_event_hash(&mut event),
        }
    }
}

/// Parses a line; an event is reduced to its [`EventDigest`].
pub fn prepare(line: &str) -> Prepared {
    if line.trim().is_empty() {
        return Prepared::Blank;
    }
    let mut value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Prepared::Malformed(e.to_string()),
    };
    if value.get("type").and_then(Value::as_str) == Some("event") {
        let body = value
            .get_mut("event")
            .map(Value::take)
            .unwrap_or(Value::Null);
        return Prepared::Event(EventDigest::of(body));
    }
    Prepared::Parsed(value)
}

/// [`event_hash`] without copying the event: its `hash` is taken out for
/// the canonical form and put back.
fn owned_event_hash(event: &mut Value) -> Result<String, AuditFormatError> {
    let Value::Object(obj) = event else {
        return Err(AuditFormatError::NotAnObject);
    };
    let stored = obj.remove("hash");
    let whole = Value::Object(std::mem::take(obj));
    let hash = canonical(&whole).map(|bytes| sha256_hex(&bytes));
    if let Value::Object(back) = whole {
        *obj = back;
    }
    if let Some(h) = stored {
        obj.insert("hash".to_owned(), h);
    }
    hash
}

/// [`prepare`] over `lines`, split across up to `threads` threads; in order.
pub fn prepare_all(lines: &[String], threads: usize) -> Vec<Prepared> {
    let threads = threads.clamp(1, 64);
    if threads == 1 || lines.len() < 256 {
        return lines.iter().map(|l| prepare(l)).collect();
    }
    let chunk = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = lines
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|l| prepare(l)).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
