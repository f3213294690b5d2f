//! Custom roles and resource grants of an organization.
//! Written once for both backends (see `tenant_sql`).

use chrono::Utc;
use sqlx::{Postgres, Sqlite};
use uuid::Uuid;

use super::models::*;
use super::tenant_sql::Tenant;
use super::{map_sqlx, StoreError, StoreResult};

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
}

fn role_conflict(e: sqlx::Error) -> StoreError {
    map_sqlx(
        e,
        Some(("role_exists", "a role with this name already exists")),
    )
}

fn grant_conflict(e: sqlx::Error) -> StoreError {
    map_sqlx(e, Some(("grant_exists", "this grant already exists")))
}

macro_rules! roles_sql {
    ($db:ty) => {
        impl Tenant<$db> {
            // --- custom roles

            pub async fn insert_role(conn: &mut <$db as sqlx::Database>::Connection, r: RoleRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO roles (id, org_id, name, description, permissions, parent, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(r.id)
                .bind(r.org_id)
                .bind(r.name)
                .bind(r.description)
                .bind(r.permissions)
                .bind(r.parent)
                .bind(r.created_at)
                .execute(conn)
                .await
                .map_err(role_conflict)?;
                Ok(())
            }

            pub async fn roles(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid) -> StoreResult<Vec<RoleRecord>> {
                sqlx::query_as::<$db, RoleRecord>(
                    "SELECT id, org_id, name, description, permissions, parent, created_at, updated_at \
                     FROM roles WHERE org_id = $1 ORDER BY name",
                )
                .bind(org)
                .fetch_all(conn)
                .await
                .map_err(err)
            }

            pub async fn update_role(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, name: &str, p: RolePatch) -> StoreResult<bool> {
                let (set_parent, parent) = match p.parent {
                    Some(parent) => (true, parent),
                    None => (false, None),
                };
                let done = sqlx::query::<$db>(
                    "UPDATE roles SET description = COALESCE($3, description), \
                     permissions = COALESCE($4, permissions), \
                     parent = CASE WHEN $5 THEN $6 ELSE parent END, updated_at = $7 \
                     WHERE org_id = $1 AND name = $2",
                )
                .bind(org)
                .bind(name.to_owned())
                .bind(p.description)
                .bind(p.permissions)
                .bind(set_parent)
                .bind(parent)
                .bind(Utc::now())
                .execute(conn)
                .await
                .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn delete_role(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, name: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM roles WHERE org_id = $1 AND name = $2")
                    .bind(org)
                    .bind(name.to_owned())
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn delete_subject_grants(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, subject_type: &str, subject: &str) -> StoreResult<()> {
                sqlx::query::<$db>("DELETE FROM grants WHERE org_id = $1 AND subject_type = $2 AND subject = $3")
                    .bind(org)
                    .bind(subject_type.to_owned())
                    .bind(subject.to_owned())
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(())
            }

            // --- grants

            pub async fn insert_grant(conn: &mut <$db as sqlx::Database>::Connection, g: GrantRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO grants (id, org_id, resource_type, resource_id, subject_type, subject, permission, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(g.id)
                .bind(g.org_id)
                .bind(g.resource_type)
                .bind(g.resource_id)
                .bind(g.subject_type)
                .bind(g.subject)
                .bind(g.permission)
                .bind(g.created_by)
                .bind(g.created_at)
                .execute(conn)
                .await
                .map_err(grant_conflict)?;
                Ok(())
            }

            /// Grants of the organization, optionally of one resource.
            pub async fn grants(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, resource: Option<(String, Uuid)>) -> StoreResult<Vec<GrantRecord>> {
                let (kind, id) = match resource {
                    Some((k, i)) => (Some(k), Some(i)),
                    None => (None, None),
                };
                sqlx::query_as::<$db, GrantRecord>(
                    "SELECT id, org_id, resource_type, resource_id, subject_type, subject, permission, created_by, created_at \
                     FROM grants WHERE org_id = $1 AND ($2 IS NULL OR (resource_type = $2 AND resource_id = $3)) \
                     ORDER BY created_at, id",
                )
                .bind(org)
                .bind(kind)
                .bind(id)
                .fetch_all(conn)
                .await
                .map_err(err)
            }

            pub async fn delete_grant(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, id: Uuid) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM grants WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(id)
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn delete_resource_grants(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, kind: &str, id: Uuid) -> StoreResult<()> {
                sqlx::query::<$db>("DELETE FROM grants WHERE org_id = $1 AND resource_type = $2 AND resource_id = $3")
                    .bind(org)
                    .bind(kind.to_owned())
                    .bind(id)
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(())
            }
        }
    };
}

roles_sql!(Sqlite);
roles_sql!(Postgres);
