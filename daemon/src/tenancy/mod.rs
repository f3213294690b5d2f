//! Organizations, tiers and memberships. No HTTP types in here.
//!
//! Handlers admit the caller with [`crate::rbac::OrgAccess`] first; what is
//! here assumes the permission was granted.

pub mod invitations;
pub mod snapshot;

use loki_shared::api::{
    CreateOrgRequest, MyOrganization, OrgSettings, Organization, UpdateOrgRequest,
};
use loki_shared::audit::actions::Action;
use loki_shared::Tier;
use uuid::Uuid;

use crate::audit::Auditor;
use crate::audit::{self, Outcome};
use crate::auth::api_keys::ApiKeys;
use crate::auth::Principal;
use crate::error::AppError;
use crate::rbac::member_roles::Members;
use crate::rbac::roles::Roles;
use crate::rbac::OrgAccess;
use crate::store::DynStore;
use crate::store::{NewOrg, OrgPatch, StoreError};
use crate::validate;

/// Organizations: creation, settings, tiers, deletion, the report snapshot.
#[derive(Clone)]
pub struct Tenancy {
    pub(crate) store: DynStore,
    pub(crate) auditor: Auditor,
    pub(crate) api_keys: ApiKeys,
    pub(crate) members: Members,
    pub(crate) roles: Roles,
}

const NAME_MAX: usize = 200;

impl Tenancy {
    pub async fn create(
        &self,
        principal: &Principal,
        req: CreateOrgRequest,
    ) -> Result<Organization, AppError> {
        principal.require_own_account()?;
        let name = validate::name("name", &req.name, NAME_MAX)?;
        let given = req
            .slug
            .as_deref()
            .map(|s| validate::slug("slug", s))
            .transpose()?;
        let base = given.clone().unwrap_or_else(|| validate::slugify(&name));
        // A derived slug that is taken gets a short random suffix; a slug the
        // caller chose is theirs to change, so that conflict is reported.
        let mut attempt = 0;
        loop {
            let slug = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{:04x}", rand::random::<u16>())
            };
            let new = NewOrg {
                id: Uuid::now_v7(),
                slug,
                name: name.clone(),
            };
            let id = new.id;
            let mut audit = audit::batch(principal
                .event(Action::OrgCreated, Outcome::Success)
                .org(Some(id))
                .resource("organization", id)
                .meta(serde_json::json!({"after": {"name": new.name, "slug": new.slug, "tier": Tier::Free}})),
        );
            match self
                .store
                .create_org(new, principal.user.id, &mut audit)
                .await
            {
                Err(StoreError::Conflict {
                    code: "slug_taken", ..
                }) if given.is_none() && attempt < 5 => {
                    attempt += 1; // the batch went with the failed write
                }
                other => {
                    let created = other?;
                    self.auditor.committed(&audit).await?;
                    return Ok(created);
                }
            }
        }
    }

    /// The caller's organizations (a provider-started session sees only its own).
    pub async fn list_mine(&self, principal: &Principal) -> Result<Vec<MyOrganization>, AppError> {
        let mut mine = self.store.orgs_of_user(principal.user.id).await?;
        if let Some(org) = principal.pinned_org() {
            mine.retain(|m| m.organization.id == org);
        }
        Ok(mine)
    }

    /// Renames and changes settings. Settings are security settings: they need
    /// `security:update` on top of `org:update`.
    pub async fn update(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        req: UpdateOrgRequest,
    ) -> Result<Organization, AppError> {
        let org = access.org().id;
        if req.settings.is_some() {
            access
                .check(
                    &self.auditor,
                    principal,
                    loki_shared::Permission::SecurityUpdate,
                    None,
                )
                .await?;
        }
        let patch = OrgPatch {
            name: req
                .name
                .as_deref()
                .map(|n| validate::name("name", n, NAME_MAX))
                .transpose()?,
            slug: req
                .slug
                .as_deref()
                .map(|s| validate::slug("slug", s))
                .transpose()?,
            settings: req
                .settings
                .map(|s| check_settings(s, principal))
                .transpose()?,
        };
        if patch.name.is_none() && patch.slug.is_none() && patch.settings.is_none() {
            return Err(AppError::validation(
                "body",
                "nothing to update: give name, slug or settings",
            ));
        }
        if let Some(settings) = &patch.settings {
            self.check_sso_policy(access, principal, settings).await?;
        }
        let action = if patch.settings.is_some() {
            Action::SecuritySettingsChanged
        } else {
            Action::OrgUpdated
        };
        let before = &access.org();
        let mut audit = audit::batch(
        principal
            .event(action, Outcome::Success)
            .resource("organization", org)
            .meta(serde_json::json!({
                "before": {"name": before.name, "slug": before.slug, "settings": before.settings},
                "after": {
                    "name": patch.name.as_ref().unwrap_or(&before.name),
                    "slug": patch.slug.as_ref().unwrap_or(&before.slug),
                    "settings": patch.settings.as_ref().unwrap_or(&before.settings),
                },
            })),
    );
        let updated = self.store.update_org(org, patch, &mut audit).await?;
        self.auditor.committed(&audit).await?;
        Ok(updated)
    }

    /// Requiring single sign-on needs an identity provider to sign in with,
    /// a break-glass user who is an admin of the organization, and must not
    /// lock out the caller's own password session.
    async fn check_sso_policy(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        s: &OrgSettings,
    ) -> Result<(), AppError> {
        let org = access.org().id;
        if let Some(user) = s.sso_break_glass_user {
            let admin = self
                .store
                .member(org, user)
                .await?
                .is_some_and(|m| m.roles.iter().any(|r| r == "admin"));
            if !admin {
                return Err(AppError::validation(
                    "settings.sso_break_glass_user",
                    "must be a member of this organization with the admin role",
                ));
            }
        }
        if !s.require_sso {
            return Ok(());
        }
        if self.store.idps(org).await?.is_empty() {
            return Err(AppError::validation(
                "settings.require_sso",
                "add an identity provider before requiring single sign-on",
            ));
        }
        if s.sso_break_glass_user.is_none() {
            return Err(AppError::validation(
                "settings.sso_break_glass_user",
                "name the admin who may still sign in with a password when the identity provider is down",
            ));
        }
        let vouched = principal
            .session()
            .and_then(|x| x.sso)
            .is_some_and(|o| o.org_id == org);
        let own_session = principal.session().is_some() && !principal.is_super_admin();
        if own_session && !vouched && s.sso_break_glass_user != Some(principal.user.id) {
            return Err(AppError::validation(
                "settings.require_sso",
                "this would end your own password session: sign in through the identity provider first, or name yourself the break-glass admin",
            ));
        }
        Ok(())
    }

    pub async fn set_tier(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        tier: Tier,
    ) -> Result<Organization, AppError> {
        let mut audit = audit::batch(
        principal
            .event(Action::OrgTierChanged, Outcome::Success)
            .org(Some(access.org().id))
            .resource("organization", access.org().id)
            .meta(
                serde_json::json!({"before": {"tier": access.org().tier}, "after": {"tier": tier}}),
            ),
    );
        let updated = self
            .store
            .set_org_tier(access.org().id, tier, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(updated)
    }

    pub async fn delete(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        hard: bool,
    ) -> Result<(), AppError> {
        let org = access.org().id;
        let mut audit = audit::batch(
            principal
                .event(
                    if hard {
                        Action::OrgPurged
                    } else {
                        Action::OrgDeleted
                    },
                    Outcome::Success,
                )
                // A purged organization's chain is gone with it: the system
                // chain keeps the record of the purge.
                .org(if hard { None } else { Some(org) })
                .resource("organization", org)
                .meta(serde_json::json!({"before": access.org()})),
        );
        if hard {
            self.store.hard_delete_org(org, &mut audit).await?;
        } else {
            self.store.soft_delete_org(org, &mut audit).await?;
        }
        self.auditor.committed(&audit).await
    }
}

