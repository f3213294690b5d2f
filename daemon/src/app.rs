//! Building and running the daemon: `Application::build`, `port`,
//! `run_until_stopped` (the shape tests drive on a port-0 listener).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::keys::{MasterKey, TokenKeys};
use crate::auth::password::PasswordHasherPool;
use crate::auth::tokens::TokenIssuer;
use crate::config::{redact_url, Config};
use crate::kv::{self, DynKv};
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
    pub authz: Arc<crate::rbac::Authorizer>,
    /// The key that signs audit checkpoints.
    pub audit_keys: Arc<crate::audit::signer::AuditKeys>,
    /// Chains that moved since the last periodic checkpoint.
    pub audit_touched: Arc<crate::audit::signer::Touched>,
    /// Floods of identical denials and failures, folded per window.
    pub audit_aggregator: Arc<crate::audit::aggregate::Aggregator>,
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
        Ok(Self {
            config: Arc::new(config),
            store,
            kv,
            tokens: Arc::new(tokens),
            passwords,
            master,
            authz: Arc::new(crate::rbac::Authorizer::default()),
            audit_keys: Arc::default(),
            audit_touched: Arc::default(),
            audit_aggregator: Arc::default(),
        })
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Opens everything and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listen = config.listen;
        let state = AppState::open(config).await?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish
    /// (up to `shutdown_grace_secs`).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        let refresher = tokio::spawn(refresh_signing_keys(self.state.clone()));
        let checkpointer = tokio::spawn(crate::audit::signer::periodic(self.state.clone()));
        let retention = tokio::spawn(crate::audit::retention::periodic(self.state.clone()));
        let aggregator = tokio::spawn(crate::audit::aggregate::periodic(self.state.clone()));
        let final_state = self.state.clone();
        let router = crate::http::router(self.state);
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let serve = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(());
        });
        let serve = async move { serve.await.context("server error") };
        tokio::pin!(serve);
        let _stop_refresher = AbortOnDrop(refresher);
        let _stop_checkpointer = AbortOnDrop(checkpointer);
        let _stop_retention = AbortOnDrop(retention);
        let _stop_aggregator = AbortOnDrop(aggregator);
        let result = tokio::select! {
            res = &mut serve => res,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("in-flight requests did not finish within the grace period");
                Ok(())
            }
        };
        // Folded repeats still waiting for their window are written now.
        crate::audit::aggregate::flush(&final_state, true).await;
        result
    }
}

/// Re-reads the signing keys now and then, so a key rotated by
/// `lokid admin rotate-signing-key` (or another daemon) signs new tokens here too.
async fn refresh_signing_keys(state: AppState) {
    let every = Duration::from_secs(state.config.signing_key_refresh_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = state.tokens.keys.reload().await {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
