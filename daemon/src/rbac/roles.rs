//! Custom roles, with the escalation rules: nobody creates or changes a
//! role stronger than what they hold, and no organization role carries a
//! system permission. Handing roles to members: `member_roles`.

use loki_shared::audit::actions::Action;
use std::collections::HashMap;

use chrono::Utc;
use loki_shared::api::{CreateRoleRequest, RoleInfo, UpdateRoleRequest};
use loki_shared::permissions::{
    predefined_description, predefined_role, PermSet, Permission, PREDEFINED_ROLES,
};
use uuid::Uuid;

use super::policy::{effective, RoleDef, MAX_ROLE_DEPTH};
use super::{parse_permissions, OrgAccess};
use crate::audit::Auditor;
use crate::audit::{self, Outcome};
use crate::auth::Principal;
use crate::error::AppError;
use crate::rbac::cache::Authorizer;
use crate::rbac::Tenant;
use crate::store::DynStore;
use crate::store::{RolePatch, RoleRecord};
use std::sync::Arc;

/// Custom roles of an organization.
#[derive(Clone)]
pub struct Roles {
    pub(crate) store: DynStore,
    pub(crate) authz: Arc<Authorizer>,
    pub(crate) auditor: Auditor,
}

fn check_name(name: &str) -> Result<(), AppError> {
    let ok = (2..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(AppError::validation(
            "name",
            "2 to 64 characters: lowercase letters, digits and underscores, starting with a letter",
        ));
    }
    if predefined_role(name).is_some() || name == "super_admin" {
        return Err(AppError::validation(
            "name",
            format!("`{name}` is a predefined role"),
        ));
    }
    Ok(())
}

/// Parses permission names; system permissions never belong to org roles.
pub fn parse_names(field: &str, names: &[String]) -> Result<PermSet, AppError> {
    let mut set = PermSet::EMPTY;
    for n in names {
        let p: Permission =
            n.parse()
                .map_err(|e: loki_shared::permissions::UnknownPermission| {
                    AppError::validation(field, e.to_string())
                })?;
        if p.is_system() {
            return Err(AppError::validation(
                field,
                format!("{p} is a system permission; only super admins hold it"),
            ));
        }
        set = set.with(p);
    }
    Ok(set)
}

fn info(name: &str, own: PermSet, eff: PermSet, r: Option<&RoleRecord>) -> RoleInfo {
    RoleInfo {
        name: name.to_owned(),
        description: r
            .map(|r| r.description.clone())
            .unwrap_or_else(|| predefined_description(name).to_owned()),
        predefined: r.is_none(),
        parent: r.and_then(|r| r.parent.clone()),
        permissions: own.names(),
        effective_permissions: eff.names(),
        created_at: r.map(|r| r.created_at),
        updated_at: r.map(|r| r.updated_at),
    }
}

impl Roles {
    pub async fn list(&self, tenant: Tenant) -> Result<Vec<RoleInfo>, AppError> {
        let org = tenant.id();
        let records = self.store.roles(org).await?;
        let policy = self.authz.policy(org).await?;
        let mut out: Vec<RoleInfo> = PREDEFINED_ROLES
            .iter()
            .map(|n| {
                let set = predefined_role(n).unwrap_or_default();
                info(n, set, set, None)
            })
            .collect();
        for r in &records {
            let own = parse_permissions(&r.permissions);
            out.push(info(
                &r.name,
                own,
                policy.role(&r.name).unwrap_or(own),
                Some(r),
            ));
        }
        Ok(out)
    }

    pub async fn get(&self, tenant: Tenant, name: &str) -> Result<RoleInfo, AppError> {
        self.list(tenant)
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or(AppError::NotFound { what: "role" })
    }

    /// The custom roles as the policy sees them, with `change` applied.
    async fn defs_with(
        &self,
        org: Uuid,
        change: Option<RoleDef>,
    ) -> Result<Vec<RoleDef>, AppError> {
        let mut defs = super::role_defs(&self.store, org).await?;
        if let Some(c) = change {
            defs.retain(|d| d.name != c.name);
            defs.push(c);
        }
        Ok(defs)
    }

