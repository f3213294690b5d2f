//! Retention: events older than the organization's `audit_retention_days`
//! are purged behind a signed checkpoint at the last purged event, so what
//! remains still verifies (the checkpoint anchors the first kept event).

use super::AuditTrail;
use loki_shared::audit::actions::Action;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use super::{Event, Outcome};
use crate::error::AppError;
use crate::rbac::Tenant;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PurgeResult {
    pub purged_events: u64,
    /// The last purged seq (anchored by a signed checkpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through_seq: Option<i64>,
    pub retention_days: u32,
}

impl AuditTrail {
    /// Purges what is past retention; `event` is the audit event to record
    /// with the purge (its actor), in the same transaction.
    pub async fn purge(
        &self,
        tenant: Tenant,
        retention_days: u32,
        event: Event,
    ) -> Result<PurgeResult, AppError> {
        let org = tenant.id();
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(retention_days));
        let Some(upto) = self.store.audit_last_before(org, cutoff).await? else {
            return Ok(PurgeResult {
                purged_events: 0,
                through_seq: None,
                retention_days,
            });
        };
        self.auditor.checkpoint_at(org, upto).await?;
        let mut audit = super::batch(event.meta(
            serde_json::json!({"purged_through_seq": upto, "retention_days": retention_days}),
        ));
        let purged = self.store.purge_audit(org, upto, &mut audit).await?;
        self.auditor.committed(&audit).await?;
        Ok(PurgeResult {
            purged_events: purged,
            through_seq: Some(upto),
            retention_days,
        })
    }
}

/// Hourly: applies every organization's retention.
pub async fn periodic(trail: AuditTrail) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        // Sign-in failures past their counting window are forgotten.
        if let Err(e) = trail.throttle.purge_old().await {
            tracing::warn!(error = %e, "retention: cannot purge old sign-in failures");
        }
        let orgs = match trail.store.org_ids().await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "retention: cannot list organizations");
                continue;
            }
        };
        for org in orgs {
            let job = async {
                let Some(o) = trail.store.org_by_id(org).await? else {
                    return Ok(());
                };
                let e = Event::new(Action::AuditPurged, Outcome::Success).org(Some(org));
                trail
                    .purge(
                        Tenant::for_maintenance(org),
                        o.settings.audit_retention_days,
                        e,
                    )
                    .await
                    .map(|_| ())
            };
            let r: Result<(), AppError> = job.await;
            if let Err(e) = r {
                tracing::warn!(error = %e, org_id = %org, "retention purge failed");
            }
        }
    }
}
