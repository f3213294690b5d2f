//! Organizations, tiers and memberships. No HTTP types in here.
//!
//! Until the RBAC issue lands, authorization here is deliberately simple and
//! lives in one place ([`OrgAccess`]): a token must be scoped to the
//! organization it addresses (super admins excepted), members may read,
//! and changes need the `admin` role.

use loki_shared::api::{
    AddMemberRequest, CreateOrgRequest, Member, MyOrganization, Organization, UpdateOrgRequest,
};
use loki_shared::Tier;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::store::{NewOrg, OrgPatch, StoreError};
use crate::validate;

const NAME_MAX: usize = 200;

/// What a caller needs to do in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Admin,
    SuperAdmin,
}

/// A checked right to act in one organization.
pub struct OrgAccess {
    pub org: Organization,
    /// The caller's role, if a member (super admins may have none).
    pub role: Option<String>,
}

impl OrgAccess {
    pub async fn require(
        state: &AppState,
        principal: &Principal,
        org_id: Uuid,
        need: Need,
    ) -> Result<Self, AppError> {
        let superuser = principal.is_super_admin();
        if need == Need::SuperAdmin && !superuser {
            return Err(AppError::forbidden(
                "super_admin_required",
                "this action needs a super admin",
            ));
        }
        if principal.org != Some(org_id) && !superuser {
            return Err(AppError::forbidden(
                "wrong_organization",
                "the token is not scoped to this organization; switch organization first",
            ));
        }
        let org = state
            .store
            .org_by_id(org_id)
            .await?
            .filter(|o| o.deleted_at.is_none() || need == Need::SuperAdmin)
            .ok_or(AppError::NotFound {
                what: "organization",
            })?;
        let role = state
            .store
            .member(org_id, principal.user.id)
            .await?
            .map(|m| m.role);
        if !superuser {
            match (&role, need) {
                (None, _) => {
                    return Err(AppError::forbidden(
                        "not_a_member",
                        "you are not a member of this organization",
                    ))
                }
                (Some(r), Need::Admin) if r != "admin" => {
                    return Err(AppError::forbidden(
                        "admin_required",
                        "this action needs the admin role",
                    ))
                }
                _ => {}
            }
        }
        if let Some(r) = &role {
            crate::auth::service::require_mfa_policy(&org, r, &principal.user)?;
        }
        Ok(Self { org, role })
    }
}

pub async fn create(
    state: &AppState,
    principal: &Principal,
    req: CreateOrgRequest,
) -> Result<Organization, AppError> {
    principal.require_session()?;
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
        match state.store.create_org(new, principal.user.id).await {
            Err(StoreError::Conflict {
                code: "slug_taken", ..
            }) if given.is_none() && attempt < 5 => {
                attempt += 1;
            }
            other => {
                let org = other?;
                tracing::info!(org_id = %org.id, slug = %org.slug, "organization created");
                return Ok(org);
            }
        }
    }
}

pub async fn list_mine(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<MyOrganization>, AppError> {
    Ok(state.store.orgs_of_user(principal.user.id).await?)
}

pub async fn update(
    state: &AppState,
    principal: &Principal,
    org: Uuid,
    req: UpdateOrgRequest,
) -> Result<Organization, AppError> {
    // Requiring MFA of admins without having it would lock the caller out.
    if req
        .settings
        .as_ref()
        .is_some_and(|s| s.require_mfa_for_admins)
        && !principal.user.mfa_enabled
    {
        return Err(AppError::validation(
            "settings.require_mfa_for_admins",
            "enable MFA on your own account before requiring it of admins",
        ));
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
        settings: match req.settings {
            Some(s) if s.audit_retention_days == 0 || s.audit_retention_days > 36_500 => {
                return Err(AppError::validation(
                    "settings.audit_retention_days",
                    "must be between 1 and 36500",
                ))
            }
            other => other,
        },
    };
    if patch.name.is_none() && patch.slug.is_none() && patch.settings.is_none() {
        return Err(AppError::validation(
            "body",
            "nothing to update: give name, slug or settings",
        ));
    }
    Ok(state.store.update_org(org, patch).await?)
}

pub async fn set_tier(state: &AppState, org: Uuid, tier: Tier) -> Result<Organization, AppError> {
    let updated = state.store.set_org_tier(org, tier).await?;
    tracing::info!(org_id = %org, tier = %tier, "tier changed");
    Ok(updated)
}

pub async fn delete(state: &AppState, org: Uuid, hard: bool) -> Result<(), AppError> {
    if hard {
        state.store.hard_delete_org(org).await?;
    } else {
        state.store.soft_delete_org(org).await?;
    }
    tracing::info!(org_id = %org, hard, "organization deleted");
    Ok(())
}

pub async fn add_member(
    state: &AppState,
    access: &OrgAccess,
    req: AddMemberRequest,
) -> Result<Member, AppError> {
    let role = validate::role("role", &req.role)?;
    let user = match (req.user_id, req.email.as_deref()) {
        (Some(id), None) => state.store.user_by_id(id).await?,
        (None, Some(email)) => {
            state
                .store
                .user_by_email(&validate::email("email", email)?)
                .await?
        }
        _ => {
            return Err(AppError::validation(
                "email",
                "give exactly one of email or user_id",
            ))
        }
    }
    .ok_or(AppError::NotFound { what: "user" })?;
    let max = access.org.tier.limits().max_members;
    Ok(state
        .store
        .add_member(access.org.id, user.id, &role, max)
        .await?)
}

pub async fn change_role(
    state: &AppState,
    org: Uuid,
    user: Uuid,
    role: &str,
) -> Result<Member, AppError> {
    let role = validate::role("role", role)?;
    let current = state
        .store
        .member(org, user)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    if current.role == "admin" && role != "admin" {
        refuse_last_admin(state, org).await?;
    }
    Ok(state.store.set_member_role(org, user, &role).await?)
}

pub async fn remove_member(state: &AppState, org: Uuid, user: Uuid) -> Result<(), AppError> {
    let current = state
        .store
        .member(org, user)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    if current.role == "admin" {
        refuse_last_admin(state, org).await?;
    }
    Ok(state.store.remove_member(org, user).await?)
}

/// An organization always keeps at least one admin.
async fn refuse_last_admin(state: &AppState, org: Uuid) -> Result<(), AppError> {
    if state.store.count_members_with_role(org, "admin").await? <= 1 {
        return Err(AppError::conflict(
            "last_admin",
            "the organization must keep at least one admin",
        ));
    }
    Ok(())
}
