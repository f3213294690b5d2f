//! SQLite backend: the embedded default (one file, WAL mode).
//!
//! SQLite has no row-level security; tenant isolation rests on every query
//! filtering by `org_id`, which the contract tests check.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use loki_shared::api::{Member, MyOrganization, Organization, User};
use loki_shared::Tier;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use uuid::Uuid;

use super::common::Common;
use super::models::*;
use super::{
    expect_row, map_sqlx, settings_to_json, unique_conflict, Backend, Store, StoreError,
    StoreResult,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

fn options(url: &str) -> anyhow::Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10)))
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options(url)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn migrate_only(url: &str) -> anyhow::Result<()> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(url)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        pool.close().await;
        Ok(())
    }

    async fn org_row(&self, org: Uuid) -> StoreResult<Organization> {
        self.org_by_id(org)
            .await?
            .ok_or(StoreError::NotFound("organization"))
    }
}

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        Common(&self.pool).ping().await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        Common(&self.pool).insert_user(user, false).await
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        Common(&self.pool).user_where("id", id).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Common(&self.pool)
            .user_where("email", email.to_owned())
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        Common(&self.pool).credentials_by_email(email).await
    }

    async fn upsert_super_admin(&self, user: NewUser) -> StoreResult<User> {
        Common(&self.pool).insert_user(user, true).await
    }

    async fn create_org(&self, org: NewOrg, creator: Uuid) -> StoreResult<Organization> {
        let id = org.id;
        let settings = settings_to_json(&Default::default())?;
        let mut tx = self.pool.begin().await.map_err(err)?;
        Common::<Sqlite>::insert_org_with_admin(&mut tx, org, creator, settings, "$4").await?;
        tx.commit().await.map_err(err)?;
        self.org_row(id).await
    }

    async fn org_by_id(&self, org: Uuid) -> StoreResult<Option<Organization>> {
        let row: Option<OrgRow> = sqlx::query_as(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1"
        ))
        .bind(org)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        row.map(Organization::try_from).transpose()
    }

    async fn orgs_of_user(&self, user: Uuid) -> StoreResult<Vec<MyOrganization>> {
        let rows: Vec<MyOrgRow> = sqlx::query_as(&format!(
            "SELECT {ORG_COLUMNS}, m.role FROM organizations o \
             JOIN memberships m ON m.org_id = o.id \
             WHERE m.user_id = $1 AND o.status <> 'deleted' ORDER BY o.created_at, o.id"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|r| {
                Ok(MyOrganization {
                    organization: r.org.try_into()?,
                    role: r.role,
                })
            })
            .collect()
    }

    async fn update_org(&self, org: Uuid, patch: OrgPatch) -> StoreResult<Organization> {
        let settings = patch.settings.as_ref().map(settings_to_json).transpose()?;
        let done = sqlx::query(
            "UPDATE organizations SET name = COALESCE($2, name), slug = COALESCE($3, slug), \
             settings = COALESCE($4, settings), updated_at = $5 \
             WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(&patch.name)
        .bind(&patch.slug)
        .bind(settings)
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(unique_conflict)?;
        expect_row(done.rows_affected(), "organization")?;
        self.org_row(org).await
    }

    async fn set_org_tier(&self, org: Uuid, tier: Tier) -> StoreResult<Organization> {
        let done = sqlx::query(
            "UPDATE organizations SET tier = $2, updated_at = $3 WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(tier.as_str())
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        self.org_row(org).await
    }

    async fn soft_delete_org(&self, org: Uuid) -> StoreResult<Organization> {
        let now = Utc::now();
        let done = sqlx::query(
            "UPDATE organizations SET status = 'deleted', deleted_at = $2, updated_at = $2 \
             WHERE id = $1 AND status <> 'deleted'",
        )
        .bind(org)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        self.org_row(org).await
    }

    async fn hard_delete_org(&self, org: Uuid) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        expect_row(done.rows_affected(), "organization")?;
        Ok(())
    }

    async fn add_member(
        &self,
        org: Uuid,
        user: Uuid,
        role: &str,
        max_members: Option<u32>,
    ) -> StoreResult<Member> {
        // One statement: SQLite runs it atomically, so two concurrent adds
        // cannot both pass the count check.
        let done = sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $4 \
             WHERE $5 IS NULL OR (SELECT COUNT(*) FROM memberships WHERE org_id = $1) < $5",
        )
        .bind(org)
        .bind(user)
        .bind(role)
        .bind(Utc::now())
        .bind(max_members.map(i64::from))
        .execute(&self.pool)
        .await
        .map_err(unique_conflict)?;
        if done.rows_affected() == 0 {
            return Err(super::member_limit_error(max_members));
        }
        self.member(org, user)
            .await?
            .ok_or(StoreError::NotFound("member"))
    }

    async fn member(&self, org: Uuid, user: Uuid) -> StoreResult<Option<Member>> {
        let mut conn = self.pool.acquire().await.map_err(err)?;
        Common::<Sqlite>::fetch_member(&mut conn, org, user).await
    }

    async fn list_members(&self, org: Uuid) -> StoreResult<Vec<Member>> {
        let mut conn = self.pool.acquire().await.map_err(err)?;
        Common::<Sqlite>::fetch_members(&mut conn, org).await
    }

    async fn set_member_role(&self, org: Uuid, user: Uuid, role: &str) -> StoreResult<Member> {
        let done = sqlx::query(
            "UPDATE memberships SET role = $3, updated_at = $4 WHERE org_id = $1 AND user_id = $2",
        )
        .bind(org)
        .bind(user)
        .bind(role)
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(err)?;
        expect_row(done.rows_affected(), "member")?;
        self.member(org, user)
            .await?
            .ok_or(StoreError::NotFound("member"))
    }

    async fn remove_member(&self, org: Uuid, user: Uuid) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        expect_row(done.rows_affected(), "member")?;
        Ok(())
    }

    async fn count_members_with_role(&self, org: Uuid, role: &str) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = $2")
                .bind(org)
                .bind(role)
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        Common(&self.pool).signing_keys().await
    }

    async fn insert_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()> {
        Common(&self.pool).insert_signing_key(key).await
    }
}
