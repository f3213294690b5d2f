//! Role-based access control: the permission decision (`policy`), the
//! per-organization policy cache and its invalidation across daemons, the
//! per-request access check (`access`), and role and grant management.
//!
//! Cache invalidation: every change to an organization's roles or grants
//! bumps `authz_version:{org}` in the kv store (Redis when shared). Each
//! request reads that counter and rebuilds the cached snapshot when it
//! moved, so a change made through one daemon applies to the next request
//! on every daemon. Memberships are read from the database per request.

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
