//! The per-request access check: is the caller in this organization, with
//! which roles, and may they do this? Every handler goes through here.

use loki_shared::audit::actions::Action;
use std::sync::Arc;

use loki_shared::api::Organization;
use loki_shared::permissions::{PermSet, Permission};
use uuid::Uuid;

use super::policy::{Decision, OrgPolicy, Subject};
use crate::audit::Auditor;
use crate::audit::Outcome;
use crate::auth::{Credential, Principal};
use crate::error::AppError;
use crate::rbac::cache::Authorizer;

/// Admits a caller to an organization and decides permissions (audits refusals).
#[derive(Clone)]
pub struct Admission {
    pub(crate) authz: Arc<Authorizer>,
    pub(crate) auditor: Auditor,
}

/// A caller admitted to one organization. Only [`Admission::open`] makes
/// one (after the admission checks), and from it comes the [`Tenant`]
/// capability the domain needs to reach the organization's data.
pub struct OrgAccess {
    org: Organization,
    subject: Subject,
    policy: Arc<OrgPolicy>,
    /// Where a refused escalation is recorded, and the event to record
    /// (the caller, the request, this organization's chain).
    auditor: Auditor,
    escalation: crate::audit::Event,
}

/// The capability to reach one chain of tenant data: an organization's,
/// or (for super admins reading the audit trail) the system chain. Only an
/// access decision hands one out ([`OrgAccess::tenant`], [`Admission::admit_chain`]),
/// and domain functions take it instead of an organization id, so a
/// handler cannot reach another organization by passing the wrong id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant(Uuid);

impl Tenant {
    /// The organization's id (the nil UUID for the system chain).
    pub fn id(self) -> Uuid {
        self.0
    }

    /// For maintenance jobs that act on every organization in turn
    /// (retention, periodic checkpoints): never from a request.
    pub(crate) fn for_maintenance(org: Uuid) -> Self {
        Self(org)
    }
}

impl Admission {
    /// Which chain a request reads: an organization's (admitted with `perm`),
    /// or the system chain (events with no organization), which only super
    /// admins read, signed in as themselves. A refusal is audited.
    pub async fn admit_chain(
        &self,
        principal: &Principal,
        org: Option<Uuid>,
        perm: Permission,
    ) -> Result<Tenant, AppError> {
        match org {
            Some(org_id) => Ok(self.require(principal, org_id, perm).await?.tenant()),
            None if principal.is_super_admin() && principal.api_key_id().is_none() => {
                Ok(Tenant(crate::audit::SYSTEM_CHAIN))
            }
            None => {
                self.auditor
                    .record(
                        principal.event(Action::AccessDenied, Outcome::Denied).meta(
                            serde_json::json!({"permission": Permission::SystemAudit.name()}),
                        ),
                    )
                    .await?;
                Err(AppError::PermissionDenied {
                    permission: Permission::SystemAudit,
                })
            }
        }
    }

    async fn refuse(
        &self,
        principal: &Principal,
        org: Uuid,
        err: AppError,
        reason: &str,
    ) -> AppError {
        let event = principal
            .event(Action::AccessDenied, Outcome::Denied)
            .org(Some(org))
            .meta(serde_json::json!({"reason": reason}));
        match self.auditor.record(event).await {
            Ok(()) => err,
            Err(e) => e,
        }
    }