    pub async fn create(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        req: CreateRoleRequest,
    ) -> Result<RoleInfo, AppError> {
        check_name(&req.name)?;
        let own = parse_names("permissions", &req.permissions)?;
        let description = req
            .description
            .as_deref()
            .map(|d| crate::validate::name("description", d, 500))
            .transpose()?
            .unwrap_or_default();
        let def = RoleDef {
            name: req.name.clone(),
            own,
            parent: req.parent.clone(),
        };
        let eff = resolve(
            &self.defs_with(access.org().id, Some(def)).await?,
            &req.name,
        )?;
        access.require_at_least(eff, "this role").await?;
        let now = Utc::now();
        let mut audit = audit::batch(
        principal
            .event(Action::RoleCreated, Outcome::Success)
            .resource("role", &req.name)
            .meta(serde_json::json!({"after": {"permissions": own.names(), "parent": req.parent}})),
    );
        self.store
            .create_role(
                RoleRecord {
                    id: Uuid::now_v7(),
                    org_id: access.org().id,
                    name: req.name.clone(),
                    description,
                    permissions: serde_json::to_string(&own.names())
                        .map_err(|e| AppError::Internal(e.into()))?,
                    parent: req.parent.clone(),
                    created_at: now,
                    updated_at: now,
                },
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        self.get(access.tenant(), &req.name).await
    }

    pub async fn update(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        name: &str,
        req: UpdateRoleRequest,
    ) -> Result<RoleInfo, AppError> {
        let org = access.org().id;
        let defs = self.defs_with(org, None).await?;
        let current = defs
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .ok_or_else(|| {
                if predefined_role(name).is_some() {
                    AppError::forbidden(
                        "predefined_role",
                        "predefined roles cannot be changed; create a custom role",
                    )
                } else {
                    AppError::NotFound { what: "role" }
                }
            })?;
        let before = resolve(&defs, name)?;
        let own = match &req.permissions {
            Some(p) => parse_names("permissions", p)?,
            None => current.own,
        };
        let parent = if req.clear_parent {
            None
        } else {
            req.parent.clone().or(current.parent.clone())
        };
        let changed = RoleDef {
            name: name.to_owned(),
            own,
            parent: parent.clone(),
        };
        let after = resolve(&self.defs_with(org, Some(changed)).await?, name)?;
        // Neither a role stronger than you, nor the result, may be touched.
        access
            .require_at_least(before.union(after), "changing this role")
            .await?;
        let description = req
            .description
            .as_deref()
            .map(|d| crate::validate::name("description", d, 500))
            .transpose()?;
        let mut audit = audit::batch(principal
            .event(Action::RoleUpdated, Outcome::Success)
            .resource("role", name)
            .meta(serde_json::json!({
                "before": {"permissions": current.own.names(), "parent": current.parent, "effective": before.names()},
                "after": {"permissions": own.names(), "parent": parent, "effective": after.names()},
            })),
    );
        self.store
            .update_role(
                org,
                name,
                RolePatch {
                    description,
                    permissions: req
                        .permissions
                        .as_ref()
                        .map(|_| serde_json::to_string(&own.names()))
                        .transpose()
                        .map_err(|e| AppError::Internal(e.into()))?,
                    parent: (req.clear_parent || req.parent.is_some()).then_some(parent.clone()),
                },
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        self.get(access.tenant(), name).await
    }

    pub async fn delete(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        name: &str,
        reassign_to: Option<&str>,
    ) -> Result<(), AppError> {
        let org = access.org().id;
        if predefined_role(name).is_some() {
            return Err(AppError::forbidden(
                "predefined_role",
                "predefined roles cannot be deleted",
            ));
        }
        let defs = self.defs_with(org, None).await?;
        if !defs.iter().any(|d| d.name == name) {
            return Err(AppError::NotFound { what: "role" });
        }
        if let Some(child) = defs.iter().find(|d| d.parent.as_deref() == Some(name)) {
            return Err(AppError::conflict(
                "role_has_children",
                format!(
                    "role `{}` inherits from this role; change it first",
                    child.name
                ),
            ));
        }
        access
            .require_at_least(resolve(&defs, name)?, "deleting this role")
            .await?;
        if let Some(to) = reassign_to {
            if to == name {
                return Err(AppError::validation("reassign_to", "must be another role"));
            }
            let target = access.policy().role(to).ok_or_else(|| {
                AppError::validation("reassign_to", format!("no role named `{to}`"))
            })?;
            access
                .require_at_least(target, "reassigning to that role")
                .await?;
        }
        let mut audit = audit::batch(
            principal
                .event(Action::RoleDeleted, Outcome::Success)
                .resource("role", name)
                .meta(serde_json::json!({"reassigned_to": reassign_to})),
        );
        self.store
            .delete_role(org, name, reassign_to, &mut audit)
            .await?;
        // Committing announces the change to every daemon's caches.
        self.auditor.committed(&audit).await
    }
}

/// Effective permissions of `name` after the change; refuses unknown
/// parents, cycles and chains deeper than the limit.
fn resolve(defs: &[RoleDef], name: &str) -> Result<PermSet, AppError> {
    let by_name: HashMap<&str, &RoleDef> = defs.iter().map(|d| (d.name.as_str(), d)).collect();
    if let Some(parent) = by_name.get(name).and_then(|d| d.parent.as_deref()) {
        if predefined_role(parent).is_none() && !by_name.contains_key(parent) {
            return Err(AppError::validation(
                "parent",
                format!("no role named `{parent}`"),
            ));
        }
    }
    effective(name, &by_name).ok_or_else(|| {
        AppError::validation(
            "parent",
            format!("the parent chain would form a cycle or exceed {MAX_ROLE_DEPTH} levels"),
        )
    })
}
