//! Reading a chain back: search and single events, as stored (JSON).

use super::AuditTrail;
use uuid::Uuid;

use crate::error::AppError;
use crate::rbac::Tenant;
use crate::store::AuditFilter;

impl AuditTrail {
    /// Stored event bodies matching `filter`, newest first.
    pub async fn search(
        &self,
        tenant: Tenant,
        filter: AuditFilter,
    ) -> Result<Vec<String>, AppError> {
        Ok(self.store.audit_search(tenant.id(), filter).await?)
    }

    /// One stored event body.
    pub async fn event(&self, tenant: Tenant, id: Uuid) -> Result<String, AppError> {
        self.store
            .audit_event_by_id(tenant.id(), id)
            .await?
            .ok_or(AppError::NotFound {
                what: "audit event",
            })
    }
}
