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

use async_trait::async_trait;
use loki_shared::api::{MyOrganization, Organization};
use loki_shared::Tier;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::audit_store::{AuditBatch, AuditSql};
use super::hygiene;
use super::models::*;
use super::tenant_sql::Tenant;
use super::{
    expect_row, map_sqlx, settings_to_json, unique_conflict, Backend, Store, StoreError,
    StoreResult,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The role the daemon works as (created by the first migration).
pub const APP_ROLE: &str = "loki_app";

const PG_ORG_COLUMNS: &str =
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

    async fn fetch_org(
        tx: &mut Transaction<'static, Postgres>,
        org: Uuid,
    ) -> StoreResult<Option<Organization>> {
        let row: Option<OrgRow> = sqlx::query_as(&format!(
            "SELECT {PG_ORG_COLUMNS} FROM organizations o WHERE o.id = $1"
        ))
        .bind(org)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?;
        row.map(Organization::try_from).transpose()
    }

    /// Runs an org-scoped UPDATE and returns the organization after it.
    async fn update_org_with(
        &self,
        org: Uuid,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let mut tx = self.in_org(org).await?;
        let done = query.execute(&mut *tx).await.map_err(unique_conflict)?;
        expect_row(done.rows_affected(), "organization")?;
        let updated = Self::fetch_org(&mut tx, org)
            .await?
            .ok_or(StoreError::NotFound("organization"))?;
        AuditSql::<Postgres>::commit(tx, org, audit).await?;
        Ok(updated)
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

    /// Moves the transaction into `org`'s scope (the nil id: the system
    /// chain), e.g. to write an account event next to a tenant change.
    pub(crate) async fn rescope(
        tx: &mut Transaction<'static, Postgres>,
        org: Uuid,
    ) -> StoreResult<()> {
        sqlx::query("SELECT set_config('app.org_id', $1, true)")
            .bind(org.to_string())
            .execute(&mut **tx)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// The transaction tenant work runs in, with `app.org_id` set.
    pub(crate) async fn scope(&self, org: Uuid) -> StoreResult<Transaction<'static, Postgres>> {
        self.in_org(org).await
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn create_org(
        &self,
        org: NewOrg,
        creator: Uuid,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let id = org.id;
        let settings = settings_to_json(&Default::default())?;
        let mut tx = self.in_org(id).await?;
        Tenant::<Postgres>::insert_org(&mut tx, org, creator, settings, "$4::jsonb").await?;
        let created = Self::fetch_org(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound("organization"))?;
        AuditSql::<Postgres>::commit(tx, id, audit).await?;
        Ok(created)
    }

    async fn org_by_id(&self, org: Uuid) -> StoreResult<Option<Organization>> {
        let mut tx = self.in_org(org).await?;
        let found = Self::fetch_org(&mut tx, org).await?;
        tx.commit().await.map_err(err)?;
        Ok(found)
    }

    async fn orgs_of_user(&self, user: Uuid) -> StoreResult<Vec<MyOrganization>> {
        let mut tx = self.begin_scoped(None, Some(user)).await?;
        let rows: Vec<OrgRow> = sqlx::query_as(&format!(
            "SELECT {PG_ORG_COLUMNS} FROM organizations o \
             JOIN memberships m ON m.org_id = o.id \
             WHERE m.user_id = $1 AND o.status <> 'deleted' ORDER BY o.created_at, o.id"
        ))
        .bind(user)
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
        let roles = Tenant::<Postgres>::roles_of_user(&mut tx, user).await?;
        tx.commit().await.map_err(err)?;
        my_orgs(rows, &roles)
    }

    async fn update_org(
        &self,
        org: Uuid,
        patch: OrgPatch,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let settings = patch.settings.as_ref().map(settings_to_json).transpose()?;
        let q = sqlx::query(
            "UPDATE organizations SET name = COALESCE($2, name), slug = COALESCE($3, slug), \
             settings = COALESCE($4::jsonb, settings), updated_at = now() \
             WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(patch.name)
        .bind(patch.slug)
        .bind(settings);
        self.update_org_with(org, q, audit).await
    }

    async fn set_org_tier(
        &self,
        org: Uuid,
        tier: Tier,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let q = sqlx::query(
            "UPDATE organizations SET tier = $2, updated_at = now() WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(tier.as_str());
        self.update_org_with(org, q, audit).await
    }

    async fn soft_delete_org(
        &self,
        org: Uuid,
        audit: &mut AuditBatch,
    ) -> StoreResult<Organization> {
        let q = sqlx::query(
            "UPDATE organizations SET status = 'deleted', deleted_at = now(), updated_at = now() \
             WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org);
        self.update_org_with(org, q, audit).await
    }

    async fn hard_delete_org(&self, org: Uuid, audit: &mut AuditBatch) -> StoreResult<()> {
        let mut tx = self.in_org(org).await?;
        let done = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        // The organization's own chain goes with it: its purge is recorded
        // on the system chain.
        Self::rescope(&mut tx, Uuid::nil()).await?;
        AuditSql::<Postgres>::commit(tx, Uuid::nil(), audit).await?;
        Ok(())
    }
}
