//! Tenant-owned tables written once for both backends: member roles,
//! custom roles, grants, documents. Every statement filters by `org_id`
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

fn role_conflict(e: sqlx::Error) -> StoreError {
    map_sqlx(
        e,
        Some(("role_exists", "a role with this name already exists")),
    )
}

fn grant_conflict(e: sqlx::Error) -> StoreError {
    map_sqlx(e, Some(("grant_exists", "this grant already exists")))
}

/// `LIKE` pattern for a case-insensitive substring, wildcards escaped.
fn like_pattern(s: &str) -> String {
    let escaped = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
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

            // --- documents

            /// Stores content once per organization. New bytes count against
            /// the quota; the check and the increment are one statement, so
            /// concurrent uploads cannot overshoot it.
            pub async fn store_blob(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, c: &NewContent, quota: Option<i64>) -> StoreResult<()> {
                let size = i64::try_from(c.bytes.len()).unwrap_or(i64::MAX);
                let inserted = sqlx::query::<$db>(
                    "INSERT INTO blobs (org_id, sha256, size, content, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(org)
                .bind(c.sha256.clone())
                .bind(size)
                .bind(c.bytes.clone())
                .bind(Utc::now())
                .execute(&mut *conn)
                .await
                .map_err(err)?
                .rows_affected();
                if inserted == 0 {
                    return Ok(()); // already stored: no new bytes
                }
                let reserved = sqlx::query::<$db>(
                    "UPDATE organizations SET storage_used_bytes = storage_used_bytes + $2 \
                     WHERE id = $1 AND ($3 IS NULL OR storage_used_bytes + $2 <= $3)",
                )
                .bind(org)
                .bind(size)
                .bind(quota)
                .execute(&mut *conn)
                .await
                .map_err(err)?
                .rows_affected();
                if reserved == 0 {
                    return Err(StoreError::LimitReached(
                        "the organization's storage quota would be exceeded; delete documents or upgrade the tier".into(),
                    ));
                }
                Ok(())
            }

            /// Deletes blobs no version refers to and gives their bytes back.
            pub async fn collect_blobs(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid) -> StoreResult<()> {
                let (freed,): (i64,) = sqlx::query_as::<$db, (i64,)>(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs b WHERE b.org_id = $1 AND NOT EXISTS \
                     (SELECT 1 FROM document_versions v WHERE v.org_id = b.org_id AND v.sha256 = b.sha256)",
                )
                .bind(org)
                .fetch_one(&mut *conn)
                .await
                .map_err(err)?;
                if freed == 0 {
                    return Ok(());
                }
                sqlx::query::<$db>(
                    "DELETE FROM blobs WHERE org_id = $1 AND NOT EXISTS \
                     (SELECT 1 FROM document_versions v WHERE v.org_id = blobs.org_id AND v.sha256 = blobs.sha256)",
                )
                .bind(org)
                .execute(&mut *conn)
                .await
                .map_err(err)?;
                sqlx::query::<$db>("UPDATE organizations SET storage_used_bytes = storage_used_bytes - $2 WHERE id = $1")
                    .bind(org)
                    .bind(freed)
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
                Ok(())
            }

            pub async fn insert_document(conn: &mut <$db as sqlx::Database>::Connection, d: DocumentRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO documents (id, org_id, name, description, content_type, size, sha256, version, \
                     frameworks, controls, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                )
                .bind(d.id)
                .bind(d.org_id)
                .bind(d.name)
                .bind(d.description)
                .bind(d.content_type)
                .bind(d.size)
                .bind(d.sha256)
                .bind(d.version)
                .bind(d.frameworks)
                .bind(d.controls)
                .bind(d.created_by)
                .bind(d.created_at)
                .execute(conn)
                .await
                .map_err(unique_conflict)?;
                Ok(())
            }

            pub async fn insert_version(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, v: VersionRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO document_versions (document_id, org_id, version, sha256, size, content_type, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(v.document_id)
                .bind(org)
                .bind(v.version)
                .bind(v.sha256)
                .bind(v.size)
                .bind(v.content_type)
                .bind(v.created_by)
                .bind(v.created_at)
                .execute(conn)
                .await
                .map_err(err)?;
                Ok(())
            }

            pub async fn replace_tags(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, doc: Uuid, frameworks: &[String], controls: &[String]) -> StoreResult<()> {
                sqlx::query::<$db>("DELETE FROM document_tags WHERE org_id = $1 AND document_id = $2")
                    .bind(org)
                    .bind(doc)
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
                let tags = frameworks.iter().map(|f| ("framework", f)).chain(controls.iter().map(|c| ("control", c)));
                for (kind, value) in tags {
                    sqlx::query::<$db>(
                        "INSERT INTO document_tags (document_id, org_id, kind, value) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(doc)
                    .bind(org)
                    .bind(kind.to_owned())
                    .bind(value.clone())
                    .execute(&mut *conn)
                    .await
                    .map_err(err)?;
                }
                Ok(())
            }

            pub async fn document(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, id: Uuid) -> StoreResult<Option<DocumentRecord>> {
                let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.org_id = $1 AND d.id = $2");
                sqlx::query_as::<$db, DocumentRecord>(&sql)
                    .bind(org)
                    .bind(id)
                    .fetch_optional(conn)
                    .await
                    .map_err(err)
            }

            pub async fn documents(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, f: DocumentFilter) -> StoreResult<Vec<DocumentRecord>> {
                let sql = format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.org_id = $1 \
                     AND ($2 IS NULL OR d.id < $2) \
                     AND ($3 IS NULL OR EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = d.id \
                          AND t.org_id = d.org_id AND t.kind = 'framework' AND t.value = $3)) \
                     AND ($4 IS NULL OR EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = d.id \
                          AND t.org_id = d.org_id AND t.kind = 'control' AND t.value = $4)) \
                     AND ($5 IS NULL OR LOWER(d.name) LIKE $5 ESCAPE '\\') \
                     ORDER BY d.id DESC LIMIT $6"
                );
                sqlx::query_as::<$db, DocumentRecord>(&sql)
                    .bind(org)
                    .bind(f.before)
                    .bind(f.framework)
                    .bind(f.control)
                    .bind(f.name.as_deref().map(like_pattern))
                    .bind(f.limit)
                    .fetch_all(conn)
                    .await
                    .map_err(err)
            }

            pub async fn versions(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, doc: Uuid) -> StoreResult<Vec<VersionRecord>> {
                sqlx::query_as::<$db, VersionRecord>(
                    "SELECT document_id, version, sha256, size, content_type, created_by, created_at \
                     FROM document_versions WHERE org_id = $1 AND document_id = $2 ORDER BY version",
                )
                .bind(org)
                .bind(doc)
                .fetch_all(conn)
                .await
                .map_err(err)
            }

            pub async fn blob(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
                let row: Option<(Vec<u8>,)> = sqlx::query_as::<$db, (Vec<u8>,)>(
                    "SELECT content FROM blobs WHERE org_id = $1 AND sha256 = $2",
                )
                .bind(org)
                .bind(sha256.to_owned())
                .fetch_optional(conn)
                .await
                .map_err(err)?;
                Ok(row.map(|r| r.0))
            }

            pub async fn update_document(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, id: Uuid, name: Option<String>, description: Option<String>, tags: Option<(String, String)>) -> StoreResult<bool> {
                let (frameworks, controls) = match tags {
                    Some((f, c)) => (Some(f), Some(c)),
                    None => (None, None),
                };
                let done = sqlx::query::<$db>(
                    "UPDATE documents SET name = COALESCE($3, name), description = COALESCE($4, description), \
                     frameworks = COALESCE($5, frameworks), controls = COALESCE($6, controls), updated_at = $7 \
                     WHERE org_id = $1 AND id = $2",
                )
                .bind(org)
                .bind(id)
                .bind(name)
                .bind(description)
                .bind(frameworks)
                .bind(controls)
                .bind(Utc::now())
                .execute(conn)
                .await
                .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            /// Points the document at a new version; false when `expected`
            /// is no longer the current version (a concurrent replace won).
            pub async fn advance_version(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, id: Uuid, expected: i64, v: &VersionRecord) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE documents SET version = $4, sha256 = $5, size = $6, content_type = $7, updated_at = $8 \
                     WHERE org_id = $1 AND id = $2 AND version = $3",
                )
                .bind(org)
                .bind(id)
                .bind(expected)
                .bind(v.version)
                .bind(v.sha256.clone())
                .bind(v.size)
                .bind(v.content_type.clone())
                .bind(v.created_at)
                .execute(conn)
                .await
                .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn delete_document(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, id: Uuid) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM documents WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(id)
                    .execute(conn)
                    .await
                    .map_err(err)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

tenant_sql!(Sqlite);
tenant_sql!(Postgres);
