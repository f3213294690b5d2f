//! Tenant-owned tables written once for both backends: organizations and
//! memberships here, roles and grants in `roles_sql`, documents in
//! `documents_sql`. Every statement filters by `org_id`
//! and runs on a connection the backend has scoped (on PostgreSQL, a
//! transaction with `app.org_id` set for row-level security).
//!
//! The functions are generated for SQLite and PostgreSQL by one macro, so
//! the SQL is shared without a wall of generic trait bounds.

use std::marker::PhantomData;

use chrono::Utc;
use sqlx::{Postgres, Sqlite};
use uuid::Uuid;

use super::models::*;
use super::{map_sqlx, unique_conflict, StoreError, StoreResult};

pub(crate) struct Tenant<DB>(PhantomData<DB>);

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
}

macro_rules! tenant_sql {
    ($db:ty) => {
        impl Tenant<$db> {
            // --- organizations

            /// Inserts the organization (free tier, active) and makes its
            /// creator a member holding `admin`. `settings_param` is how the
            /// backend writes the JSON settings parameter.
            pub async fn insert_org(conn: &mut <$db as sqlx::Database>::Connection, org: NewOrg, creator: Uuid, settings: String, settings_param: &str) -> StoreResult<()> {
                let sql = format!(
                    "INSERT INTO organizations (id, slug, name, tier, status, settings, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'free', 'active', {settings_param}, $5, $5)"
                );
                sqlx::query::<$db>(&sql)
                    .bind(org.id)
                    .bind(org.slug)
                    .bind(org.name)
                    .bind(settings)
                    .bind(Utc::now())
                    .execute(&mut *conn)
                    .await
                    .map_err(unique_conflict)?;
                Self::insert_membership(&mut *conn, org.id, creator).await?;
                Self::add_member_role(&mut *conn, org.id, creator, "admin").await?;
                // Belonging to a second organization ends being managed by the first.
                sqlx::query::<$db>("UPDATE users SET managed_by_org = NULL WHERE id = $1")
                    .bind(creator)
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
                Ok(())
            }

            // --- memberships

            /// Locks the organization row for the rest of the transaction
            /// (SQLite: takes the write lock), so checks that count rows and
            /// the inserts that follow cannot interleave with another writer.
            pub async fn lock_org(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE organizations SET storage_used_bytes = storage_used_bytes WHERE id = $1 AND status <> 'deleted'",
                )
                .bind(org)
                .execute(conn)
                .await
                .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn count_members(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid) -> StoreResult<u64> {
                let (n,): (i64,) = sqlx::query_as::<$db, (i64,)>("SELECT COUNT(*) FROM memberships WHERE org_id = $1")
                    .bind(org)
                    .fetch_one(conn)
                    .await
                    .map_err(err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            pub async fn insert_membership(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, user: Uuid) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO memberships (org_id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $3)",
                )
                .bind(org)
                .bind(user)
                .bind(Utc::now())
                .execute(conn)
                .await
                .map_err(unique_conflict)?;
                Ok(())
            }

            pub async fn delete_membership(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, user: Uuid) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            /// Members (one, or all) with their roles.
            pub async fn members(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, user: Option<Uuid>) -> StoreResult<Vec<loki_shared::api::Member>> {
                let sql = format!("{MEMBER_SELECT} WHERE m.org_id = $1 AND ($2 IS NULL OR m.user_id = $2) ORDER BY m.created_at, u.email");
                let rows = sqlx::query_as::<$db, MemberRow>(&sql)
                    .bind(org)
                    .bind(user)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(err)?;
                let roles = match user {
                    Some(u) => Self::member_roles(&mut *conn, org, u).await?.into_iter().map(|r| (u, r)).collect(),
                    None => Self::roles_of_members(&mut *conn, org).await?,
                };
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        let mine = roles.iter().filter(|(u, _)| *u == r.user_id).map(|(_, role)| role.clone()).collect();
                        r.into_member(mine)
                    })
                    .collect())
            }

            // --- member roles

            pub async fn member_roles(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, user: Uuid) -> StoreResult<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as::<$db, (String,)>(
                    "SELECT role FROM member_roles WHERE org_id = $1 AND user_id = $2 ORDER BY created_at, role",
                )
                .bind(org)
                .bind(user)
                .fetch_all(conn)
                .await
                .map_err(err)?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            pub async fn roles_of_members(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
                sqlx::query_as::<$db, (Uuid, String)>(
                    "SELECT user_id, role FROM member_roles WHERE org_id = $1 ORDER BY created_at, role",
                )
                .bind(org)
                .fetch_all(conn)
                .await
                .map_err(err)
            }

            /// Roles of `user` in every organization visible in this scope.
            pub async fn roles_of_user(conn: &mut <$db as sqlx::Database>::Connection, user: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
                sqlx::query_as::<$db, (Uuid, String)>(
                    "SELECT org_id, role FROM member_roles WHERE user_id = $1 ORDER BY created_at, role",
                )
                .bind(user)
                .fetch_all(conn)
                .await
                .map_err(err)
            }

            pub async fn add_member_role(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, user: Uuid, role: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "INSERT INTO member_roles (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(org)
                .bind(user)
                .bind(role.to_owned())
                .bind(Utc::now())
                .execute(conn)
                .await
                .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn remove_member_role(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, user: Uuid, role: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM member_roles WHERE org_id = $1 AND user_id = $2 AND role = $3")
                    .bind(org)
                    .bind(user)
                    .bind(role.to_owned())
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn clear_member_roles(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, user: Uuid) -> StoreResult<()> {
                sqlx::query::<$db>("DELETE FROM member_roles WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(())
            }

            pub async fn count_role_holders(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, role: &str) -> StoreResult<u64> {
                let (n,): (i64,) = sqlx::query_as::<$db, (i64,)>(
                    "SELECT COUNT(*) FROM member_roles WHERE org_id = $1 AND role = $2",
                )
                .bind(org)
                .bind(role.to_owned())
                .fetch_one(conn)
                .await
                .map_err(err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            /// Moves every holder of `from` to `to` (keeping holders of both once).
            pub async fn reassign_role(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, from: &str, to: &str) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO member_roles (org_id, user_id, role, created_at) \
                     SELECT org_id, user_id, $3, $4 FROM member_roles WHERE org_id = $1 AND role = $2 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(org)
                .bind(from.to_owned())
                .bind(to.to_owned())
                .bind(Utc::now())
                .execute(&mut *conn)
                .await
                .map_err(err)?;
                sqlx::query::<$db>("DELETE FROM member_roles WHERE org_id = $1 AND role = $2")
                    .bind(org)
                    .bind(from.to_owned())
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
                Ok(())
            }
        }
    };
}

tenant_sql!(Sqlite);
tenant_sql!(Postgres);
