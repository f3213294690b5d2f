//! Organizations, written once for both backends: each backend supplies
//! its transactions (`scope` for writes in an organization, `read_scope`
//! for reads as an organization or a user — on PostgreSQL these set the
//! row-level-security context) and how it reads and writes the JSON
//! settings column.

use async_trait::async_trait;
use chrono::Utc;
use loki_shared::api::{MyOrganization, Organization};
use loki_shared::Tier;
use uuid::Uuid;

use super::audit_store::{AuditBatch, AuditSql};
use super::models::{my_orgs, NewOrg, OrgPatch, OrgRow};
use super::tenant_sql::Tenant;
use super::{
    expect_row, map_err, settings_to_json, unique_conflict, Backend, Store, StoreError, StoreResult,
};

macro_rules! org_store {
    ($store:ty, $db:ty, $backend:expr, columns = $columns:expr, settings = $settings:expr) => {
        impl $store {
            async fn fetch_org(
                conn: &mut <$db as sqlx::Database>::Connection,
                org: Uuid,
            ) -> StoreResult<Organization> {
                let row: Option<OrgRow> = sqlx::query_as::<$db, OrgRow>(&format!(
                    "SELECT {} FROM organizations o WHERE o.id = $1",
                    $columns
                ))
                .bind(org)
                .fetch_optional(&mut *conn)
                .await
                .map_err(map_err)?;
                row.ok_or(StoreError::NotFound("organization"))?.try_into()
            }

            /// One UPDATE of a live organization, then the organization as
            /// it is now, committed with the change's audit events.
            async fn change_org<'q>(
                &self,
                org: Uuid,
                query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                audit: &mut AuditBatch,
            ) -> StoreResult<Organization> {
                let mut tx = self.scope(org).await?;
                let done = query.execute(&mut *tx).await.map_err(unique_conflict)?;
                expect_row(done.rows_affected(), "organization")?;
                let updated = Self::fetch_org(&mut tx, org).await?;
                AuditSql::<$db>::commit(tx, org, audit).await?;
                Ok(updated)
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn create_org(
                &self,
                org: NewOrg,
                creator: Uuid,
                audit: &mut AuditBatch,
            ) -> StoreResult<Organization> {
                let id = org.id;
                let settings = settings_to_json(&Default::default())?;
                let mut tx = self.scope(id).await?;
                Tenant::<$db>::insert_org(&mut tx, org, creator, settings, $settings).await?;
                let created = Self::fetch_org(&mut tx, id).await?;
                AuditSql::<$db>::commit(tx, id, audit).await?;
                Ok(created)
            }

            async fn org_by_id(&self, org: Uuid) -> StoreResult<Option<Organization>> {
                let mut tx = self.read_scope(Some(org), None).await?;
                let found = match Self::fetch_org(&mut tx, org).await {
                    Ok(o) => Some(o),
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                tx.commit().await.map_err(map_err)?;
                Ok(found)
            }

            async fn org_id_by_slug(&self, slug: &str) -> StoreResult<Option<Uuid>> {
                let row: Option<(Option<Uuid>,)> = sqlx::query_as::<$db, (Option<Uuid>,)>(self.org_id_by_slug_sql())
                    .bind(slug.to_owned())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(row.and_then(|r| r.0))
            }

            async fn orgs_of_user(&self, user: Uuid) -> StoreResult<Vec<MyOrganization>> {
                let mut tx = self.read_scope(None, Some(user)).await?;
                let rows: Vec<OrgRow> = sqlx::query_as::<$db, OrgRow>(&format!(
                    "SELECT {} FROM organizations o \
                     JOIN memberships m ON m.org_id = o.id \
                     WHERE m.user_id = $1 AND o.status <> 'deleted' ORDER BY o.created_at, o.id",
                    $columns
                ))
                .bind(user)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                let roles = Tenant::<$db>::roles_of_user(&mut tx, user).await?;
                tx.commit().await.map_err(map_err)?;
                my_orgs(rows, &roles)
            }

            async fn update_org(
                &self,
                org: Uuid,
                patch: OrgPatch,
                audit: &mut AuditBatch,
            ) -> StoreResult<Organization> {
                let settings = patch.settings.as_ref().map(settings_to_json).transpose()?;
                let sql = format!(
                    "UPDATE organizations SET name = COALESCE($2, name), slug = COALESCE($3, slug), \
                     settings = COALESCE({}, settings), updated_at = $5 \
                     WHERE id = $1 AND status <> 'deleted'",
                    $settings
                );
                let q = sqlx::query::<$db>(&sql)
                    .bind(org)
                    .bind(patch.name)
                    .bind(patch.slug)
                    .bind(settings)
                    .bind(Utc::now());
                self.change_org(org, q, audit).await
            }

            async fn set_org_tier(
                &self,
                org: Uuid,
                tier: Tier,
                audit: &mut AuditBatch,
            ) -> StoreResult<Organization> {
                let q = sqlx::query::<$db>(
                    "UPDATE organizations SET tier = $2, updated_at = $3 WHERE id = $1 AND status <> 'deleted'",
                )
                .bind(org)
                .bind(tier.as_str())
                .bind(Utc::now());
                self.change_org(org, q, audit).await
            }

            async fn soft_delete_org(
                &self,
                org: Uuid,
                audit: &mut AuditBatch,
            ) -> StoreResult<Organization> {
                let q = sqlx::query::<$db>(
                    "UPDATE organizations SET status = 'deleted', deleted_at = $2, updated_at = $2 \
                     WHERE id = $1 AND status <> 'deleted'",
                )
                .bind(org)
                .bind(Utc::now());
                self.change_org(org, q, audit).await
            }

            async fn hard_delete_org(&self, org: Uuid, audit: &mut AuditBatch) -> StoreResult<()> {
                let mut tx = self.scope(org).await?;
                let done = sqlx::query::<$db>("DELETE FROM organizations WHERE id = $1")
                    .bind(org)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                expect_row(done.rows_affected(), "organization")?;
                // The organization's own chain goes with it: its purge is
                // recorded on the system chain (the batch's event names it).
                AuditSql::<$db>::commit(tx, org, audit).await
            }
        }
    };
}

org_store!(
    super::sqlite::SqliteStore,
    sqlx::Sqlite,
    Backend::Sqlite,
    columns = super::models::ORG_COLUMNS,
    settings = "$4"
);
org_store!(
    super::postgres::PgStore,
    sqlx::Postgres,
    Backend::Postgres,
    columns = super::postgres::PG_ORG_COLUMNS,
    settings = "$4::jsonb"
);

impl super::sqlite::SqliteStore {
    fn org_id_by_slug_sql(&self) -> &'static str {
        "SELECT id FROM organizations WHERE slug = $1 AND status <> 'deleted'"
    }
}

impl super::postgres::PgStore {
    /// Through the owner's function: row-level security hides other
    /// tenants' rows from the daemon's role.
    fn org_id_by_slug_sql(&self) -> &'static str {
        "SELECT loki_org_id_by_slug($1)"
    }
}
