//! Streaming exports of a chain (bundle or CSV) and server-side
//! verification, all paging through the events so a million-event chain is
//! never held in memory.

use super::AuditTrail;
use crate::store::DynStore;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream};
use loki_shared::audit::{
    line, BundleVerifier, Checkpoint, CheckpointBody, Manifest, VerifyReport, BUNDLE_FORMAT,
    BUNDLE_VERSION,
};
use serde_json::Value;
use uuid::Uuid;

use crate::error::AppError;
use crate::rbac::Tenant;
use crate::store::CheckpointRecord;

const PAGE: i64 = 1000;

/// What an export covers: seqs `first..=last` (none when empty).
pub struct Range {
    pub first: i64,
    pub last: i64,
}

impl AuditTrail {
    /// Fixes the seq range of an export and signs the checkpoints that make it
    /// verifiable on its own: one at its last event and, for a range that does
    /// not start at 1, an anchor at the event before it.
    pub async fn prepare(
        &self,
        tenant: Tenant,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Range>, AppError> {
        let org = tenant.id();
        // Folded repeats still counting in this daemon are written first, so
        // an export or verification includes every refusal seen so far.
        self.auditor.flush(true).await;
        let Some((first, last)) = self.store.audit_seq_bounds(org, from, to).await? else {
            return Ok(None);
        };
        self.auditor.checkpoint_at(org, last).await?;
        if first > 1 {
            self.auditor.checkpoint_at(org, first - 1).await?;
        }
        Ok(Some(Range { first, last }))
    }

    /// The lines before the events: manifest and keys.
    pub async fn head_lines(
        &self,
        tenant: Tenant,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>, AppError> {
        let org = tenant.id();
        let manifest = Manifest {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            org_id: org,
            from: from.map(|t| t.to_rfc3339()),
            to: to.map(|t| t.to_rfc3339()),
            exported_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        };
        let mut lines = vec![line("manifest", &manifest).map_err(fmt_err)?];
        for k in self.auditor.bundle_keys().await? {
            lines.push(line("key", &k).map_err(fmt_err)?);
        }
        Ok(lines)
    }

    /// The checkpoint lines of a range (its anchor included).
    pub async fn checkpoint_lines(
        &self,
        tenant: Tenant,
        range: &Range,
    ) -> Result<Vec<String>, AppError> {
        let org = tenant.id();
        self.store
            .checkpoints(org, (range.first - 1).max(0), range.last)
            .await?
            .into_iter()
            .map(|c| line("checkpoint", &checkpoint_of(c)).map_err(fmt_err))
            .collect()
    }

    /// Verifies the whole stored chain with the same verifier as the offline
    /// tool, after checkpointing the head (so the newest events are covered and
    /// deleted newest events show as a truncated tail).
    pub async fn verify(&self, tenant: Tenant) -> Result<VerifyReport, AppError> {
        use futures_util::StreamExt;
        let org = tenant.id();
        let range = self.prepare(tenant, None, None).await?;
        let mut v = BundleVerifier::new();
        for l in self.head_lines(tenant, None, None).await? {
            v.line(&l);
        }
        let tail = match &range {
            Some(r) => self.checkpoint_lines(tenant, r).await?,
            None => Vec::new(),
        };
        // Checkpoints beyond the events (their events deleted) count too.
        let beyond: Vec<String> = match &range {
            Some(r) => self
                .store
                .checkpoints(org, r.last + 1, i64::MAX)
                .await?
                .into_iter()
                .map(|c| line("checkpoint", &checkpoint_of(c)).map_err(fmt_err))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let mut pages = Box::pin(event_pages(self.store.clone(), org, range));
        while let Some(page) = pages.next().await {
            for (_, body) in page? {
                v.line(&format!("{{\"type\":\"event\",\"event\":{body}}}"));
            }
        }
        for l in tail.iter().chain(beyond.iter()) {
            v.line(l);
        }
        Ok(v.finish())
    }
}

fn checkpoint_of(r: CheckpointRecord) -> Checkpoint {
    Checkpoint {
        body: CheckpointBody {
            org_id: r.org_id,
            seq: u64::try_from(r.seq).unwrap_or(0),
            head_hash: r.head_hash,
            issued_at: r.issued_at,
            key_id: r.key_id,
        },
        signature: r.signature,
    }
}

fn fmt_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("{e}"))
}

/// Pages of stored event bodies, oldest first.
pub fn event_pages(
    store: DynStore,
    org: Uuid,
    range: Option<Range>,
) -> impl Stream<Item = Result<Vec<(i64, String)>, AppError>> {
    let start = range.as_ref().map(|r| (r.first - 1, r.last));
    stream::unfold(start, move |cursor| {
        let store = store.clone();
        async move {
            let (after, last) = cursor?;
            match store.audit_range(org, after, last, PAGE).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = page.last().map(|(s, _)| *s).unwrap_or(last);
                    let more = (next < last).then_some((next, last));
                    Some((Ok(page), more))
                }
                Err(e) => Some((Err(e.into()), None)),
            }
        }
    })
}

