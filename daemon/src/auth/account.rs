//! A signed-in user's own account: password change, MFA settings, sessions;
//! and what an organization admin may do to a member's account.

use loki_shared::api::{
    ChangePasswordRequest, MfaCodeRequest, MfaConfirmResponse, MfaEnrollResponse,
    PasswordResetResponse, SessionInfo,
};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use super::password::check_policy;
use super::secrets::random_token;
use super::{sessions, Principal};
use crate::audit::Auditor;
use crate::audit::{self, Outcome};
use crate::auth::mfa::Mfa;
use crate::auth::password::PasswordHasherPool;
use crate::auth::renewal::Renewal;
use crate::auth::service::Identity;
use crate::auth::throttle::Throttle;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::rbac::OrgAccess;
use crate::rbac::Tenant;
use crate::store::DynStore;
use loki_shared::permissions::PermSet;

/// What a signed-in user does to their own account and sessions, and admins to members' accounts.
#[derive(Clone)]
pub struct Accounts {
    pub(crate) store: DynStore,
    pub(crate) kv: DynKv,
    pub(crate) passwords: PasswordHasherPool,
    pub(crate) auditor: Auditor,
    pub(crate) mfa: Mfa,
    pub(crate) renewal: Renewal,
    pub(crate) identity: Identity,
    pub(crate) throttle: Throttle,
}

