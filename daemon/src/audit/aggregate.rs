//! Flood aggregation for events that change nothing (denials, failures):
//! the first of a series is written at once; repeats of the same actor,
//! action, resource, outcome and details (metadata: the reason, the path)
//! within the window are counted and written
//! as one event with `count` when the window closes (or at shutdown) —
//! never dropped.

use std::time::Duration;

use crate::audit::Auditor;

pub use super::fold::Aggregator;

impl Auditor {
    /// Writes closed series; on failure they are retried at the next tick.
    pub async fn flush(&self, all: bool) {
        for e in self.aggregator.due(all) {
            let org = e.org_id;
            if let Err(err) = self.appender.append(org, e.clone()).await {
                tracing::error!(error = %err, action = %e.action, count = e.count, "could not write an aggregated audit event");
            } else {
                self.touched.touch(org);
            }
        }
    }
}

pub async fn periodic(auditor: Auditor) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        auditor.flush(false).await;
    }
}
