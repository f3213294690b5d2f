//! The per-organization policy cache and its invalidation across daemons:
//! every change to an organization's roles or grants bumps
//! `authz_version:{org}` in the kv store (Redis when shared); each request
//! reads that counter and rebuilds the snapshot when it moved. Shared by the
//! services that decide or change permissions.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use loki_shared::permissions::Permission;
use uuid::Uuid;

use super::policy::{GrantEntry, GrantSubject, OrgPolicy};
use crate::error::AppError;
use crate::kv::DynKv;
use crate::store::DynStore;

/// Even without an invalidation, snapshots are rebuilt this often (a safety
/// net should the kv store lose its counters).
const MAX_AGE: Duration = Duration::from_secs(300);
const VERSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

pub struct Authorizer {
    store: DynStore,
    kv: DynKv,
    cache: RwLock<HashMap<Uuid, (Arc<OrgPolicy>, Instant)>>,
}

fn version_key(org: Uuid) -> String {
    format!("authz_version:{org}")
}

fn kv_err(e: crate::kv::KvError) -> AppError {
    AppError::Unavailable(e.to_string())
}

impl Authorizer {
    pub fn new(store: DynStore, kv: DynKv) -> Self {
        Self {
            store,
            kv,
            cache: RwLock::default(),
        }
    }

    /// The organization's policy, rebuilt when another change was announced.
    pub async fn policy(&self, org: Uuid) -> Result<Arc<OrgPolicy>, AppError> {
        // Read the counter before the data: a snapshot is never newer-labelled
        // than what it holds.
        let version = self
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
        let policy = Arc::new(load(&self.store, org, version).await?);
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(org, (policy.clone(), Instant::now()));
        Ok(policy)
    }

    /// Announces a change of the organization's roles or grants.
    pub async fn invalidate(&self, org: Uuid) -> Result<(), AppError> {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&org);
        self.kv
            .incr(&version_key(org), 1, VERSION_TTL)
            .await
            .map_err(kv_err)?;
        Ok(())
    }
}

async fn load(store: &DynStore, org: Uuid, version: i64) -> Result<OrgPolicy, AppError> {
    let customs = super::role_defs(store, org).await?;
    let mut grants: HashMap<Uuid, Vec<GrantEntry>> = HashMap::new();
    for g in store.grants(org, None).await? {
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