impl Accounts {
    /// Changes the caller's password; every other session of theirs ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        req: ChangePasswordRequest,
    ) -> Result<u64, AppError> {
        let session = principal.require_own_account()?;
        let hash = self.store.password_hash(principal.user.id).await?;
        if !self.passwords.verify(req.current_password, hash).await? {
            self.auditor
                .record(principal.event(Action::UserPasswordChangeFailed, Outcome::Failure))
                .await?;
            return Err(AppError::unauthorized(
                "invalid_credentials",
                "the current password is incorrect",
            ));
        }
        check_policy(&req.new_password, &principal.user.email)?;
        let new_hash = self.passwords.hash(req.new_password).await?;
        // An account event: the system chain, committed with the change.
        let mut audit = audit::batch(
            principal
                .event(Action::UserPasswordChanged, Outcome::Success)
                .org(None)
                .resource("user", principal.user.id)
                .meta(serde_json::json!({"other_sessions_revoked": true})),
        );
        self.store
            .set_password(principal.user.id, new_hash, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        self.renewal
            .end_user_sessions(principal.user.id, Some(session.id), "password_changed")
            .await
    }

    /// An admin resets a member's password to a temporary one and ends all of
    /// the member's sessions. Accounts are shared across organizations, so an
    /// organization admin may do this only for an account the organization
    /// *manages*: created by accepting this organization's invitation, never a
    /// member of another organization since, not a super admin — and only when
    /// the admin holds every permission the member holds here. Super admins may
    /// reset anyone. Refusals are audited.
    pub async fn reset_password(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        target: Uuid,
    ) -> Result<PasswordResetResponse, AppError> {
        principal.require_session()?;
        let member = self
            .store
            .member(access.org().id, target)
            .await?
            .ok_or(AppError::NotFound { what: "member" })?;
        if target == principal.user.id {
            return Err(AppError::forbidden(
                "reset_not_allowed",
                "change your own password with POST /api/v1/auth/password",
            ));
        }
        if !principal.is_super_admin() {
            if let Err(e) = self.check_managed(access, target, &member).await {
                self.auditor
                    .record(
                        principal
                            .event(Action::UserPasswordReset, Outcome::Denied)
                            .org(Some(access.org().id))
                            .resource("user", target)
                            .meta(serde_json::json!({"reason": "not_managed"})),
                    )
                    .await?;
                return Err(e);
            }
        }
        let temporary_password = random_token(18);
        let hash = self.passwords.hash(temporary_password.clone()).await?;
        // Recorded on the organization's chain, in the password change's
        // transaction; every session ends right after it commits.
        let mut audit = audit::batch(
            principal
                .event(Action::UserPasswordReset, Outcome::Success)
                .org(Some(access.org().id))
                .resource("user", member.user_id)
                .meta(serde_json::json!({"all_sessions_revoked": true})),
        );
        self.store.set_password(target, hash, &mut audit).await?;
        self.auditor.committed(&audit).await?;
        let revoked_sessions = self
            .renewal
            .end_user_sessions(target, None, "password_reset")
            .await?;
        Ok(PasswordResetResponse {
            temporary_password,
            revoked_sessions,
        })
    }

    pub async fn mfa_enroll(&self, principal: &Principal) -> Result<MfaEnrollResponse, AppError> {
        principal.require_own_account()?;
        let mut audit = audit::batch(
            principal
                .event(Action::MfaEnrollmentStarted, Outcome::Success)
                .org(None)
                .resource("user", principal.user.id),
        );
        let enrolled = self
            .mfa
            .enroll(principal.user.id, &principal.user.email, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(enrolled)
    }

    pub async fn mfa_confirm(
        &self,
        principal: &Principal,
        req: MfaCodeRequest,
    ) -> Result<MfaConfirmResponse, AppError> {
        principal.require_own_account()?;
        let code = req
            .code
            .ok_or_else(|| AppError::validation("code", "is required"))?;
        let mut audit = audit::batch(
            principal
                .event(Action::MfaEnabled, Outcome::Success)
                .org(None)
                .resource("user", principal.user.id)
                .meta(serde_json::json!({"other_sessions_revoked": true})),
        );
        let session = principal.require_own_account()?.id;
        let confirmed = self
            .mfa
            .confirm(principal.user.id, &principal.user.email, &code, &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        // Sessions opened without the second factor end (this one stays).
        self.renewal
            .end_user_sessions(principal.user.id, Some(session), "mfa_enabled")
            .await?;
        Ok(confirmed)
    }

    pub async fn mfa_disable(
        &self,
        principal: &Principal,
        req: MfaCodeRequest,
    ) -> Result<(), AppError> {
        principal.require_own_account()?;
        let user = principal.user.id;
        self.throttle.check_account(&principal.user.email).await?;
        if let Err(e) = self
            .mfa
            .verify(
                user,
                &principal.user.email,
                req.code.as_deref(),
                req.recovery_code.as_deref(),
            )
            .await
        {
            self.auditor
                .record(principal.event(Action::MfaDisableFailed, Outcome::Failure))
                .await?;
            return Err(self
                .identity
                .second_factor_failed(&principal.user, &principal.client, e)
                .await?);
        }
        let mut audit = audit::batch(
            principal
                .event(Action::MfaDisabled, Outcome::Success)
                .org(None)
                .resource("user", user),
        );
        self.store.disable_mfa(user, &mut audit).await?;
        self.auditor.committed(&audit).await
    }

    pub async fn my_sessions(&self, principal: &Principal) -> Result<Vec<SessionInfo>, AppError> {
        // A person's sessions are theirs: not readable with an API key.
        principal.require_own_account()?;
        let current = principal.session_id();
        Ok(sessions::list_for_user(self.kv.as_ref(), principal.user.id)
            .await?
            .iter()
            .map(|s| s.info(current))
            .collect())
    }

    pub async fn revoke_my_session(&self, principal: &Principal, id: Uuid) -> Result<(), AppError> {
        principal.require_own_account()?;
        let s = sessions::get(self.kv.as_ref(), id)
            .await?
            .filter(|s| s.user_id == principal.user.id)
            .ok_or(AppError::NotFound { what: "session" })?;
        self.renewal.end_session(s.id, "revoked_by_user").await?;
        self.auditor
            .record(
                principal
                    .event(Action::SessionRevoked, Outcome::Success)
                    .resource("session", id),
            )
            .await
    }

    pub async fn logout(&self, principal: &Principal) -> Result<(), AppError> {
        let session = principal.require_session()?;
        self.renewal.end_session(session.id, "logout").await?;
        self.auditor
            .record(
                principal
                    .event(Action::AuthLogout, Outcome::Success)
                    .resource("session", session.id),
            )
            .await
    }

    pub async fn org_sessions(
        &self,
        tenant: Tenant,
        principal: &Principal,
    ) -> Result<Vec<SessionInfo>, AppError> {
        let org = tenant.id();
        let current = principal.session_id();
        Ok(sessions::list_for_org(self.kv.as_ref(), org)
            .await?
            .iter()
            .map(|s| s.info(current))
            .collect())
    }

    pub async fn revoke_org_session(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AppError> {
        let org = access.org().id;
        let s = sessions::get(self.kv.as_ref(), id)
            .await?
            .filter(|s| s.org_id == Some(org))
            .ok_or(AppError::NotFound { what: "session" })?;
        if s.user_id != principal.user.id {
            if let Err(e) = self.outranks(access, principal, s.user_id).await {
                self.auditor.record(principal
                    .event(Action::SessionRevoked, Outcome::Denied)
                    .org(Some(org))
                    .resource("session", id)
                    .meta(serde_json::json!({"user_id": s.user_id, "reason": "target_protected"})),
            )
            .await?;
                return Err(e);
            }
        }
        self.renewal.end_session(s.id, "revoked_by_admin").await?;
        self.auditor
            .record(
                principal
                    .event(Action::SessionRevoked, Outcome::Success)
                    .resource("session", id)
                    .meta(serde_json::json!({"user_id": s.user_id})),
            )
            .await
    }

    /// Ends a removed member's sessions in the organization, each audited
    /// on its chain (`session.revoked`, reason `member_removed`), so the
    /// report can measure the time from removal to revocation. Their
    /// sessions in other organizations stay.
    pub async fn end_removed_member_sessions(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        user: Uuid,
    ) -> Result<u64, AppError> {
        let org = access.org().id;
        let mut ended = 0u64;
        for s in sessions::list_for_org(self.kv.as_ref(), org).await? {
            if s.user_id != user {
                continue;
            }
            self.renewal.end_session(s.id, "member_removed").await?;
            self.auditor
                .record(
                    principal
                        .event(Action::SessionRevoked, Outcome::Success)
                        .org(Some(org))
                        .resource("session", s.id)
                        .meta(serde_json::json!({"user_id": user, "reason": "member_removed"})),
                )
                .await?;
            ended += 1;
        }
        Ok(ended)
    }

    /// The target is protected from the caller unless the caller holds, here,
    /// every permission the target holds; a super admin only from super admins.
    async fn outranks(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        target: Uuid,
    ) -> Result<(), AppError> {
        if principal.is_super_admin() {
            return Ok(());
        }
        let protected = |why: String| Err(AppError::forbidden("target_protected", why));
        let user = self.store.user_by_id(target).await?;
        if user.is_some_and(|u| u.is_super_admin) {
            return protected("a super admin's sessions are ended only by a super admin".into());
        }
        let Some(member) = self.store.member(access.org().id, target).await? else {
            return Ok(());
        };
        let missing = member_permissions(access, &member).minus(access.permissions());
        if missing == PermSet::EMPTY {
            return Ok(());
        }
        protected(format!(
            "this member holds permissions you do not: {}",
            missing.names().join(", ")
        ))
    }

    /// Is the target an account this organization manages, and weaker than
    /// (or as strong as) the caller here?
    async fn check_managed(
        &self,
        access: &OrgAccess,
        target: Uuid,
        member: &loki_shared::api::Member,
    ) -> Result<(), AppError> {
        let refuse = |why: &str| {
            Err(AppError::forbidden(
                "reset_not_allowed",
                format!("{why}; ask a super admin to reset this password"),
            ))
        };
        let user = self
            .store
            .user_by_id(target)
            .await?
            .ok_or(AppError::NotFound { what: "member" })?;
        if user.is_super_admin {
            return refuse("this account is a super admin");
        }
        if self.store.managed_by(target).await? != Some(access.org().id) {
            return refuse("this organization does not manage this account (it was not created by this organization's invitation, or it belongs or belonged to another organization)");
        }
        let theirs = member_permissions(access, member);
        access
            .require_at_least(theirs, "resetting this member's password")
            .await
    }
}

fn member_permissions(access: &OrgAccess, member: &loki_shared::api::Member) -> PermSet {
    member
        .roles
        .iter()
        .filter_map(|r| access.policy().role(r))
        .fold(PermSet::EMPTY, |a, b| a.union(b))
}
