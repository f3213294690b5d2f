//! Role-based access control: the permission decision (`policy`), the
//! per-organization policy cache and its invalidation across daemons, the
//! per-request access check (`access`), and role and grant management.
//!
//! Cache invalidation: every audited change in an organization (roles,
//! grants, members, its settings) bumps its counter in the kv store (Redis
//! when shared) as the change commits (`Auditor::committed`). Each request
//! reads that counter and reloads what moved, so a change made through one
//! daemon applies to the next request on every daemon.

pub mod access;
pub mod cache;
pub mod grants;
pub mod member_roles;
pub mod policy;
pub mod roles;

use loki_shared::permissions::{PermSet, Permission};

pub use access::{Admission, OrgAccess, Tenant};
pub use cache::Authorizer;

/// Parses stored permission names, skipping any the catalogue no longer has.
pub fn parse_permissions(json: &str) -> PermSet {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.parse::<Permission>().ok())
        .fold(PermSet::EMPTY, PermSet::with)
}

/// The organization's custom roles as the policy sees them.
pub(crate) async fn role_defs(
    store: &crate::store::DynStore,
    org: uuid::Uuid,
) -> Result<Vec<policy::RoleDef>, crate::error::AppError> {
    Ok(store
        .roles(org)
        .await?
        .into_iter()
        .map(|r| policy::RoleDef {
            own: parse_permissions(&r.permissions),
            name: r.name,
            parent: r.parent,
        })
        .collect())
}
