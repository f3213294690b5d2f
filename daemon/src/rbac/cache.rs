//! The per-organization cache of what access decisions read, and its
//! invalidation across daemons: every committed change in an organization
//! bumps its counter (`kv::versions`); each request reads that counter and
//! reloads what moved. Shared by the
//! services that decide or change permissions.

use std::collections::HashMap;
use std::sync::Arc;

use loki_shared::api::Organization;
use loki_shared::permissions::Permission;
use uuid::Uuid;

use super::policy::{GrantEntry, GrantSubject, OrgPolicy};
use crate::error::AppError;
use crate::kv::versions::{self, VersionedCache};
use crate::kv::DynKv;
use crate::store::DynStore;

/// Membership entries kept at most (then all are dropped and reloaded).
const MEMBERS_MAX: usize = 100_000;

/// What a request needs to decide about an organization, cached per
/// version of its counter: the policy (roles and grants), the organization
/// row (tier, settings, deletion) and each member's roles.
pub struct Authorizer {
    store: DynStore,
    kv: DynKv,
    policies: VersionedCache<Uuid, Arc<OrgPolicy>>,
    orgs: VersionedCache<Uuid, Option<Organization>>,
    members: VersionedCache<(Uuid, Uuid), Option<Vec<String>>>,
}

fn kv_err(e: crate::kv::KvError) -> AppError {
    AppError::Unavailable(e.to_string())
}

impl Authorizer {
    pub fn new(store: DynStore, kv: DynKv) -> Self {
        Self {
            store,
            kv,
            policies: VersionedCache::new(usize::MAX),
            orgs: VersionedCache::new(usize::MAX),
            members: VersionedCache::new(MEMBERS_MAX),
        }
    }

    /// The organization's counter now. Read it before the data: an entry is
    /// never labelled newer than what it holds.
    pub async fn version(&self, org: Uuid) -> Result<i64, AppError> {
        versions::read(self.kv.as_ref(), &versions::org(org))
            .await
            .map_err(kv_err)
    }

    /// The organization's policy, rebuilt when another change was announced.
    pub async fn policy(&self, org: Uuid) -> Result<Arc<OrgPolicy>, AppError> {
        let version = self.version(org).await?;
        self.policy_at(org, version).await
    }

    /// The policy as of `version` (read with [`Self::version`] first).
    pub async fn policy_at(&self, org: Uuid, version: i64) -> Result<Arc<OrgPolicy>, AppError> {
        if let Some(p) = self.policies.get(&org, version) {
            return Ok(p);
        }
        let policy = Arc::new(load(&self.store, org, version).await?);
        self.policies.put(org, version, policy.clone());
        Ok(policy)
    }

    /// The organization's row as of `version` (soft-deleted ones included).
    pub async fn org_at(&self, org: Uuid, version: i64) -> Result<Option<Organization>, AppError> {
        if let Some(o) = self.orgs.get(&org, version) {
            return Ok(o);
        }
        let row = self.store.org_by_id(org).await?;
        self.orgs.put(org, version, row.clone());
        Ok(row)
    }

    /// The organization's row, at `known` (the version read with the
    /// caller's session) or at the version read now. Without the kv store
    /// the row is read from the database, uncached: the request path's
    /// limits and IP rules need it, and it is never stale that way.
    pub async fn org(
        &self,
        org: Uuid,
        known: Option<i64>,
    ) -> Result<Option<Organization>, AppError> {
        let version = match known {
            Some(v) => v,
            None => match self.version(org).await {
                Ok(v) => v,
                Err(_) => return Ok(self.store.org_by_id(org).await?),
            },
        };
        self.org_at(org, version).await
    }

    /// The roles `user` holds in `org` as of `version`; `None`: not a member.
    pub async fn member_roles_at(
        &self,
        org: Uuid,
        user: Uuid,
        version: i64,
    ) -> Result<Option<Vec<String>>, AppError> {
        if let Some(r) = self.members.get(&(org, user), version) {
            return Ok(r);
        }
        let roles = self.store.member(org, user).await?.map(|m| m.roles);
        self.members.put((org, user), version, roles.clone());
        Ok(roles)
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
