//! Who signed a bundle, and whether the reader trusts them
//! (docs/AUDIT-FORMAT.md, "Trust"): key fingerprints, key succession
//! (a new key introduced by a statement signed with the one before it),
//! pinned keys, and witness files of signed heads seen before.

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{canonical, line, AuditFormatError, BundleKey, Checkpoint};

/// `SHA256:<base64url, no padding, of the SHA-256 of the raw 32-byte key>`.
pub fn fingerprint(raw: &[u8]) -> String {
    format!("SHA256:{}", URL_SAFE_NO_PAD.encode(Sha256::digest(raw)))
}

/// The fingerprint of a key as a bundle or `GET /api/v1/audit/keys` gives it
/// (`public_key` base64url); `None` when it is not a 32-byte key.
pub fn fingerprint_of(public_key_b64: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(public_key_b64).ok()?;
    (raw.len() == 32).then(|| fingerprint(&raw))
}

/// How a key was introduced by the key before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyIntroduction {
    /// The predecessor's key id (it made the signature).
    pub key_id: String,
    /// base64url Ed25519 signature over [`succession_bytes`].
    pub signature: String,
}

/// The statement a predecessor signs to introduce its successor: the JCS of
/// `{"type": "loki-audit-key-succession", "predecessor", "key_id", "public_key"}`.
pub fn succession_bytes(
    predecessor: &str,
    key_id: &str,
    public_key_b64: &str,
) -> Result<Vec<u8>, AuditFormatError> {
    canonical(&json!({
        "type": "loki-audit-key-succession",
        "predecessor": predecessor,
        "key_id": key_id,
        "public_key": public_key_b64,
    }))
}

/// Signs the introduction of `key_id` (public key `public_key_b64`) with
/// the predecessor's key.
pub fn introduce(
    predecessor_id: &str,
    predecessor: &SigningKey,
    key_id: &str,
    public_key_b64: &str,
) -> Result<KeyIntroduction, AuditFormatError> {
    let sig = predecessor.sign(&succession_bytes(predecessor_id, key_id, public_key_b64)?);
    Ok(KeyIntroduction {
        key_id: predecessor_id.to_owned(),
        signature: URL_SAFE_NO_PAD.encode(sig.to_bytes()),
    })
}

fn verifying(public_key_b64: &str) -> Option<VerifyingKey> {
    let raw = URL_SAFE_NO_PAD.decode(public_key_b64).ok()?;
    VerifyingKey::from_bytes(&<[u8; 32]>::try_from(raw.as_slice()).ok()?).ok()
}

fn signature(b64: &str) -> Option<Signature> {
    Signature::from_slice(&URL_SAFE_NO_PAD.decode(b64).ok()?).ok()
}

/// Whether `key`'s introduction is signed by `by`.
pub fn introduction_valid(key: &BundleKey, by: &BundleKey) -> bool {
    let Some(intro) = &key.introduced_by else {
        return false;
    };
    let (Some(pk), Some(sig), Ok(bytes)) = (
        verifying(&by.public_key),
        signature(&intro.signature),
        succession_bytes(&intro.key_id, &key.key_id, &key.public_key),
    ) else {
        return false;
    };
    intro.key_id == by.key_id && pk.verify(&bytes, &sig).is_ok()
}

/// The keys the reader trusts, by fingerprint (`--trust`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pinned(pub HashSet<String>);

impl Pinned {
    /// Reads one `--trust` value: a fingerprint (`SHA256:…`), or the text of
    /// a file saved from `GET /api/v1/audit/keys` (or a bundle's key lines,
    /// or fingerprints one per line).
    pub fn add(&mut self, value: &str) -> Result<(), String> {
        let value = value.trim();
        if value.starts_with("SHA256:") && !value.contains(char::is_whitespace) {
            self.0.insert(value.to_owned());
            return Ok(());
        }
        let mut found = 0;
        if let Ok(v) = serde_json::from_str::<Value>(value) {
            let keys = v.get("keys").cloned().unwrap_or(v);
            for k in keys.as_array().into_iter().flatten() {
                self.key(k)?;
                found += 1;
            }
        } else {
            for l in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if l.starts_with("SHA256:") {
                    self.0.insert(l.to_owned());
                } else {
                    let v: Value = serde_json::from_str(l)
                        .map_err(|_| format!("`{l}` is neither a fingerprint nor JSON"))?;
                    match v.get("key") {
                        Some(k) => self.key(k)?,
                        None => continue,
                    }
                }
                found += 1;
            }
        }
        if found == 0 {
            return Err("no keys or fingerprints found".into());
        }
        Ok(())
    }

    /// Pins a key object; its fingerprint is computed from `public_key`, and
    /// a stated `fingerprint` must agree with it.
    fn key(&mut self, k: &Value) -> Result<(), String> {
        let pk = k
            .get("public_key")
            .and_then(Value::as_str)
            .ok_or("a key without public_key")?;
        let fp = fingerprint_of(pk).ok_or("a public_key that is not a 32-byte key")?;
        if let Some(stated) = k.get("fingerprint").and_then(Value::as_str) {
            if stated != fp {
                return Err(format!(
                    "the key's stated fingerprint {stated} is not its key's {fp}"
                ));
            }
        }
        self.0.insert(fp);
        Ok(())
    }
}

/// The key ids trusted through `pinned`: pinned keys, and every key
/// introduced (transitively) by a trusted one.
pub fn trusted_key_ids(keys: &HashMap<String, BundleKey>, pinned: &Pinned) -> HashSet<String> {
    let mut trusted: HashSet<String> = keys
        .values()
        .filter(|k| fingerprint_of(&k.public_key).is_some_and(|f| pinned.0.contains(&f)))
        .map(|k| k.key_id.clone())
        .collect();
    loop {
        let next: Vec<String> = keys
            .values()
            .filter(|k| !trusted.contains(&k.key_id))
            .filter(|k| {
                k.introduced_by.as_ref().is_some_and(|i| {
                    trusted.contains(&i.key_id)
                        && keys
                            .get(&i.key_id)
                            .is_some_and(|by| introduction_valid(k, by))
                })
            })
            .map(|k| k.key_id.clone())
            .collect();
        if next.is_empty() {
            return trusted;
        }
        trusted.extend(next);
    }
}

/// Signed heads seen before (a witness file: checkpoint lines as in a bundle).
#[derive(Debug, Clone, Default)]
pub struct Witness {
    pub heads: Vec<Checkpoint>,
}

impl Witness {
    /// Parses a witness file (JSON Lines of `{"type":"checkpoint",…}`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut heads = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let v: Value =
                serde_json::from_str(l).map_err(|e| format!("witness line {}: {e}", i + 1))?;
            let body = v
                .get("checkpoint")
                .filter(|_| v.get("type").and_then(Value::as_str) == Some("checkpoint"))
                .ok_or_else(|| format!("witness line {}: not a checkpoint line", i + 1))?;
            heads.push(
                serde_json::from_value(body.clone())
                    .map_err(|e| format!("witness line {}: {e}", i + 1))?,
            );
        }
        Ok(Self { heads })
    }

    /// The line `--witness-update` appends for a head.
    pub fn line(head: &Checkpoint) -> Result<String, AuditFormatError> {
        line("checkpoint", head)
    }
}