    /// Admits the caller to the organization (scope, membership, MFA
    /// policy) without checking a permission yet.
    pub async fn open(&self, principal: &Principal, org_id: Uuid) -> Result<OrgAccess, AppError> {
        let superuser = principal.is_super_admin();
        if principal.org != Some(org_id) && !superuser {
            let e = AppError::forbidden(
                "wrong_organization",
                "the credential is not scoped to this organization; switch organization first",
            );
            return Err(self
                .refuse(principal, org_id, e, "wrong_organization")
                .await);
        }
        // One version of the organization for the whole decision: the one
        // read with the session when the credential is scoped here.
        let version = match principal.org_version {
            Some(v) if principal.org == Some(org_id) => v,
            _ => self.authz.version(org_id).await?,
        };
        let org = self
            .authz
            .org_at(org_id, version)
            .await?
            // Super admins still reach soft-deleted organizations (hard delete).
            .filter(|o| o.deleted_at.is_none() || superuser)
            .ok_or(AppError::NotFound {
                what: "organization",
            })?;
        let member = self
            .authz
            .member_roles_at(org_id, principal.user.id, version)
            .await?;
        let roles = match member {
            Some(roles) => roles,
            None if superuser => Vec::new(),
            // A super admin's key in an organization they are not a member
            // of acts as that organization's admin (cut to its scopes),
            // nothing beyond it.
            None if principal.user.is_super_admin && principal.api_key_id().is_some() => {
                vec!["admin".to_owned()]
            }
            None => {
                let e = AppError::forbidden(
                    "not_a_member",
                    "you are not a member of this organization",
                );
                return Err(self.refuse(principal, org_id, e, "not_a_member").await);
            }
        };
        let sso = principal.session().and_then(|s| s.sso);
        if principal.session().is_some() {
            // Checked on every request, so that requiring SSO also ends what
            // password sessions were already open (API keys are exempt).
            let vouched = sso.is_some_and(|o| o.org_id == org_id);
            if !vouched
                && !superuser
                && crate::auth::service::sso_required_for(&org, &principal.user)
            {
                return Err(self
                    .refuse(
                        principal,
                        org_id,
                        crate::auth::service::sso_required(),
                        "sso_required",
                    )
                    .await);
            }
        }
        let mfa = match sso {
            Some(o) => o.mfa,
            None => principal.user.mfa_enabled,
        };
        crate::auth::service::require_mfa_policy(&org, &roles, mfa)?;
        let scopes = match &principal.credential {
            Credential::ApiKey { scopes, .. } => Some(
                scopes
                    .iter()
                    .filter_map(|s| s.parse::<Permission>().ok())
                    .fold(PermSet::EMPTY, PermSet::with),
            ),
            Credential::Session(_) => None,
        };
        let policy = self.authz.policy_at(org_id, version).await?;
        Ok(OrgAccess {
            org,
            subject: Subject {
                user: principal.user.id,
                roles,
                super_admin: superuser,
                scopes,
            },
            policy,
            auditor: self.auditor.clone(),
            escalation: principal
                .event(Action::AccessEscalationRefused, Outcome::Denied)
                .org(Some(org_id)),
        })
    }

    /// Admits the caller and requires `perm` organization-wide.
    pub async fn require(
        &self,
        principal: &Principal,
        org_id: Uuid,
        perm: Permission,
    ) -> Result<OrgAccess, AppError> {
        let access = self.open(principal, org_id).await?;
        access.check(&self.auditor, principal, perm, None).await?;
        Ok(access)
    }
}

impl OrgAccess {
    /// The organization, as read when the caller was admitted.
    pub fn org(&self) -> &Organization {
        &self.org
    }

    /// Who the caller is here: roles, credential scopes.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// The organization's roles and grants, as decided with.
    pub fn policy(&self) -> &OrgPolicy {
        &self.policy
    }

    /// The capability to reach this organization's data.
    pub fn tenant(&self) -> Tenant {
        Tenant(self.org.id)
    }

    /// The decision for `perm` (on `resource`, when given); a denial is
    /// audited and returned as 403 naming the permission.
    pub async fn check(
        &self,
        auditor: &Auditor,
        principal: &Principal,
        perm: Permission,
        resource: Option<(&'static str, Uuid)>,
    ) -> Result<Decision, AppError> {
        let d = self
            .policy
            .decide(&self.subject, perm, resource.map(|r| r.1));
        if d.allowed {
            return Ok(d);
        }
        let mut event = principal
            .event(Action::AccessDenied, Outcome::Denied)
            .org(Some(self.org.id))
            .meta(serde_json::json!({"permission": perm.name(), "reason": d.reason}));
        if let Some((kind, id)) = resource {
            event = event.resource(kind, id);
        }
        auditor.record(event).await?;
        Err(AppError::PermissionDenied { permission: perm })
    }

    /// Everything the caller may do organization-wide (for escalation checks).
    pub fn permissions(&self) -> PermSet {
        self.policy.permissions_of(&self.subject)
    }

    /// Refuses handing out `wanted` unless the caller holds all of it: nobody
    /// can give more than they have. A refusal is audited on the
    /// organization's chain (`access.escalation_refused`).
    pub async fn require_at_least(&self, wanted: PermSet, what: &str) -> Result<(), AppError> {
        let missing = wanted.minus(self.permissions());
        if missing == PermSet::EMPTY {
            return Ok(());
        }
        self.auditor
            .record(self.escalation.clone().meta(serde_json::json!({
                "reason": "privilege_escalation",
                "what": what,
                "missing": missing.names(),
            })))
            .await?;
        Err(AppError::forbidden(
            "privilege_escalation",
            format!(
                "{what} would give permissions you do not hold: {}",
                missing.names().join(", ")
            ),
        ))
    }
}
