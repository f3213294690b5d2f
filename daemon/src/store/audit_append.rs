//! How events join their chains inside a transaction. A run of events of
//! one chain costs one head update and one multi-row insert, however long
//! the run: that is what makes group commit (`group_commit.rs`) cheap.
//! `commit` writes a change's audit batch with the change; `append_many`
//! writes the events of many requests in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use loki_shared::audit::{AuditEvent, GENESIS_HASH};
use uuid::Uuid;

use super::audit_store::AuditBatch;
use super::{map_err, StoreError, StoreResult};

pub(crate) struct AuditSql<DB>(std::marker::PhantomData<DB>);

/// Events in arrival order, grouped by chain (chains in order of first
/// appearance), each with its position in the input.
fn runs(events: Vec<(Uuid, AuditEvent)>) -> Vec<(Uuid, Vec<(usize, AuditEvent)>)> {
    let mut order: Vec<Uuid> = Vec::new();
    let mut by_chain: HashMap<Uuid, Vec<(usize, AuditEvent)>> = HashMap::new();
    for (i, (chain, e)) in events.into_iter().enumerate() {
        by_chain
            .entry(chain)
            .or_insert_with(|| {
                order.push(chain);
                Vec::new()
            })
            .push((i, e));
    }
    order
        .into_iter()
        .map(|c| {
            let run = by_chain.remove(&c).unwrap_or_default();
            (c, run)
        })
        .collect()
}

fn other(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Other(e.into())
}

/// A sealed event as stored: (seq, body, time, event).
type Row = (i64, String, DateTime<Utc>, AuditEvent);

/// Seals a run of `chain` whose head moved to `last` (its hash before the
/// run: `prev`); returns the rows and the chain's new head hash.
fn seal_run(
    chain: Uuid,
    last: i64,
    mut prev: String,
    run: Vec<AuditEvent>,
) -> StoreResult<(Vec<Row>, String)> {
    let n = i64::try_from(run.len()).map_err(other)?;
    let mut rows = Vec::with_capacity(run.len());
    for (seq, mut e) in (last - n + 1..).zip(run) {
        e.org_id = chain;
        e.seq = u64::try_from(seq).map_err(other)?;
        e.prev_hash = std::mem::take(&mut prev);
        let e = e.seal().map_err(other)?;
        prev = e.hash.clone();
        let body = serde_json::to_string(&e).map_err(other)?;
        let time = DateTime::parse_from_rfc3339(&e.time)
            .map(|t| t.with_timezone(&Utc))
            .map_err(other)?;
        rows.push((seq, body, time, e));
    }
    Ok((rows, prev))
}

