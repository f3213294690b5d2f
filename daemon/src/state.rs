//! The daemon's shared state: storage, kv, keys and caches, opened from the
//! configuration. No router and no HTTP here: the domain depends on this
//! module, the composition root (`app.rs`) on both, and what is held here
//! depends on neither (`daemon/tests/layers.rs` checks there is no cycle).

use std::sync::Arc;

use anyhow::Context;

use crate::audit::keys::AuditKeys;
use crate::audit::{AuditTrail, Auditor};
use crate::auth::account::Accounts;
use crate::auth::api_keys::ApiKeys;
use crate::auth::keys::{MasterKey, TokenKeys};
use crate::auth::mfa::Mfa;
use crate::auth::password::PasswordHasherPool;
use crate::auth::renewal::Renewal;
use crate::auth::service::Identity;
use crate::auth::throttle::Throttle;
use crate::auth::tokens::TokenIssuer;
use crate::auth::Authenticator;
use crate::config::{redact_url, Config};
use crate::documents::Documents;
use crate::kv::versions::VersionedCache;
use crate::kv::{self, DynKv};
use crate::rbac::access::Admission;
use crate::rbac::cache::Authorizer;
use crate::rbac::grants::Grants;
use crate::rbac::member_roles::Members;
use crate::rbac::roles::Roles;
use crate::store::group_commit::AuditAppender;
use crate::store::{self, DynStore};
use crate::tenancy::invitations::Invitations;
use crate::tenancy::Tenancy;

/// Everything a handler may use: the [`Services`] behind one `Arc`, so the
/// clone axum makes for every extractor and middleware is one counter bump.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// Storage, kv, keys and the domain services, built once.
pub struct Services {
    pub config: Arc<Config>,
    pub store: DynStore,
    pub kv: DynKv,
    pub tokens: Arc<TokenIssuer>,
    pub passwords: PasswordHasherPool,
    /// Seals secrets at rest (signing keys, TOTP secrets).
    pub master: Arc<MasterKey>,
    /// Per-organization role and grant snapshots.
    pub authz: Arc<Authorizer>,
    // The domain services, each holding only what it needs (built once here).
    pub auditor: Auditor,
    pub audit_trail: AuditTrail,
    pub admission: Admission,
    pub roles: Roles,
    pub members: Members,
    pub grants: Grants,
    pub idps: crate::sso::IdentityProviders,
    pub signon: crate::sso::signon::SignOn,
    pub documents: Documents,
    pub tenancy: Tenancy,
    pub invitations: Invitations,
    pub throttle: Throttle,
    pub mfa: Mfa,
    pub api_keys: ApiKeys,
    pub identity: Identity,
    pub renewal: Renewal,
    pub accounts: Accounts,
    pub authenticator: Authenticator,
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
            verified: Default::default(),
        };
        let passwords =
            PasswordHasherPool::new(config.password_hash_concurrency, config.password_hash_queue)?;
        tracing::info!(backend = ?store.backend(), kv = kv.kind(), "storage ready");
        let authz = Arc::new(Authorizer::new(store.clone(), kv.clone()));
        let config = Arc::new(config);
        let tokens = Arc::new(tokens);
        let http = crate::sso::oidc::http_client()?;
        Ok(Self::assemble(
            config, store, kv, tokens, passwords, master, authz, http,
        ))
    }
}

impl AppState {
    /// Wires the services: each gets the parts it uses and the services it
    /// calls, in dependency order (a cycle would not compile).
    // Every part is handed over once, here; a struct of them would only
    // repeat this list.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        config: Arc<Config>,
        store: DynStore,
        kv: DynKv,
        tokens: Arc<TokenIssuer>,
        passwords: PasswordHasherPool,
        master: Arc<MasterKey>,
        authz: Arc<Authorizer>,
        http: crate::sso::oidc::ProviderHttp,
    ) -> Self {
        let auditor = Auditor {
            store: store.clone(),
            kv: kv.clone(),
            appender: AuditAppender::start(store.clone()),
            config: config.clone(),
            keys: Arc::new(AuditKeys::new(store.clone(), master.clone())),
            touched: Arc::default(),
            aggregator: Arc::default(),
        };
        let throttle = Throttle {
            store: store.clone(),
            kv: kv.clone(),
            config: config.clone(),
        };
        let audit_trail = AuditTrail {
            store: store.clone(),
            auditor: auditor.clone(),
            throttle: throttle.clone(),
        };
        let admission = Admission {
            authz: authz.clone(),
            auditor: auditor.clone(),
        };
        let roles = Roles {
            store: store.clone(),
            authz: authz.clone(),
            auditor: auditor.clone(),
        };
        let members = Members {
            store: store.clone(),
            auditor: auditor.clone(),
        };
        let grants = Grants {
            store: store.clone(),
            auditor: auditor.clone(),
        };
        let idps = crate::sso::IdentityProviders {
            store: store.clone(),
            kv: kv.clone(),
            auditor: auditor.clone(),
            master: master.clone(),
        };
        let documents = Documents {
            store: store.clone(),
            config: config.clone(),
            auditor: auditor.clone(),
        };
        let mfa = Mfa {
            store: store.clone(),
            kv: kv.clone(),
            config: config.clone(),
            master: master.clone(),
        };
        let api_keys = ApiKeys {
            store: store.clone(),
            config: config.clone(),
            master: master.clone(),
            auditor: auditor.clone(),
        };
        let tenancy = Tenancy {
            store: store.clone(),
            auditor: auditor.clone(),
            api_keys: api_keys.clone(),
            members: members.clone(),
            roles: roles.clone(),
        };
        let invitations = Invitations {
            store: store.clone(),
            authz: authz.clone(),
            config: config.clone(),
            passwords: passwords.clone(),
            auditor: auditor.clone(),
        };
        let identity = Identity {
            store: store.clone(),
            kv: kv.clone(),
            config: config.clone(),
            passwords: passwords.clone(),
            tokens: tokens.clone(),
            auditor: auditor.clone(),
            mfa: mfa.clone(),
            throttle: throttle.clone(),
        };
        let renewal = Renewal {
            store: store.clone(),
            kv: kv.clone(),
            auditor: auditor.clone(),
            identity: identity.clone(),
        };
        let accounts = Accounts {
            store: store.clone(),
            kv: kv.clone(),
            passwords: passwords.clone(),
            auditor: auditor.clone(),
            mfa: mfa.clone(),
            renewal: renewal.clone(),
            identity: identity.clone(),
            throttle: throttle.clone(),
        };
        let signon = crate::sso::signon::SignOn {
            idps: idps.clone(),
            identity: identity.clone(),
            store: store.clone(),
            kv: kv.clone(),
            config: config.clone(),
            auditor: auditor.clone(),
            http,
        };
        let authenticator = Authenticator {
            store: store.clone(),
            kv: kv.clone(),
            tokens: tokens.clone(),
            auditor: auditor.clone(),
            users: Arc::new(VersionedCache::new(crate::auth::USERS_MAX)),
        };
        Self(Arc::new(Services {
            config,
            store,
            kv,
            tokens,
            passwords,
            master,
            authz,
            auditor,
            audit_trail,
            admission,
            roles,
            members,
            grants,
            idps,
            signon,
            documents,
            tenancy,
            invitations,
            throttle,
            mfa,
            api_keys,
            identity,
            renewal,
            accounts,
            authenticator,
        }))
    }
}
