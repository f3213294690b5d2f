//! The daemon's shared state: storage, kv, keys and caches, opened from the
//! configuration. No router and no HTTP here: the domain depends on this
//! module, the composition root (`app.rs`) on both, and what is held here
//! depends on neither (`daemon/tests/layers.rs` checks there is no cycle).

use std::sync::Arc;

use anyhow::Context;

use crate::audit::fold::Aggregator;
use crate::audit::keys::{AuditKeys, Touched};
use crate::auth::keys::{MasterKey, TokenKeys};
use crate::auth::password::PasswordHasherPool;
use crate::auth::tokens::TokenIssuer;
use crate::config::{redact_url, Config};
use crate::kv::{self, DynKv};
use crate::rbac::cache::Authorizer;
use crate::store::{self, DynStore};

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: DynStore,
    pub kv: DynKv,
    pub tokens: Arc<TokenIssuer>,
    pub passwords: PasswordHasherPool,
    /// Seals secrets at rest (signing keys, TOTP secrets).
    pub master: Arc<MasterKey>,
    /// Per-organization role and grant snapshots.
    pub authz: Arc<Authorizer>,
    /// The key that signs audit checkpoints.
    pub audit_keys: Arc<AuditKeys>,
    /// Chains that moved since the last periodic checkpoint.
    pub audit_touched: Arc<Touched>,
    /// Floods of identical denials and failures, folded per window.
    pub audit_aggregator: Arc<Aggregator>,
}

/// Creates the data dir owner-only (0700), whatever the umask. A dir that
/// exists keeps the mode its operator gave it.
pub fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make data dir {} private", dir.display()))?;
    }
    Ok(())
}

impl AppState {
    /// Opens storage, kv and keys as configured (creating the data dir and,
    /// for the embedded default, the master key).
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        create_private_dir(&config.data_dir)?;
        let url = config.database_url();
        let store = store::connect(&url, config.database_max_connections)
            .await
            .with_context(|| format!("cannot open database {}", redact_url(&url)))?;
        let kv = kv::connect(config.redis_url.as_deref(), &config.redis_key_prefix)
            .await
            .context("cannot open the kv store")?;
        let master = Arc::new(MasterKey::load_or_create(
            &config.master_key_path(),
            config.master_key_file.is_none(),
        )?);
        let keys =
            TokenKeys::load(store.clone(), master.clone(), config.access_token_ttl_secs).await?;
        let tokens = TokenIssuer {
            keys,
            issuer: config.token_issuer.clone(),
            audience: config.token_audience.clone(),
            ttl_secs: config.access_token_ttl_secs,
        };
        let passwords = PasswordHasherPool::new(config.password_hash_concurrency)?;
        tracing::info!(backend = ?store.backend(), kv = kv.kind(), "storage ready");
        let authz = Arc::new(Authorizer::new(store.clone(), kv.clone()));
        let audit_keys = Arc::new(AuditKeys::new(store.clone(), master.clone()));
        Ok(Self {
            config: Arc::new(config),
            store,
            kv,
            tokens: Arc::new(tokens),
            passwords,
            master,
            authz,
            audit_keys,
            audit_touched: Arc::default(),
            audit_aggregator: Arc::default(),
        })
    }
}
