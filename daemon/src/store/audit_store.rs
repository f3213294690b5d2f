//! The audit trail's storage: append to an organization's hash chain (one
//! linear chain per organization, also with many writers: the chain head
//! row is locked for the append), read it back, and keep checkpoints and
//! the keys that sign them. Written once for both backends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use loki_shared::audit::AuditEvent;
use uuid::Uuid;

use super::models::AuditKeyRecord;
use super::{map_err, StoreError, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRecord {
    pub org_id: Uuid,
    pub seq: i64,
    pub head_hash: String,
    pub issued_at: String,
    pub key_id: String,
    pub signature: String,
}

/// Search filters; newest first, `before` is a seq cursor.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<Uuid>,
    pub action: Option<String>,
    pub action_prefix: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub before: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `event` (its seq, prev_hash and hash are assigned here) and
    /// returns it as stored.
    async fn append_audit(&self, org: Uuid, event: AuditEvent) -> StoreResult<AuditEvent>;
    /// Appends many events, each to its chain (`(chain, event)`), in one
    /// transaction: all or none (group commit). Returned as stored, in order.
    async fn append_audit_many(
        &self,
        events: Vec<(Uuid, AuditEvent)>,
    ) -> StoreResult<Vec<AuditEvent>>;
    /// (seq, hash) of the newest event, if any.
    async fn audit_head(&self, org: Uuid) -> StoreResult<Option<(i64, String)>>;
    /// Stored event bodies (JSON), newest first.
    async fn audit_search(&self, org: Uuid, filter: AuditFilter) -> StoreResult<Vec<String>>;
    async fn audit_event_by_id(&self, org: Uuid, id: Uuid) -> StoreResult<Option<String>>;
    /// Bodies with seq in `(after, until]`, oldest first, at most `limit`.
    async fn audit_range(
        &self,
        org: Uuid,
        after: i64,
        until: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, String)>>;
    /// First and last seq of events in the time range.
    async fn audit_seq_bounds(
        &self,
        org: Uuid,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<(i64, i64)>>;
    async fn audit_hash_at(&self, org: Uuid, seq: i64) -> StoreResult<Option<String>>;
    async fn insert_checkpoint(&self, cp: CheckpointRecord) -> StoreResult<()>;
    /// Checkpoints with seq in `[from, to]`, by seq.
    async fn checkpoints(
        &self,
        org: Uuid,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<CheckpointRecord>>;
    /// The last seq whose event is older than `cutoff`.
    async fn audit_last_before(&self, org: Uuid, cutoff: DateTime<Utc>)
        -> StoreResult<Option<i64>>;
    /// Deletes events up to `upto`, which a stored checkpoint must anchor;
    /// returns how many were deleted.
    async fn purge_audit(&self, org: Uuid, upto: i64, audit: &mut AuditBatch) -> StoreResult<u64>;
    /// Every live organization's id (for maintenance jobs).
    async fn org_ids(&self) -> StoreResult<Vec<Uuid>>;
    /// Oldest first: the last is the current key.
    async fn audit_keys(&self) -> StoreResult<Vec<AuditKeyRecord>>;
    async fn insert_audit_key(&self, key: AuditKeyRecord) -> StoreResult<()>;
}

/// The audit events of one change: written in the change's transaction,
/// each on the chain it names (an organization's, or the system chain), or
/// not at all. A write that changes audited state takes one, and one holds
/// at least one event, so an audited change cannot be written without its
/// record. After the write, [`AuditBatch::appended`] says where they went.
#[derive(Debug)]
#[must_use = "an audit batch records nothing until a store write commits it"]
pub struct AuditBatch {
    pub(super) events: Vec<AuditEvent>,
    pub(super) appended: Vec<(Uuid, u64)>,
    pub(super) users: Vec<Uuid>,
}

impl AuditBatch {
    pub fn of(event: AuditEvent) -> Self {
        Self {
            events: vec![event],
            appended: Vec::new(),
            users: Vec::new(),
        }
    }

    /// One more event of the same change.
    pub fn and(mut self, event: AuditEvent) -> Self {
        self.events.push(event);
        self
    }

    /// (chain, seq) of each event, once committed.
    pub fn appended(&self) -> &[(Uuid, u64)] {
        &self.appended
    }

    /// The users the committed events name (as actor or as the resource):
    /// whose cached account rows the change may have made stale.
    pub fn users(&self) -> &[Uuid] {
        &self.users
    }
}

pub(crate) use super::audit_append::AuditSql;

macro_rules! audit_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, org: Uuid, e: AuditEvent) -> StoreResult<AuditEvent> {
                let mut tx = self.scope(org).await?;
                let e = AuditSql::<$db>::append(&mut tx, org, e).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(e)
            }

            async fn append_audit_many(&self, events: Vec<(Uuid, AuditEvent)>) -> StoreResult<Vec<AuditEvent>> {
                let Some(scope) = events.first().map(|(org, _)| *org) else {
                    return Ok(Vec::new());
                };
                let tx = self.scope(scope).await?;
                AuditSql::<$db>::append_many(tx, scope, events).await
            }

            async fn audit_head(&self, org: Uuid) -> StoreResult<Option<(i64, String)>> {
                let mut tx = self.scope(org).await?;
                let row = sqlx::query_as::<$db, (i64, String)>(
                    "SELECT seq, hash FROM audit_events WHERE org_id = $1 ORDER BY seq DESC LIMIT 1",
                )
                .bind(org)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(row)
            }

            async fn audit_search(&self, org: Uuid, f: AuditFilter) -> StoreResult<Vec<String>> {
                // Only the filters given go into the query, so each can use
                // its index (a `$n IS NULL OR …` form defeats the planner).
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT body FROM audit_events WHERE org_id = ");
                q.push_bind(org);
                if let Some(v) = f.before {
                    q.push(" AND seq < ").push_bind(v);
                }
                if let Some(v) = f.actor {
                    q.push(" AND actor_user = ").push_bind(v);
                }
                if let Some(v) = f.action {
                    q.push(" AND action = ").push_bind(v);
                }
                if let Some(p) = f.action_prefix {
                    // A prefix as a range: index-friendly, no LIKE escaping.
                    q.push(" AND action >= ").push_bind(p.clone());
                    q.push(" AND action < ").push_bind(format!("{p}\u{10ffff}"));
                }
                if let Some(v) = f.resource_type {
                    q.push(" AND resource_type = ").push_bind(v);
                }
                if let Some(v) = f.resource_id {
                    q.push(" AND resource_id = ").push_bind(v);
                }
                if let Some(v) = f.outcome {
                    q.push(" AND outcome = ").push_bind(v);
                }
                if let Some(v) = f.from {
                    q.push(" AND time >= ").push_bind(v);
                }
                if let Some(v) = f.to {
                    q.push(" AND time <= ").push_bind(v);
                }
                q.push(" ORDER BY seq DESC LIMIT ").push_bind(f.limit);
                let mut tx = self.scope(org).await?;
                let rows: Vec<(String,)> = q
                    .build_query_as::<(String,)>()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn audit_event_by_id(&self, org: Uuid, id: Uuid) -> StoreResult<Option<String>> {
                let mut tx = self.scope(org).await?;
                let row = sqlx::query_as::<$db, (String,)>("SELECT body FROM audit_events WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(row.map(|r| r.0))
            }

            async fn audit_range(&self, org: Uuid, after: i64, until: i64, limit: i64) -> StoreResult<Vec<(i64, String)>> {
                let mut tx = self.scope(org).await?;
                let rows = sqlx::query_as::<$db, (i64, String)>(
                    "SELECT seq, body FROM audit_events WHERE org_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
                )
                .bind(org)
                .bind(after)
                .bind(until)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(rows)
            }

            async fn audit_seq_bounds(&self, org: Uuid, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> StoreResult<Option<(i64, i64)>> {
                let mut tx = self.scope(org).await?;
                let row = sqlx::query_as::<$db, (Option<i64>, Option<i64>)>(
                    "SELECT MIN(seq), MAX(seq) FROM audit_events WHERE org_id = $1 \
                     AND ($2 IS NULL OR time >= $2) AND ($3 IS NULL OR time <= $3)",
                )
                .bind(org)
                .bind(from)
                .bind(to)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(match row {
                    (Some(a), Some(b)) => Some((a, b)),
                    _ => None,
                })
            }

            async fn audit_hash_at(&self, org: Uuid, seq: i64) -> StoreResult<Option<String>> {
                let mut tx = self.scope(org).await?;
                let row = sqlx::query_as::<$db, (String,)>("SELECT hash FROM audit_events WHERE org_id = $1 AND seq = $2")
                    .bind(org)
                    .bind(seq)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(row.map(|r| r.0))
            }

            async fn insert_checkpoint(&self, cp: CheckpointRecord) -> StoreResult<()> {
                let mut tx = self.scope(cp.org_id).await?;
                sqlx::query::<$db>(
                    "INSERT INTO audit_checkpoints (org_id, seq, head_hash, issued_at, key_id, signature) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(cp.org_id)
                .bind(cp.seq)
                .bind(cp.head_hash)
                .bind(cp.issued_at)
                .bind(cp.key_id)
                .bind(cp.signature)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)
            }

            async fn checkpoints(&self, org: Uuid, from: i64, to: i64) -> StoreResult<Vec<CheckpointRecord>> {
                let mut tx = self.scope(org).await?;
                let rows = sqlx::query_as::<$db, CheckpointRecord>(
                    "SELECT org_id, seq, head_hash, issued_at, key_id, signature FROM audit_checkpoints \
                     WHERE org_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq, issued_at",
                )
                .bind(org)
                .bind(from)
                .bind(to)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(rows)
            }

            async fn audit_last_before(&self, org: Uuid, cutoff: DateTime<Utc>) -> StoreResult<Option<i64>> {
                let mut tx = self.scope(org).await?;
                let (n,): (Option<i64>,) = sqlx::query_as::<$db, (Option<i64>,)>(
                    "SELECT MAX(seq) FROM audit_events WHERE org_id = $1 AND time < $2",
                )
                .bind(org)
                .bind(cutoff)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(n)
            }

            async fn purge_audit(&self, org: Uuid, upto: i64, audit: &mut AuditBatch) -> StoreResult<u64> {
                let mut tx = self.scope(org).await?;
                let n = self.purge_statement(&mut tx, org, upto).await?;
                AuditSql::<$db>::commit(tx, org, audit).await?;
                Ok(n)
            }

            async fn org_ids(&self) -> StoreResult<Vec<Uuid>> {
                let rows: Vec<(Uuid,)> = sqlx::query_as::<$db, (Uuid,)>(self.org_ids_sql())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn audit_keys(&self) -> StoreResult<Vec<AuditKeyRecord>> {
                sqlx::query_as::<$db, AuditKeyRecord>(
                    "SELECT key_id AS kid, public_key, private_key_enc, created_at, predecessor, introduction FROM audit_keys ORDER BY created_at, key_id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)
            }

            async fn insert_audit_key(&self, k: AuditKeyRecord) -> StoreResult<()> {
                sqlx::query::<$db>("INSERT INTO audit_keys (key_id, public_key, private_key_enc, created_at, predecessor, introduction) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(k.kid)
                    .bind(k.public_key)
                    .bind(k.private_key_enc)
                    .bind(k.created_at)
                    .bind(k.predecessor)
                    .bind(k.introduction)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }
        }
    };
}

audit_store!(super::sqlite::SqliteStore, sqlx::Sqlite);
audit_store!(super::postgres::PgStore, sqlx::Postgres);

impl super::sqlite::SqliteStore {
    fn org_ids_sql(&self) -> &'static str {
        "SELECT id FROM organizations WHERE status <> 'deleted'"
    }

    /// SQLite has no roles: the daemon checks the anchoring checkpoint.
    async fn purge_statement(
        &self,
        tx: &mut sqlx::SqliteConnection,
        org: Uuid,
        upto: i64,
    ) -> StoreResult<u64> {
        let (anchored,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_checkpoints WHERE org_id = $1 AND seq = $2")
                .bind(org)
                .bind(upto)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        if anchored == 0 {
            return Err(StoreError::Other(anyhow::anyhow!(
                "no checkpoint at seq {upto} anchors the purge"
            )));
        }
        let done = sqlx::query("DELETE FROM audit_events WHERE org_id = $1 AND seq <= $2")
            .bind(org)
            .bind(upto)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

impl super::postgres::PgStore {
    fn org_ids_sql(&self) -> &'static str {
        "SELECT loki_org_ids()"
    }

    /// Through the owner's function, which insists on the checkpoint.
    async fn purge_statement(
        &self,
        tx: &mut sqlx::PgConnection,
        org: Uuid,
        upto: i64,
    ) -> StoreResult<u64> {
        let (n,): (i64,) = sqlx::query_as("SELECT loki_audit_purge($1, $2)")
            .bind(org)
            .bind(upto)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
