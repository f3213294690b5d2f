//! Connection hygiene: a request can be dropped at any await (client gone,
//! timeout), and a storage error can leave a connection's transaction
//! bookkeeping wrong. Neither may leave a pooled connection inside a
//! transaction — on SQLite that connection would hold the write lock for
//! ever and every later write would wait and fail.
//!
//! Two rules, for both backends:
//! - `BEGIN` runs on a task of its own ([`begin`]). sqlx's `begin` is not
//!   cancel-safe: dropped after the server ran `BEGIN` but before the
//!   `Transaction` value exists, nothing would ever roll it back. On its own
//!   task it always completes; if the caller is gone, the finished
//!   transaction is dropped there and rolls back like any other.
//! - A connection is checked when it goes back to the pool
//!   ([`sqlite_is_clean`], [`postgres_is_clean`]): queued
//!   rollbacks are flushed first, then a connection that is still (or
//!   believes it is) inside a transaction is closed instead of reused.

use std::borrow::Cow;

use sqlx::{Database, Executor, Pool, Postgres, Sqlite, Transaction, TransactionManager};

/// Begins a transaction (with `statement`, else the default `BEGIN`) on a
/// task of its own, so cancelling the caller cannot strand it.
pub(crate) async fn begin<DB: Database>(
    pool: &Pool<DB>,
    statement: Option<&'static str>,
) -> Result<Transaction<'static, DB>, sqlx::Error> {
    let pool = pool.clone();
    let task = tokio::spawn(async move {
        match statement {
            Some(s) => pool.begin_with(Cow::Borrowed(s)).await,
            None => pool.begin().await,
        }
    });
    task.await
        .map_err(|e| sqlx::Error::Protocol(format!("transaction start task failed: {e}")))?
}

fn depth<DB: Database>(conn: &DB::Connection) -> usize {
    <DB::TransactionManager as TransactionManager>::get_transaction_depth(conn)
}

/// True when the SQLite connection is outside any transaction. `BEGIN`
/// fails inside one; outside, `BEGIN DEFERRED; ROLLBACK` takes no lock. The
/// probe also runs after any rollback a dropped `Transaction` queued.
pub(crate) async fn sqlite_is_clean(
    conn: &mut <Sqlite as Database>::Connection,
) -> Result<bool, sqlx::Error> {
    {
        let probe = conn.execute("BEGIN DEFERRED; ROLLBACK").await;
        let clean = probe.is_ok() && depth::<Sqlite>(conn) == 0;
        if !clean {
            tracing::warn!(
                depth = depth::<Sqlite>(conn),
                "closing a SQLite connection left inside a transaction"
            );
        }
        Ok(clean)
    }
}

/// True when the PostgreSQL connection is outside any transaction. A block
/// the driver lost track of is ended by `BEGIN; ROLLBACK` (outside one, the
/// pair does nothing); one it still counts is closed with the connection.
pub(crate) async fn postgres_is_clean(
    conn: &mut <Postgres as Database>::Connection,
) -> Result<bool, sqlx::Error> {
    {
        conn.execute("BEGIN; ROLLBACK").await?;
        let clean = depth::<Postgres>(conn) == 0;
        if !clean {
            tracing::warn!(
                depth = depth::<Postgres>(conn),
                "closing a PostgreSQL connection left inside a transaction"
            );
        }
        Ok(clean)
    }
}
