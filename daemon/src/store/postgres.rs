//! PostgreSQL backend, for deployments where several daemons share tenants.
//!
//! Migrations run as the connecting role (which owns the tables). Every pooled
//! connection then switches to `loki_app` — a role that owns nothing and is
//! not a superuser — so the row-level security policies bind the daemon even
//! when it connects as a superuser (as the test database here does). Tenant
//! work runs in transactions that first set `app.org_id` / `app.user_id`
//! transaction-locally: never session-level, because connections are pooled.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::hygiene;
use super::{map_sqlx, StoreError, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The role the daemon works as (created by the first migration).
pub const APP_ROLE: &str = "loki_app";

pub(crate) const PG_ORG_COLUMNS: &str =
    "o.id, o.slug, o.name, o.tier, o.status, o.settings::text AS settings, o.storage_used_bytes, \
     o.created_at, o.updated_at, o.deleted_at";

pub struct PgStore {
    pub(crate) pool: PgPool,
}

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        Self::migrate_only(url).await?;
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            // No connection goes back into service inside a transaction.
            .after_release(|conn, _| Box::pin(hygiene::postgres_is_clean(conn)))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(format!("SET ROLE {APP_ROLE}").as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open PostgreSQL as role {APP_ROLE} (the connecting role must be a member of it): {e}"
                )
            })?;
        Ok(Self { pool })
    }

    pub async fn migrate_only(url: &str) -> anyhow::Result<()> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(PgConnectOptions::from_str(url)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        pool.close().await;
        Ok(())
    }

    /// Begins a transaction scoped to a tenant (and/or a user) for RLS.
    /// Public so the isolation tests can run unfiltered queries inside it.
    pub async fn begin_scoped(
        &self,
        org: Option<Uuid>,
        user: Option<Uuid>,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = hygiene::begin(&self.pool, None).await.map_err(err)?;
        sqlx::query(
            "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
        )
        .bind(org.map(|o| o.to_string()).unwrap_or_default())
        .bind(user.map(|u| u.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        Ok(tx)
    }

    async fn in_org(&self, org: Uuid) -> StoreResult<Transaction<'static, Postgres>> {
        self.begin_scoped(Some(org), None).await
    }

    /// A transaction in which RLS shows the keys of `org`, or the one key
    /// whose public id is `key_id` (for authentication).
    pub(crate) async fn api_keys_scope(
        &self,
        org: Option<Uuid>,
        key_id: Option<&str>,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.begin_scoped(org, None).await?;
        if let Some(k) = key_id {
            sqlx::query("SELECT set_config('app.api_key_id', $1, true)")
                .bind(k)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        Ok(tx)
    }

    /// A transaction in which RLS shows the invitations addressed to
    /// `email`, or the one invitation `invitation` (and its organization).
    pub(crate) async fn invitee_scope(
        &self,
        email: Option<&str>,
        invitation: Option<Uuid>,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.begin_scoped(None, None).await?;
        sqlx::query(
            "SELECT set_config('app.email', $1, true), set_config('app.invitation_id', $2, true)",
        )
        .bind(email.unwrap_or_default())
        .bind(invitation.map(|i| i.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        Ok(tx)
    }

    /// The transaction tenant work runs in, with `app.org_id` set.
    pub(crate) async fn scope(&self, org: Uuid) -> StoreResult<Transaction<'static, Postgres>> {
        self.in_org(org).await
    }

    /// A transaction for reading as an organization and/or a user.
    pub(crate) async fn read_scope(
        &self,
        org: Option<Uuid>,
        user: Option<Uuid>,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        self.begin_scoped(org, user).await
    }
}
