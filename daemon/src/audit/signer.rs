//! Signed checkpoints of the audit chains (the key: `audit::keys`).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use loki_shared::audit::{BundleKey, CheckpointBody};
use uuid::Uuid;

use crate::audit::Auditor;
use crate::error::AppError;
use crate::store::CheckpointRecord;

impl Auditor {
    /// Every audit public key, for bundles.
    pub async fn bundle_keys(&self) -> Result<Vec<BundleKey>, AppError> {
        Ok(self
            .store
            .audit_keys()
            .await?
            .into_iter()
            .map(|k| BundleKey {
                key_id: k.kid,
                public_key: URL_SAFE_NO_PAD.encode(&k.public_key),
                valid_from: k
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                valid_until: None,
            })
            .collect())
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
        let (kid, key) = self.keys.current().await?;
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
