//! Evidence documents: content stored once per organization (with the quota), versions, tags.
//! Written once for both backends (see `tenant_sql`).

use chrono::Utc;
use sqlx::{Postgres, Sqlite};
use uuid::Uuid;

use super::models::*;
use super::tenant_sql::Tenant;
use super::{map_sqlx, unique_conflict, StoreError, StoreResult};

fn err(e: sqlx::Error) -> StoreError {
    map_sqlx(e, None)
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

macro_rules! documents_sql {
    ($db:ty) => {
        impl Tenant<$db> {
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

documents_sql!(Sqlite);
documents_sql!(Postgres);
