//! The audit signing key (Ed25519, stored sealed with the master key, shared
//! by every daemon through the database) and checkpoints.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use loki_shared::audit::{BundleKey, CheckpointBody};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::auth::keys::MasterKey;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{CheckpointRecord, DynStore, SigningKeyRecord};

/// The current audit key (loaded once; created on first use).
#[derive(Default)]
pub struct AuditKeys {
    current: OnceCell<(String, SigningKey)>,
}

impl std::fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKeys([redacted])")
    }
}

fn context(kid: &str) -> Vec<u8> {
    format!("audit:{kid}").into_bytes()
}

impl AuditKeys {
    async fn load(
        store: &DynStore,
        master: &Arc<MasterKey>,
    ) -> anyhow::Result<(String, SigningKey)> {
        let mut keys = store.audit_keys().await?;
        if keys.is_empty() {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let kid = format!("audit-{}", Uuid::now_v7().simple());
            store
                .insert_audit_key(SigningKeyRecord {
                    kid: kid.clone(),
                    public_key: key.verifying_key().as_bytes().to_vec(),
                    private_key_enc: master.seal(key.as_bytes(), &context(&kid))?,
                    created_at: Utc::now(),
                })
                .await?;
            // Another daemon may have raced us: use whatever is first.
            keys = store.audit_keys().await?;
        }
        let r = keys
            .first()
            .ok_or_else(|| anyhow::anyhow!("no audit key"))?;
        let seed = master.open(&r.private_key_enc, &context(&r.kid))?;
        let seed: [u8; 32] = seed.as_slice().try_into()?;
        Ok((r.kid.clone(), SigningKey::from_bytes(&seed)))
    }

    pub async fn current(&self, state: &AppState) -> Result<&(String, SigningKey), AppError> {
        self.current
            .get_or_try_init(|| Self::load(&state.store, &state.master))
            .await
            .map_err(AppError::Internal)
    }
}

/// Every audit public key, for bundles.
pub async fn bundle_keys(state: &AppState) -> Result<Vec<BundleKey>, AppError> {
    Ok(state
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
    state: &AppState,
    org: Uuid,
    seq: i64,
) -> Result<Option<CheckpointRecord>, AppError> {
    let Some(hash) = state.store.audit_hash_at(org, seq).await? else {
        return Ok(None);
    };
    let (kid, key) = state.audit_keys.current(state).await?;
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
    state.store.insert_checkpoint(rec.clone()).await?;
    Ok(Some(rec))
}

/// Signs a checkpoint at the organization's current head.
pub async fn checkpoint(state: &AppState, org: Uuid) -> Result<Option<CheckpointRecord>, AppError> {
    match state.store.audit_head(org).await? {
        Some((seq, _)) => checkpoint_at(state, org, seq).await,
        None => Ok(None),
    }
}

/// Every `audit_checkpoint_secs`, checkpoints the heads that moved since
/// the last checkpoint (so an idle organization's newest events are covered
/// too, not only every N events).
pub async fn periodic(state: AppState) {
    let every = Duration::from_secs(state.config.audit_checkpoint_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        for org in state.audit_touched.drain() {
            if let Err(e) = checkpoint(&state, org).await {
                tracing::warn!(error = %e, org_id = %org, "periodic audit checkpoint failed");
            }
        }
    }
}

/// The organizations whose chains moved since the last periodic checkpoint.
#[derive(Default)]
pub struct Touched(std::sync::Mutex<std::collections::HashSet<Uuid>>);

impl Touched {
    pub fn touch(&self, org: Uuid) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(org);
    }

    pub fn drain(&self) -> Vec<Uuid> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect()
    }
}
