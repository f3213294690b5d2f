//! Signed current-state snapshots (docs/AUDIT-FORMAT.md, "Snapshots"): the
//! daemon signs the JCS of the snapshot without its `signature` member with
//! the audit key; a report accepts one only when the signature verifies with
//! a key of the bundle (a trusted one, when keys are pinned), it describes
//! the bundle's organization, and it was taken within the period.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::Value;
use uuid::Uuid;

use crate::api::{ReportSnapshot, SnapshotSignature};
use crate::audit::{canonical, sha256_hex, trust, AuditFormatError, BundleKey, Pinned};

/// The bytes signed, and their SHA-256 (what `report.generated` records).
fn signed_bytes(v: &Value) -> Result<Vec<u8>, AuditFormatError> {
    let mut obj = v.as_object().ok_or(AuditFormatError::NotAnObject)?.clone();
    obj.remove("signature");
    canonical(&Value::Object(obj))
}

/// Signs `snapshot`; returns it with its signature and the SHA-256 of the
/// signed bytes.
pub fn sign(
    mut snapshot: ReportSnapshot,
    key_id: &str,
    key: &SigningKey,
) -> Result<(ReportSnapshot, String), AuditFormatError> {
    snapshot.signature = None;
    let v =
        serde_json::to_value(&snapshot).map_err(|e| AuditFormatError::Canonical(e.to_string()))?;
    let bytes = signed_bytes(&v)?;
    snapshot.signature = Some(SnapshotSignature {
        key_id: key_id.to_owned(),
        signature: URL_SAFE_NO_PAD.encode(key.sign(&bytes).to_bytes()),
    });
    Ok((snapshot, sha256_hex(&bytes)))
}

/// What the report is checking the snapshot against.
pub struct Expect<'a> {
    /// The bundle's keys, by id.
    pub keys: &'a HashMap<String, BundleKey>,
    pub pinned: Option<&'a Pinned>,
    /// The bundle's organization.
    pub org: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Accept a snapshot taken outside the period.
    pub any_time: bool,
}

/// A snapshot that passed [`check`], with the SHA-256 of its signed bytes.
pub struct Checked {
    pub snapshot: ReportSnapshot,
    pub sha256: String,
}

/// Checks a snapshot file's JSON; the error says why it is refused.
pub fn check(text: &str, e: &Expect<'_>) -> Result<Checked, String> {
    let v: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    let snapshot: ReportSnapshot =
        serde_json::from_value(v.clone()).map_err(|err| format!("not a report snapshot: {err}"))?;
    let sig = snapshot
        .signature
        .as_ref()
        .ok_or("it is not signed (take it from GET …/reports/snapshot of this version)")?;
    let key = e.keys.get(&sig.key_id).ok_or_else(|| {
        format!(
            "it is signed by key `{}`, which the bundle does not carry",
            sig.key_id
        )
    })?;
    let bytes = signed_bytes(&v).map_err(|err| err.to_string())?;
    let pk = URL_SAFE_NO_PAD
        .decode(&key.public_key)
        .ok()
        .and_then(|r| <[u8; 32]>::try_from(r.as_slice()).ok())
        .and_then(|r| VerifyingKey::from_bytes(&r).ok());
    let s = URL_SAFE_NO_PAD
        .decode(&sig.signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok());
    let valid = matches!((pk, s), (Some(pk), Some(s)) if pk.verify(&bytes, &s).is_ok());
    if !valid {
        return Err("its signature does not verify: it was altered after signing".into());
    }
    if let Some(pinned) = e.pinned {
        if !trust::trusted_key_ids(e.keys, pinned).contains(&sig.key_id) {
            return Err(format!("its signing key `{}` is not trusted", sig.key_id));
        }
    }
    if e.org
        .is_some_and(|org| org != snapshot.org_id || org != snapshot.organization.id)
    {
        return Err(format!(
            "it describes organization {}, not the bundle's {}",
            snapshot.org_id,
            e.org.unwrap_or_default()
        ));
    }
    if !e.any_time {
        let t = snapshot.taken_at;
        if e.from.is_some_and(|f| t < f) || e.to.is_some_and(|to| t > to) {
            return Err(format!(
                "it was taken at {t}, outside the report's period (--snapshot-any-time to accept)"
            ));
        }
    }
    Ok(Checked {
        snapshot,
        sha256: sha256_hex(&bytes),
    })
}
