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
pub mod grants;
pub mod member_roles;
pub mod policy;
pub mod roles;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use loki_shared::permissions::{PermSet, Permission};
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use policy::{GrantEntry, GrantSubject, OrgPolicy, RoleDef};

pub use access::{admit_chain, OrgAccess, Tenant};

/// Even without an invalidation, snapshots are rebuilt this often (a safety
/// net should the kv store lose its counters).
const MAX_AGE: Duration = Duration::from_secs(300);
const VERSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Default)]
pub struct Authorizer {
    cache: RwLock<HashMap<Uuid, (Arc<OrgPolicy>, Instant)>>,
}

fn version_key(org: Uuid) -> String {
    format!("authz_version:{org}")
}

fn kv_err(e: crate::kv::KvError) -> AppError {
    AppError::Unavailable(e.to_string())
}

/// Parses stored permission names, skipping any the catalogue no longer has.
pub fn parse_permissions(json: &str) -> PermSet {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.parse::<Permission>().ok())
        .fold(PermSet::EMPTY, PermSet::with)
}

impl Authorizer {
    /// The organization's policy, rebuilt when another change was announced.
    pub async fn policy(&self, state: &AppState, org: Uuid) -> Result<Arc<OrgPolicy>, AppError> {
        // Read the counter before the data: a snapshot is never newer-labelled
        // than what it holds.
        let version = state
            .kv
            .get(&version_key(org))
            .await
            .map_err(kv_err)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<i64>().ok())
            .unwrap_or(0);
        if let Some((p, at)) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&org)
        {
            if p.version == version && at.elapsed() < MAX_AGE {
                return Ok(p.clone());
            }
        }
        let policy = Arc::new(load(state, org, version).await?);
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(org, (policy.clone(), Instant::now()));
        Ok(policy)
    }

    /// Announces a change of the organization's roles or grants.
    pub async fn invalidate(&self, state: &AppState, org: Uuid) -> Result<(), AppError> {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&org);
        state
            .kv
            .incr(&version_key(org), 1, VERSION_TTL)
            .await
            .map_err(kv_err)?;
        Ok(())
    }
}

async fn load(state: &AppState, org: Uuid, version: i64) -> Result<OrgPolicy, AppError> {
    let customs: Vec<RoleDef> = state
        .store
        .roles(org)
        .await?
        .into_iter()
        .map(|r| RoleDef {
            own: parse_permissions(&r.permissions),
            name: r.name,
            parent: r.parent,
        })
        .collect();
    let mut grants: HashMap<Uuid, Vec<GrantEntry>> = HashMap::new();
    for g in state.store.grants(org, None).await? {
        let Ok(permission) = g.permission.parse::<Permission>() else {
            continue;
        };
        let subject = match g.subject_type.as_str() {
            "user" => match g.subject.parse() {
                Ok(u) => GrantSubject::User(u),
                Err(_) => continue,
            },
            _ => GrantSubject::Role(g.subject),
        };
        grants.entry(g.resource_id).or_default().push(GrantEntry {
            id: g.id,
            subject,
            permission,
        });
    }
    Ok(OrgPolicy::build(version, &customs, grants))
}
