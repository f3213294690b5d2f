//! Queries that read the same on both backends: the global (non-tenant)
//! tables — users and signing keys. Written once, generic over the sqlx
//! database; tenant queries stay per backend because PostgreSQL wraps them
//! in RLS-scoped transactions.

use chrono::{DateTime, Utc};
use loki_shared::api::{Member, User};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};
use uuid::Uuid;

use super::models::{
    CredentialsRow, MemberRow, NewOrg, NewUser, SigningKeyRecord, UserCredentials, UserRow,
    MEMBER_SELECT, USER_COLUMNS,
};
use super::{map_sqlx, unique_conflict, StoreResult};

pub(crate) struct Common<'a, DB: Database>(pub &'a Pool<DB>);

fn err(e: sqlx::Error) -> super::StoreError {
    map_sqlx(e, None)
}

impl<DB> Common<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> CredentialsRow: FromRow<'r, DB::Row>,
    for<'r> SigningKeyRecord: FromRow<'r, DB::Row>,
    for<'r> MemberRow: FromRow<'r, DB::Row>,
{
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query::<DB>("SELECT 1")
            .execute(self.0)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Inserts a user; `super_admin` promotes an existing one instead of
    /// conflicting (and resets its password).
    pub async fn insert_user(&self, user: NewUser, super_admin: bool) -> StoreResult<User> {
        let on_conflict = if super_admin {
            "ON CONFLICT (email) DO UPDATE SET is_super_admin = TRUE, \
             password_hash = excluded.password_hash, updated_at = excluded.updated_at"
        } else {
            ""
        };
        let flag = if super_admin { "TRUE" } else { "FALSE" };
        let sql = format!(
            "INSERT INTO users (id, email, display_name, password_hash, is_super_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, {flag}, $5, $5) {on_conflict} RETURNING {USER_COLUMNS}"
        );
        let row: UserRow = sqlx::query_as::<DB, UserRow>(&sql)
            .bind(user.id)
            .bind(user.email)
            .bind(user.display_name)
            .bind(user.password_hash)
            .bind(Utc::now())
            .fetch_one(self.0)
            .await
            .map_err(unique_conflict)?;
        Ok(row.into())
    }

    /// The user whose `column` (`id` or `email`) equals `value`.
    pub async fn user_where<V>(&self, column: &'static str, value: V) -> StoreResult<Option<User>>
    where
        for<'q> V: Encode<'q, DB> + Type<DB> + Send + 'q,
    {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        let row = sqlx::query_as::<DB, UserRow>(&sql)
            .bind(value)
            .fetch_optional(self.0)
            .await
            .map_err(err)?;
        Ok(row.map(User::from))
    }

    pub async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1");
        let row = sqlx::query_as::<DB, CredentialsRow>(&sql)
            .bind(email.to_owned())
            .fetch_optional(self.0)
            .await
            .map_err(err)?;
        Ok(row.map(|r| UserCredentials {
            user: r.user.into(),
            password_hash: r.password_hash,
        }))
    }

    pub async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        sqlx::query_as::<DB, SigningKeyRecord>(
            "SELECT kid, public_key, private_key_enc, created_at FROM signing_keys ORDER BY created_at",
        )
        .fetch_all(self.0)
        .await
        .map_err(err)
    }

    pub async fn insert_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()> {
        sqlx::query::<DB>(
            "INSERT INTO signing_keys (kid, public_key, private_key_enc, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(key.kid)
        .bind(key.public_key)
        .bind(key.private_key_enc)
        .bind(key.created_at)
        .execute(self.0)
        .await
        .map_err(err)?;
        Ok(())
    }

    // --- tenant statements, run on a connection the backend has scoped

    /// Inserts the organization (free tier, active) and its creator as admin.
    /// `settings_param` is how the backend writes the JSON settings
    /// parameter (`$4` or `$4::jsonb`).
    pub async fn insert_org_with_admin(
        conn: &mut DB::Connection,
        org: NewOrg,
        creator: Uuid,
        settings: String,
        settings_param: &str,
    ) -> StoreResult<()> {
        let now = Utc::now();
        let sql = format!(
            "INSERT INTO organizations (id, slug, name, tier, status, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, 'free', 'active', {settings_param}, $5, $5)"
        );
        sqlx::query::<DB>(&sql)
            .bind(org.id)
            .bind(org.slug)
            .bind(org.name)
            .bind(settings)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(unique_conflict)?;
        sqlx::query::<DB>(
            "INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) VALUES ($1, $2, 'admin', $3, $3)",
        )
        .bind(org.id)
        .bind(creator)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(unique_conflict)?;
        Ok(())
    }

    pub async fn fetch_member(
        conn: &mut DB::Connection,
        org: Uuid,
        user: Uuid,
    ) -> StoreResult<Option<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.org_id = $1 AND m.user_id = $2");
        let row = sqlx::query_as::<DB, MemberRow>(&sql)
            .bind(org)
            .bind(user)
            .fetch_optional(conn)
            .await
            .map_err(err)?;
        Ok(row.map(Member::from))
    }

    pub async fn fetch_members(conn: &mut DB::Connection, org: Uuid) -> StoreResult<Vec<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.org_id = $1 ORDER BY m.created_at, u.email");
        let rows = sqlx::query_as::<DB, MemberRow>(&sql)
            .bind(org)
            .fetch_all(conn)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(Member::from).collect())
    }
}
