//! The audit signing key (Ed25519, stored sealed with the master key,
//! shared by every daemon through the database), and the chains that moved
//! since the last periodic checkpoint. Held by the `Auditor`.

use std::sync::Arc;

use chrono::Utc;
use ed25519_dalek::SigningKey;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::auth::keys::MasterKey;
use crate::error::AppError;
use crate::store::{DynStore, SigningKeyRecord};

/// The current audit key (loaded once; created on first use).
pub struct AuditKeys {
    store: DynStore,
    master: Arc<MasterKey>,
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
    pub fn new(store: DynStore, master: Arc<MasterKey>) -> Self {
        Self {
            store,
            master,
            current: OnceCell::new(),
        }
    }

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

    pub async fn current(&self) -> Result<&(String, SigningKey), AppError> {
        self.current
            .get_or_try_init(|| Self::load(&self.store, &self.master))
            .await
            .map_err(AppError::Internal)
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
