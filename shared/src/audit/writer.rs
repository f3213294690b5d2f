//! Writing a signed bundle without a daemon: chains and seals events,
//! signs checkpoints. For tools and tests that need bundles of their own
//! (synthetic loads for benchmarks, report fixtures).

use std::io::Write;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use serde_json::json;
use uuid::Uuid;

use super::{
    line, Actor, AuditEvent, AuditFormatError, BundleKey, CheckpointBody, Manifest, BUNDLE_FORMAT,
    BUNDLE_VERSION, GENESIS_HASH, SCHEMA_VERSION,
};

fn io(e: AuditFormatError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl AuditEvent {
    /// An unsealed event by nobody in particular; set what matters, then
    /// hand it to a [`BundleWriter`] (which numbers, chains and seals it).
    pub fn draft(time: &str, action: &str, outcome: &str) -> Self {
        Self {
            schema: SCHEMA_VERSION,
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            seq: 0,
            time: time.to_owned(),
            actor: Actor {
                kind: "system".into(),
                user_id: None,
                api_key_id: None,
                session_id: None,
            },
            action: action.to_owned(),
            resource_type: None,
            resource_id: None,
            outcome: outcome.to_owned(),
            ip: None,
            user_agent: None,
            request_id: None,
            before: None,
            after: None,
            metadata: json!({}),
            count: 1,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }
}

pub struct BundleWriter<W: Write> {
    out: W,
    org_id: Uuid,
    key: SigningKey,
    key_id: String,
    seq: u64,
    prev: String,
}

impl<W: Write> BundleWriter<W> {
    /// Writes the manifest and the public key.
    pub fn new(
        mut out: W,
        org_id: Uuid,
        key: SigningKey,
        key_id: &str,
        exported_at: &str,
    ) -> std::io::Result<Self> {
        let manifest = Manifest {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            org_id,
            from: None,
            to: None,
            exported_at: exported_at.to_owned(),
        };
        let public = BundleKey {
            key_id: key_id.to_owned(),
            public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
            valid_from: "1970-01-01T00:00:00Z".into(),
            valid_until: None,
            fingerprint: Some(super::fingerprint(key.verifying_key().as_bytes())),
            introduced_by: None,
        };
        writeln!(out, "{}", line("manifest", &manifest).map_err(io)?)?;
        writeln!(out, "{}", line("key", &public).map_err(io)?)?;
        Ok(Self {
            out,
            org_id,
            key,
            key_id: key_id.to_owned(),
            seq: 0,
            prev: GENESIS_HASH.to_owned(),
        })
    }

    /// Appends the event as the next of the chain; returns it sealed.
    pub fn event(&mut self, mut e: AuditEvent) -> std::io::Result<AuditEvent> {
        self.seq += 1;
        e.seq = self.seq;
        e.org_id = self.org_id;
        if e.id.is_nil() {
            e.id = Uuid::from_u128(u128::from(self.seq));
        }
        e.prev_hash = std::mem::take(&mut self.prev);
        let e = e.seal().map_err(io)?;
        self.prev = e.hash.clone();
        writeln!(self.out, "{}", line("event", &e).map_err(io)?)?;
        Ok(e)
    }

    /// A signed checkpoint over the newest event.
    pub fn checkpoint(&mut self, issued_at: &str) -> std::io::Result<()> {
        let cp = CheckpointBody {
            org_id: self.org_id,
            seq: self.seq,
            head_hash: self.prev.clone(),
            issued_at: issued_at.to_owned(),
            key_id: self.key_id.clone(),
        }
        .sign(&self.key)
        .map_err(io)?;
        writeln!(self.out, "{}", line("checkpoint", &cp).map_err(io)?)
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
