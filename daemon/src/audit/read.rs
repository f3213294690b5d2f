//! Reading a chain back: search and single events, as stored (JSON).

use uuid::Uuid;

use crate::error::AppError;
use crate::rbac::Tenant;
use crate::state::AppState;
use crate::store::AuditFilter;

/// Stored event bodies matching `filter`, newest first.
pub async fn search(
    state: &AppState,
    tenant: Tenant,
    filter: AuditFilter,
) -> Result<Vec<String>, AppError> {
    Ok(state.store.audit_search(tenant.id(), filter).await?)
}

/// One stored event body.
pub async fn event(state: &AppState, tenant: Tenant, id: Uuid) -> Result<String, AppError> {
    state
        .store
        .audit_event_by_id(tenant.id(), id)
        .await?
        .ok_or(AppError::NotFound {
            what: "audit event",
        })
}