macro_rules! audit_sql {
    ($db:ty, $enter_chain:expr) => {
        impl AuditSql<$db> {
            /// Appends one event to the chain of `org` on this transaction.
            pub async fn append(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, e: AuditEvent) -> StoreResult<AuditEvent> {
                let mut stored = Self::append_run(conn, org, vec![e]).await?;
                stored.pop().ok_or_else(|| other(anyhow::anyhow!("no event appended")))
            }

            /// Appends `events` (oldest first) to the chain of `org`: seqs and
            /// hashes follow the head, which moves once.
            pub async fn append_run(conn: &mut <$db as sqlx::Database>::Connection, org: Uuid, events: Vec<AuditEvent>) -> StoreResult<Vec<AuditEvent>> {
                let n = i64::try_from(events.len()).map_err(other)?;
                if n == 0 {
                    return Ok(Vec::new());
                }
                // Moves the head by `n` (creating it at genesis): the first
                // statement writes, so it takes SQLite's write lock, and it
                // holds PostgreSQL's row lock until commit. `hash` is the
                // head's hash before this run (the statement leaves it).
                let (last, prev): (i64, String) = sqlx::query_as::<$db, (i64, String)>(
                    "INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, $2, $3) \
                     ON CONFLICT (org_id) DO UPDATE SET seq = audit_heads.seq + excluded.seq \
                     RETURNING seq, hash",
                )
                .bind(org)
                .bind(n)
                .bind(GENESIS_HASH)
                .fetch_one(&mut *conn)
                .await
                .map_err(map_err)?;
                let (rows, prev) = seal_run(org, last, prev, events)?;
                sqlx::query::<$db>("UPDATE audit_heads SET hash = $2 WHERE org_id = $1")
                    .bind(org)
                    .bind(prev)
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                Self::insert_rows(&mut *conn, &rows).await?;
                Ok(rows.into_iter().map(|(_, _, _, e)| e).collect())
            }

            /// Writes the batch's events into the transaction, each on its
            /// own chain, then commits: the change and its audit record stand
            /// or fall together. `scope` is the chain the transaction was
            /// opened for (row-level security follows each event's chain).
            pub async fn commit(mut tx: sqlx::Transaction<'static, $db>, scope: Uuid, audit: &mut AuditBatch) -> StoreResult<()> {
                let events = std::mem::take(&mut audit.events);
                let mut users = Vec::new();
                for e in &events {
                    users.extend(e.actor.user_id);
                    if e.resource_type.as_deref() == Some("user") {
                        users.extend(e.resource_id.as_deref().and_then(|r| r.parse::<Uuid>().ok()));
                    }
                }
                let stored = Self::append_in(&mut tx, scope, events.into_iter().map(|e| (e.org_id, e)).collect()).await?;
                tx.commit().await.map_err(map_err)?;
                audit.appended = stored.iter().map(|e| (e.org_id, e.seq)).collect();
                users.sort_unstable();
                users.dedup();
                audit.users = users;
                Ok(())
            }

            /// Appends events of many chains in one transaction and commits.
            pub async fn append_many(mut tx: sqlx::Transaction<'static, $db>, scope: Uuid, events: Vec<(Uuid, AuditEvent)>) -> StoreResult<Vec<AuditEvent>> {
                let stored = Self::append_in(&mut tx, scope, events).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(stored)
            }

            /// Each chain's run in turn; the stored events in input order.
            async fn append_in(tx: &mut sqlx::Transaction<'static, $db>, scope: Uuid, events: Vec<(Uuid, AuditEvent)>) -> StoreResult<Vec<AuditEvent>> {
                if $enter_chain.is_none() && events.len() > 1 {
                    // No row-level security: every chain in three statements.
                    return Self::append_across(tx, events).await;
                }
                let total = events.len();
                let mut out: Vec<Option<AuditEvent>> = (0..total).map(|_| None).collect();
                for (chain, run) in runs(events) {
                    if chain != scope {
                        Self::enter_chain(&mut *tx, chain).await?;
                    }
                    let (at, run): (Vec<usize>, Vec<AuditEvent>) = run.into_iter().unzip();
                    let stored = Self::append_run(&mut *tx, chain, run).await?;
                    for (i, e) in at.into_iter().zip(stored) {
                        out[i] = Some(e);
                    }
                    if chain != scope {
                        Self::enter_chain(&mut *tx, scope).await?;
                    }
                }
                out.into_iter()
                    .map(|e| e.ok_or_else(|| other(anyhow::anyhow!("an event was not appended"))))
                    .collect()
            }

            /// All runs at once: one upsert moves every head, one update
            /// stores their new hashes, one insert writes every event.
            async fn append_across(tx: &mut sqlx::Transaction<'static, $db>, events: Vec<(Uuid, AuditEvent)>) -> StoreResult<Vec<AuditEvent>> {
                let total = events.len();
                let runs = runs(events);
                let mut heads = sqlx::QueryBuilder::<$db>::new("INSERT INTO audit_heads (org_id, seq, hash) ");
                heads.push_values(runs.iter(), |mut b, (chain, run)| {
                    b.push_bind(*chain)
                        .push_bind(i64::try_from(run.len()).unwrap_or(i64::MAX))
                        .push_bind(GENESIS_HASH);
                });
                heads.push(" ON CONFLICT (org_id) DO UPDATE SET seq = audit_heads.seq + excluded.seq RETURNING org_id, seq, hash");
                let moved: HashMap<Uuid, (i64, String)> = heads
                    .build_query_as::<(Uuid, i64, String)>()
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(map_err)?
                    .into_iter()
                    .map(|(c, seq, hash)| (c, (seq, hash)))
                    .collect();
                let mut out: Vec<Option<AuditEvent>> = (0..total).map(|_| None).collect();
                let mut rows = Vec::with_capacity(total);
                let mut new_heads = Vec::with_capacity(runs.len());
                for (chain, run) in runs {
                    let (last, prev) = moved
                        .get(&chain)
                        .cloned()
                        .ok_or_else(|| other(anyhow::anyhow!("a chain head was not moved")))?;
                    let (at, run): (Vec<usize>, Vec<AuditEvent>) = run.into_iter().unzip();
                    let (sealed, prev) = seal_run(chain, last, prev, run)?;
                    for (i, row) in at.into_iter().zip(sealed) {
                        out[i] = Some(row.3.clone());
                        rows.push(row);
                    }
                    new_heads.push((chain, prev));
                }
                let mut update = sqlx::QueryBuilder::<$db>::new("UPDATE audit_heads SET hash = CASE org_id");
                for (chain, hash) in &new_heads {
                    update.push(" WHEN ").push_bind(*chain).push(" THEN ").push_bind(hash.clone());
                }
                update.push(" END WHERE org_id IN (");
                let mut ids = update.separated(", ");
                for (chain, _) in &new_heads {
                    ids.push_bind(*chain);
                }
                update.push(")");
                update.build().execute(&mut **tx).await.map_err(map_err)?;
                Self::insert_rows(&mut **tx, &rows).await?;
                out.into_iter()
                    .map(|e| e.ok_or_else(|| other(anyhow::anyhow!("an event was not appended"))))
                    .collect()
            }

            /// Inserts sealed events (seq, body, time, event) in one statement.
            async fn insert_rows(conn: &mut <$db as sqlx::Database>::Connection, rows: &[Row]) -> StoreResult<()> {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO audit_events (org_id, seq, id, time, action, outcome, actor_user, resource_type, resource_id, hash, body) ",
                );
                insert.push_values(rows.iter(), |mut b, (seq, body, time, e)| {
                    b.push_bind(e.org_id)
                        .push_bind(*seq)
                        .push_bind(e.id)
                        .push_bind(*time)
                        .push_bind(e.action.clone())
                        .push_bind(e.outcome.clone())
                        .push_bind(e.actor.user_id)
                        .push_bind(e.resource_type.clone())
                        .push_bind(e.resource_id.clone())
                        .push_bind(e.hash.clone())
                        .push_bind(body.clone());
                });
                insert.build().execute(&mut *conn).await.map_err(map_err)?;
                Ok(())
            }

            /// Points row-level security at `chain` (PostgreSQL); nothing to
            /// do where there is none (SQLite).
            async fn enter_chain(conn: &mut <$db as sqlx::Database>::Connection, chain: Uuid) -> StoreResult<()> {
                if let Some(sql) = $enter_chain {
                    sqlx::query::<$db>(sql)
                        .bind(chain.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(map_err)?;
                }
                Ok(())
            }
        }
    };
}

audit_sql!(sqlx::Sqlite, None::<&str>);
audit_sql!(
    sqlx::Postgres,
    Some("SELECT set_config('app.org_id', $1, true)")
);
