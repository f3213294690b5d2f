//! Members and the roles they hold: assigning, revoking and replacing
//! roles, removing members. Nobody hands out a role stronger than their
//! own, removes someone stronger, or leaves the organization without an
//! admin (checked again inside the store's transaction).

use loki_shared::api::Member;
use loki_shared::audit::actions::Action;
use loki_shared::permissions::PermSet;
use uuid::Uuid;

use super::{OrgAccess, Tenant};
use crate::audit::Auditor;
use crate::audit::{self, Outcome};
use crate::auth::Principal;
use crate::error::AppError;
use crate::store::DynStore;

/// Members of an organization and the roles they hold.
#[derive(Clone)]
pub struct Members {
    pub(crate) store: DynStore,
    pub(crate) auditor: Auditor,
}

/// Refuses unknown roles and roles stronger than the caller's own.
pub async fn check_assignable(access: &OrgAccess, role: &str) -> Result<(), AppError> {
    let set = access.policy().role(role).ok_or_else(|| {
        AppError::validation(
            "role",
            format!(
                "no role named `{}`",
                role.chars().take(64).collect::<String>()
            ),
        )
    })?;
    access
        .require_at_least(set, &format!("assigning `{role}`"))
        .await
}

impl Members {
    /// An organization always keeps at least one admin.
    async fn keep_an_admin(
        &self,
        org: Uuid,
        member: &Member,
        remaining: &[String],
    ) -> Result<(), AppError> {
        let loses_admin =
            member.roles.iter().any(|r| r == "admin") && !remaining.iter().any(|r| r == "admin");
        if loses_admin && self.store.count_members_with_role(org, "admin").await? <= 1 {
            return Err(AppError::conflict(
                "last_admin",
                "the organization must keep at least one admin",
            ));
        }
        Ok(())
    }

    /// One member of the organization.
    pub async fn member(&self, tenant: Tenant, user: Uuid) -> Result<Member, AppError> {
        self.store
            .member(tenant.id(), user)
            .await?
            .ok_or(AppError::NotFound { what: "member" })
    }

    /// The organization's members.
    pub async fn members(&self, tenant: Tenant) -> Result<Vec<Member>, AppError> {
        Ok(self.store.list_members(tenant.id()).await?)
    }

    pub async fn assign(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        user: Uuid,
        role: &str,
    ) -> Result<Member, AppError> {
        check_assignable(access, role).await?;
        let before = self.member(access.tenant(), user).await?;
        let mut wanted = before.roles.clone();
        wanted.push(role.to_owned());
        let mut audit = audit::batch(role_event(
            principal,
            Action::RoleAssigned,
            user,
            &before.roles,
            &wanted,
        ));
        let m = self
            .store
            .add_member_role(access.org().id, user, role, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(m)
    }

    pub async fn revoke(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        user: Uuid,
        role: &str,
    ) -> Result<Member, AppError> {
        let before = self.member(access.tenant(), user).await?;
        if !before.roles.iter().any(|r| r == role) {
            return Err(AppError::NotFound {
                what: "member role",
            });
        }
        // Taking a role away is handing out less, but only someone who could
        // assign it may revoke it.
        if let Some(set) = access.policy().role(role) {
            access
                .require_at_least(set, &format!("revoking `{role}`"))
                .await?;
        }
        let remaining: Vec<String> = before
            .roles
            .iter()
            .filter(|r| *r != role)
            .cloned()
            .collect();
        if remaining.is_empty() {
            return Err(AppError::conflict(
                "last_role",
                "a member keeps at least one role; remove the member instead",
            ));
        }
        self.keep_an_admin(access.org().id, &before, &remaining)
            .await?;
        let mut audit = audit::batch(role_event(
            principal,
            Action::RoleRevoked,
            user,
            &before.roles,
            &remaining,
        ));
        let m = self
            .store
            .remove_member_role(access.org().id, user, role, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(m)
    }

    /// Replaces a member's roles (`PATCH …/members/{user}`).
    pub async fn set(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        user: Uuid,
        roles: Vec<String>,
    ) -> Result<Member, AppError> {
        if roles.is_empty() || roles.len() > 16 {
            return Err(AppError::validation("roles", "give 1 to 16 roles"));
        }
        let mut roles = roles;
        roles.dedup();
        let before = self.member(access.tenant(), user).await?;
        for r in roles.iter().chain(before.roles.iter()) {
            check_assignable(access, r).await?;
        }
        self.keep_an_admin(access.org().id, &before, &roles).await?;
        let mut audit = audit::batch(role_event(
            principal,
            Action::MemberRoleChanged,
            user,
            &before.roles,
            &roles,
        ));
        let m = self
            .store
            .set_member_roles(access.org().id, user, &roles, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(m)
    }

    /// Removes a member (never the last admin).
    pub async fn remove_member(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        user: Uuid,
    ) -> Result<(), AppError> {
        let before = self.member(access.tenant(), user).await?;
        // The target is protected from a weaker caller: removing someone takes
        // holding everything they hold here.
        let theirs = before
            .roles
            .iter()
            .filter_map(|r| access.policy().role(r))
            .fold(PermSet::EMPTY, PermSet::union);
        access
            .require_at_least(theirs, "removing this member")
            .await?;
        self.keep_an_admin(access.org().id, &before, &[]).await?;
        let mut audit = audit::batch(
            principal
                .event(Action::MemberRemoved, Outcome::Success)
                .resource("member", user)
                .meta(
                    serde_json::json!({"before": {"roles": before.roles, "email": before.email}}),
                ),
        );
        self.store
            .remove_member(access.org().id, user, &mut audit)
            .await?;
        self.auditor.committed(&audit).await
    }
}

fn role_event(
    principal: &Principal,
    action: Action,
    user: Uuid,
    before: &[String],
    after: &[String],
) -> audit::Event {
    principal
        .event(action, Outcome::Success)
        .resource("member", user)
        .meta(serde_json::json!({"before": {"roles": before}, "after": {"roles": after}}))
}
