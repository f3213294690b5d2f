//! Signed checkpoints of the audit chains (the key: `audit::keys`).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use loki_shared::audit::{BundleKey, CheckpointBody, KeyIntroduction};
use uuid::Uuid;

use crate::audit::Auditor;
use crate::error::AppError;
use crate::store::CheckpointRecord;

impl Auditor {
    /// Every audit public key, for bundles and `GET /api/v1/audit/keys`
    /// (oldest first; a key's validity ends where its successor's begins).
    pub async fn bundle_keys(&self) -> Result<Vec<BundleKey>, AppError> {
        let keys = self.store.audit_keys().await?;
        let time =
            |t: &chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        Ok(keys
            .iter()
            .map(|k| BundleKey {
                key_id: k.kid.clone(),
                public_key: URL_SAFE_NO_PAD.encode(&k.public_key),
                valid_from: time(&k.created_at),
                valid_until: keys
                    .iter()
                    .find(|n| n.predecessor.as_deref() == Some(k.kid.as_str()))
                    .map(|n| time(&n.created_at)),
                fingerprint: Some(loki_shared::audit::fingerprint(&k.public_key)),
                introduced_by: match (&k.predecessor, &k.introduction) {
                    (Some(key_id), Some(signature)) => Some(KeyIntroduction {
                        key_id: key_id.clone(),
                        signature: signature.clone(),
                    }),
                    _ => None,
                },
            })
            .collect())
    }

    /// The keys to publish: the current one is created first if there is none
    /// yet, so there is always a key to pin before the first checkpoint.
    pub async fn published_keys(&self) -> Result<Vec<BundleKey>, AppError> {
        self.keys.current().await?;
        self.bundle_keys().await
    }

    /// Signs a report snapshot with the audit key; returns it with the
    /// SHA-256 of the signed bytes.
    pub async fn sign_snapshot(
        &self,
        snapshot: loki_shared::api::ReportSnapshot,
    ) -> Result<(loki_shared::api::ReportSnapshot, String), AppError> {
        let current = self.keys.current().await?;
        loki_shared::report::snapshot::sign(snapshot, &current.0, &current.1)
            .map_err(|e| AppError::Internal(e.into()))
    }

    /// Rotates the audit key: first the old key signs a checkpoint at every
    /// chain's head (it vouches for all history up to the rotation), then
    /// the successor it introduces becomes current.
    pub async fn rotate_key(&self) -> Result<(String, String), AppError> {
        let mut chains = self.store.org_ids().await?;
        chains.push(super::SYSTEM_CHAIN);
        for org in chains {
            self.checkpoint(org).await?;
        }
        self.keys.rotate().await.map_err(AppError::Internal)
    }

    /// Signs a checkpoint at `seq` (the event there must exist) and stores it.
    pub async fn checkpoint_at(
        &self,
        org: Uuid,
        seq: i64,
    ) -> Result<Option<CheckpointRecord>, AppError> {
        let Some(hash) = self.store.audit_hash_at(org, seq).await? else {
            return Ok(None);
        };
        let current = self.keys.current().await?;
        let (kid, key) = &*current;
        let cp = CheckpointBody {
            org_id: org,
            seq: u64::try_from(seq).unwrap_or(0),
            head_hash: hash,
            issued_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            key_id: kid.clone(),
        }
        .sign(key)
        .map_err(|e| AppError::Internal(e.into()))?;
        let rec = CheckpointRecord {
            org_id: org,
            seq,
            head_hash: cp.body.head_hash,
            issued_at: cp.body.issued_at,
            key_id: cp.body.key_id,
            signature: cp.signature,
        };
        self.store.insert_checkpoint(rec.clone()).await?;
        Ok(Some(rec))
    }

    /// Signs a checkpoint at the organization's current head.
    pub async fn checkpoint(&self, org: Uuid) -> Result<Option<CheckpointRecord>, AppError> {
        match self.store.audit_head(org).await? {
            Some((seq, _)) => self.checkpoint_at(org, seq).await,
            None => Ok(None),
        }
    }
}

/// Every `audit_checkpoint_secs`, checkpoints the heads that moved since
/// the last checkpoint (so an idle organization's newest events are covered
/// too, not only every N events).
pub async fn periodic(auditor: Auditor) {
    let every = Duration::from_secs(auditor.config.audit_checkpoint_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        for org in auditor.touched.drain() {
            if let Err(e) = auditor.checkpoint(org).await {
                tracing::warn!(error = %e, org_id = %org, "periodic audit checkpoint failed");
            }
        }
    }
}
