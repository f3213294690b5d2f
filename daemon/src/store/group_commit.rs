//! Group commit for audit events that change nothing else (denials,
//! failures, reads: `Auditor::record`). Concurrent appends share one
//! transaction, written by one task per daemon; each caller still waits
//! for the commit that holds its event, so nothing proceeds unrecorded. A
//! failed commit fails every caller in it and writes none of their events.
//! The writer is not the caller's task: a cancelled request cannot leave
//! its transaction open. SQLite has one writer anyway: one writer task.
//! PostgreSQL takes writers in parallel: chains are spread over several
//! writer tasks (one chain always on the same one, so its order holds).

use loki_shared::audit::AuditEvent;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Backend, DynStore, StoreError, StoreResult};

/// Events written in one transaction at most.
const MAX_GROUP: usize = 512;
/// Appends waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 8192;

type Job = (Uuid, AuditEvent, oneshot::Sender<StoreResult<AuditEvent>>);

/// Writer tasks on PostgreSQL.
const PG_WRITERS: usize = 4;

/// The handle callers append through. The writers stop when every handle
/// is dropped.
#[derive(Clone)]
pub struct AuditAppender {
    writers: Vec<mpsc::Sender<Job>>,
}

impl AuditAppender {
    /// Starts the writers on the current runtime.
    pub fn start(store: DynStore) -> Self {
        let n = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => PG_WRITERS,
        };
        let writers = (0..n).map(|_| writer(store.clone())).collect();
        Self { writers }
    }

    /// Appends `event` to the chain of `org`; returns once it is committed.
    pub async fn append(&self, org: Uuid, event: AuditEvent) -> StoreResult<AuditEvent> {
        let (reply, done) = oneshot::channel();
        let shard = (org.as_u128() % self.writers.len() as u128) as usize;
        self.writers[shard]
            .send((org, event, reply))
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }
}

/// One writer task: takes what is queued (up to a group), writes it in one
/// transaction, answers every caller.
fn writer(store: DynStore) -> mpsc::Sender<Job> {
    let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
    tokio::spawn(async move {
        while let Some(first) = queue.recv().await {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let (events, replies): (Vec<_>, Vec<_>) =
                group.into_iter().map(|(org, e, r)| ((org, e), r)).unzip();
            match store.append_audit_many(events).await {
                Ok(stored) => {
                    for (reply, e) in replies.into_iter().zip(stored) {
                        let _ = reply.send(Ok(e));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(copy(&e)));
                    }
                }
            }
        }
    });
    jobs
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the audit writer has stopped".into())
}

/// The same failure for every caller of a group.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict { code, message } => StoreError::Conflict {
            code,
            message: message.clone(),
        },
        StoreError::NotFound(what) => StoreError::NotFound(what),
        StoreError::LimitReached(m) => StoreError::LimitReached(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Other(e) => StoreError::Other(anyhow::anyhow!("{e:#}")),
    }
}
