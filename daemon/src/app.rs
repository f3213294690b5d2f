//! Building and running the daemon: `Application::build`, `port`,
//! `run_until_stopped` (the shape tests drive on a port-0 listener).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
pub use crate::state::{create_private_dir, AppState};

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Opens everything and binds the listener (port 0 picks a free port).
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        let listen = config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        if config.public_url.is_none() {
            let addr = listener.local_addr()?;
            config.public_url = Some(format!("http://{addr}"));
        }
        let state = AppState::open(config).await?;
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
        let checkpointer = tokio::spawn(crate::audit::signer::periodic(self.state.auditor.clone()));
        let retention = tokio::spawn(crate::audit::retention::periodic(
            self.state.audit_trail.clone(),
        ));
        let aggregator = tokio::spawn(crate::audit::aggregate::periodic(
            self.state.auditor.clone(),
        ));
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
        final_state.auditor.flush(true).await;
        result
    }
}

/// Re-reads the signing keys now and then, so a key rotated by
/// `lokid admin rotate-signing-key` (or another daemon) signs new tokens here too;
/// the same for the audit key (`lokid admin rotate-audit-key`).
async fn refresh_signing_keys(state: AppState) {
    let every = Duration::from_secs(state.config.signing_key_refresh_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = state.tokens.keys.reload().await {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
        if let Err(e) = state.auditor.keys.reload().await {
            tracing::warn!(error = %e, "reloading the audit key failed");
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