impl AuditTrail {
    /// A JSON Lines bundle as a byte stream.
    pub fn bundle_stream(
        &self,
        tenant: Tenant,
        head: Vec<String>,
        range: Option<Range>,
        tail: Vec<String>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        let org = tenant.id();
        use futures_util::StreamExt;
        let join = |lines: Vec<String>| {
            Bytes::from(lines.into_iter().map(|l| l + "\n").collect::<String>())
        };
        let events = event_pages(self.store.clone(), org, range).map(move |page| {
            page.map(|p| {
                let mut out = String::new();
                for (_, body) in p {
                    out.push_str("{\"type\":\"event\",\"event\":");
                    out.push_str(&body);
                    out.push_str("}\n");
                }
                Bytes::from(out)
            })
            .map_err(|e| std::io::Error::other(e.to_string()))
        });
        stream::once(async move { Ok(join(head)) })
            .chain(events)
            .chain(stream::once(async move { Ok(join(tail)) }))
    }
}

const CSV_COLUMNS: [&str; 20] = [
    "seq",
    "time",
    "org_id",
    "action",
    "outcome",
    "actor_kind",
    "actor_user_id",
    "actor_api_key_id",
    "session_id",
    "resource_type",
    "resource_id",
    "ip",
    "user_agent",
    "request_id",
    "count",
    "before",
    "after",
    "metadata",
    "prev_hash",
    "hash",
];

/// Spreadsheet-safe cell: a leading `=`, `+`, `-`, `@`, tab or CR would be
/// read as a formula, so it gets a leading apostrophe.
pub fn safe_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => safe_cell(s),
        other => safe_cell(&other.to_string()),
    }
}

fn csv_rows(page: &[(i64, String)], header: bool) -> Result<Bytes, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record(CSV_COLUMNS).map_err(fmt_err)?;
    }
    for (_, body) in page {
        let e: Value = serde_json::from_str(body).map_err(fmt_err)?;
        let a = &e["actor"];
        let row = [
            cell(&e["seq"]),
            cell(&e["time"]),
            cell(&e["org_id"]),
            cell(&e["action"]),
            cell(&e["outcome"]),
            cell(&a["kind"]),
            cell(&a["user_id"]),
            cell(&a["api_key_id"]),
            cell(&a["session_id"]),
            cell(&e["resource_type"]),
            cell(&e["resource_id"]),
            cell(&e["ip"]),
            cell(&e["user_agent"]),
            cell(&e["request_id"]),
            cell(&e["count"]),
            cell(&e["before"]),
            cell(&e["after"]),
            cell(&e["metadata"]),
            cell(&e["prev_hash"]),
            cell(&e["hash"]),
        ];
        w.write_record(&row).map_err(fmt_err)?;
    }
    Ok(Bytes::from(w.into_inner().map_err(fmt_err)?))
}

impl AuditTrail {
    /// CSV, one row per event, as a byte stream.
    pub fn csv_stream(
        &self,
        tenant: Tenant,
        range: Option<Range>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        let org = tenant.id();
        use futures_util::StreamExt;
        let header = stream::once(async {
            csv_rows(&[], true).map_err(|e| std::io::Error::other(e.to_string()))
        });
        let rows = event_pages(self.store.clone(), org, range).map(|page| {
            page.and_then(|p| csv_rows(&p, false))
                .map_err(|e| std::io::Error::other(e.to_string()))
        });
        header.chain(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formulas_are_neutralised() {
        for f in ["=SUM(A1)", "+1", "-1", "@cmd", "\t=1", "\r=1"] {
            assert!(safe_cell(f).starts_with('\''), "{f:?}");
        }
        assert_eq!(safe_cell("plain"), "plain");
    }
}
