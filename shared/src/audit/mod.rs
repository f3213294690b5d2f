//! The audit record format (docs/AUDIT-FORMAT.md): events, the hash chain, signed
//! checkpoints and the JSON Lines export bundle — and the offline verifier
//! that anyone can run on a bundle without trusting the server.
//!
//! * `hash` = lowercase hex SHA-256 of the RFC 8785 (JCS) canonical JSON of
//!   the event object without its `hash` field; `prev_hash` of seq 1 is 64
//!   zeros. Events carry no floating-point numbers; times are RFC 3339.
//! * A checkpoint signs exactly `{org_id, seq, head_hash, issued_at,
//!   key_id}` (JCS) with Ed25519; the signature is base64url.
//! * A bundle is JSON Lines, each line `{"type": T, T: {...}}` with T one of
//!   `manifest`, `key`, `event` (seq order), `checkpoint`.

pub mod actions;
pub mod trust;
mod verify;
mod writer;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use trust::{fingerprint, fingerprint_of, KeyIntroduction, Pinned, Witness};
pub use verify::Checks;
pub use verify::{
    prepare, prepare_all, verify_str, BundleVerifier, Failure, FailureKind, Prepared, VerifyReport,
};
pub use writer::BundleWriter;

/// Version of the event schema written into every event (`schema`).
pub const SCHEMA_VERSION: u32 = 1;
/// Name and version of the bundle format (in the manifest).
pub const BUNDLE_FORMAT: &str = "loki-audit-bundle";
pub const BUNDLE_VERSION: u32 = 1;
/// `prev_hash` of the first event of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum AuditFormatError {
    #[error("cannot canonicalize: {0}")]
    Canonical(String),
    #[error("not an object")]
    NotAnObject,
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Actor {
    /// `user`, `api_key` or `system`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub api_key_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_id: Option<Uuid>,
}

/// One stored audit event. `hash` covers every other field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AuditEvent {
    pub schema: u32,
    pub id: Uuid,
    /// The nil UUID for the system chain.
    pub org_id: Uuid,
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    pub actor: Actor,
    /// Dotted name, e.g. `member.role_changed`.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource_id: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub after: Option<Value>,
    /// Always an object (possibly empty).
    pub metadata: Value,
    /// Occurrences aggregated into this event (1 unless a flood was folded).
    pub count: u64,
    pub prev_hash: String,
    pub hash: String,
}

/// JCS (RFC 8785) canonical bytes of a JSON value.
pub fn canonical(v: &Value) -> Result<Vec<u8>, AuditFormatError> {
    serde_jcs::to_vec(v).map_err(|e| AuditFormatError::Canonical(e.to_string()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// The hash of an event given as a JSON object (its `hash` field ignored).
pub fn event_hash(event: &Value) -> Result<String, AuditFormatError> {
    let mut obj = event
        .as_object()
        .ok_or(AuditFormatError::NotAnObject)?
        .clone();
    obj.remove("hash");
    Ok(sha256_hex(&canonical(&Value::Object(obj))?))
}

impl AuditEvent {
    /// Computes and sets `hash` from the other fields.
    pub fn seal(mut self) -> Result<Self, AuditFormatError> {
        let v =
            serde_json::to_value(&self).map_err(|e| AuditFormatError::Canonical(e.to_string()))?;
        self.hash = event_hash(&v)?;
        Ok(self)
    }
}

/// The signed part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CheckpointBody {
    pub org_id: Uuid,
    pub seq: u64,
    pub head_hash: String,
    pub issued_at: String,
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Checkpoint {
    #[serde(flatten)]
    pub body: CheckpointBody,
    /// base64url Ed25519 signature over the JCS of `body`.
    pub signature: String,
}

impl CheckpointBody {
    pub fn signed_bytes(&self) -> Result<Vec<u8>, AuditFormatError> {
        canonical(&json!({
            "org_id": self.org_id,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "issued_at": self.issued_at,
            "key_id": self.key_id,
        }))
    }

    pub fn sign(self, key: &SigningKey) -> Result<Checkpoint, AuditFormatError> {
        let sig = key.sign(&self.signed_bytes()?);
        Ok(Checkpoint {
            body: self,
            signature: URL_SAFE_NO_PAD.encode(sig.to_bytes()),
        })
    }
}

/// A public key in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BundleKey {
    pub key_id: String,
    /// base64url of the raw 32-byte Ed25519 public key.
    pub public_key: String,
    pub valid_from: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_until: Option<String>,
    /// `SHA256:…` of the raw key (informative: a verifier computes its own).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fingerprint: Option<String>,
    /// For a key that succeeded another: the predecessor's signed introduction.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub introduced_by: Option<KeyIntroduction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub org_id: Uuid,
    /// Requested time range (RFC 3339), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<String>,
    pub exported_at: String,
}

/// One bundle line, `{"type": T, T: {...}}`.
/// (`type` comes first, so a reader sees what a line is at a glance.)
pub fn line(kind: &str, body: &impl Serialize) -> Result<String, AuditFormatError> {
    let err = |e: serde_json::Error| AuditFormatError::Canonical(e.to_string());
    let body = serde_json::to_string(body).map_err(err)?;
    let kind = serde_json::to_string(kind).map_err(err)?;
    Ok(format!("{{\"type\":{kind},{kind}:{body}}}"))
}