/// Most networks in one IP list of an organization.
const IP_LIST_MAX: usize = 256;

/// Validates new settings, refusing those that would lock the caller out.
fn check_settings(mut s: OrgSettings, principal: &Principal) -> Result<OrgSettings, AppError> {
    if s.audit_retention_days == 0 || s.audit_retention_days > 36_500 {
        return Err(AppError::validation(
            "settings.audit_retention_days",
            "must be between 1 and 36500",
        ));
    }
    if s.require_mfa_for_admins && !principal.user.mfa_enabled {
        return Err(AppError::validation(
            "settings.require_mfa_for_admins",
            "enable MFA on your own account before requiring it of admins",
        ));
    }
    for (field, list) in [
        ("settings.ip_allow", &mut s.ip_allow),
        ("settings.ip_deny", &mut s.ip_deny),
    ] {
        if list.len() > IP_LIST_MAX {
            return Err(AppError::validation(
                field,
                format!("at most {IP_LIST_MAX} networks"),
            ));
        }
        // Store networks, not hosts with a prefix (10.1.2.3/8 -> 10.0.0.0/8).
        for net in list.iter_mut() {
            *net = net.trunc();
        }
        list.sort();
        list.dedup();
    }
    // Super admins are not bound by an organization's IP rules.
    if !principal.is_super_admin() {
        let ip = principal.client.ip;
        if let Err(refusal) = crate::security::ip::check(&s.ip_allow, &s.ip_deny, ip) {
            let field = match refusal {
                crate::security::ip::Refusal::Denied => "settings.ip_deny",
                crate::security::ip::Refusal::NotAllowed => "settings.ip_allow",
            };
            return Err(AppError::validation(
                field,
                format!("these rules would refuse your own address ({ip}); include it or change them from an allowed address"),
            ));
        }
    }
    Ok(s)
}
