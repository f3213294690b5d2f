//! The audit signing key (Ed25519, stored sealed with the master key,
//! shared by every daemon through the database), and the chains that moved
//! since the last periodic checkpoint. Held by the `Auditor`.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use uuid::Uuid;

use crate::auth::keys::MasterKey;
use crate::error::AppError;
use crate::store::{AuditKeyRecord, DynStore};

/// The current audit key: the newest, loaded on first use (created when
/// there is none) and re-read by [`AuditKeys::reload`], so a key rotated
/// elsewhere signs here too.
pub struct AuditKeys {
    store: DynStore,
    master: Arc<MasterKey>,
    current: RwLock<Option<Arc<(String, SigningKey)>>>,
}

impl std::fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKeys([redacted])")
    }
}

fn context(kid: &str) -> Vec<u8> {
    format!("audit:{kid}").into_bytes()
}

fn new_kid() -> String {
    format!("audit-{}", Uuid::now_v7().simple())
}

impl AuditKeys {
    pub fn new(store: DynStore, master: Arc<MasterKey>) -> Self {
        Self {
            store,
            master,
            current: RwLock::new(None),
        }
    }

    /// A new key's row: the private half sealed with the master key.
    fn record(
        &self,
        key: &SigningKey,
        kid: String,
        introduced: Option<(String, String)>,
    ) -> anyhow::Result<AuditKeyRecord> {
        let (predecessor, introduction) = introduced.unzip();
        Ok(AuditKeyRecord {
            public_key: key.verifying_key().as_bytes().to_vec(),
            private_key_enc: self.master.seal(key.as_bytes(), &context(&kid))?,
            kid,
            created_at: Utc::now(),
            predecessor,
            introduction,
        })
    }

    fn open(&self, r: &AuditKeyRecord) -> anyhow::Result<(String, SigningKey)> {
        let seed = self.master.open(&r.private_key_enc, &context(&r.kid))?;
        let seed: [u8; 32] = seed.as_slice().try_into()?;
        Ok((r.kid.clone(), SigningKey::from_bytes(&seed)))
    }

    async fn load(&self) -> anyhow::Result<Arc<(String, SigningKey)>> {
        let mut keys = self.store.audit_keys().await?;
        if keys.is_empty() {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let record = self.record(&key, new_kid(), None)?;
            self.store.insert_audit_key(record).await?;
            // Another daemon may have raced us: every daemon takes the same last one.
            keys = self.store.audit_keys().await?;
        }
        let r = keys.last().ok_or_else(|| anyhow::anyhow!("no audit key"))?;
        let loaded = Arc::new(self.open(r)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }

    pub async fn current(&self) -> Result<Arc<(String, SigningKey)>, AppError> {
        let cached = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match cached {
            Some(k) => Ok(k),
            None => self.load().await.map_err(AppError::Internal),
        }
    }

    /// Re-reads the newest key (a rotation by another process).
    pub async fn reload(&self) -> anyhow::Result<()> {
        self.load().await.map(|_| ())
    }

    /// Creates a successor of the current key, introduced by a signature of
    /// the current key, and makes it current. Returns (old, new) key ids.
    pub async fn rotate(&self) -> anyhow::Result<(String, String)> {
        let old = self.load().await?;
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let kid = new_kid();
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let intro = loki_shared::audit::trust::introduce(&old.0, &old.1, &kid, &public)?;
        let record = self.record(&key, kid.clone(), Some((old.0.clone(), intro.signature)))?;
        self.store.insert_audit_key(record).await?;
        self.load().await?;
        Ok((old.0.clone(), kid))
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
