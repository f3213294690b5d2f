//! A signed-in user's own account: password change, MFA settings, sessions;
//! and what an organization admin may do to a member's account.

use loki_shared::api::{
    ChangePasswordRequest, MfaCodeRequest, MfaConfirmResponse, MfaEnrollResponse,
    PasswordResetResponse, SessionInfo,
};
use uuid::Uuid;

use super::password::check_policy;
use super::secrets::random_token;
use super::service::{end_session, end_user_sessions};
use super::{mfa, sessions, Principal};
use crate::app::AppState;
use crate::audit::{self, Outcome};
use crate::error::AppError;
use crate::rbac::OrgAccess;

/// Changes the caller's password; every other session of theirs ends.
pub async fn change_password(
    state: &AppState,
    principal: &Principal,
    req: ChangePasswordRequest,
) -> Result<u64, AppError> {
    let session = principal.require_session()?;
    let hash = state.store.password_hash(principal.user.id).await?;
    if !state.passwords.verify(req.current_password, hash).await? {
        audit::record(
            state,
            principal.event("user.password_change_failed", Outcome::Failure),
        )
        .await?;
        return Err(AppError::unauthorized(
            "invalid_credentials",
            "the current password is incorrect",
        ));
    }
    check_policy(&req.new_password, &principal.user.email)?;
    let new_hash = state.passwords.hash(req.new_password).await?;
    // An account event: the system chain, committed with the change.
    audit::stage(
        state,
        principal
            .event("user.password_changed", Outcome::Success)
            .org(None)
            .resource("user", principal.user.id)
            .meta(serde_json::json!({"other_sessions_revoked": true})),
    )
    .await?;
    state
        .store
        .set_password(principal.user.id, new_hash)
        .await?;
    end_user_sessions(
        state,
        principal.user.id,
        Some(session.id),
        "password_changed",
    )
    .await
}

/// An admin resets a member's password to a temporary one and ends all of
/// the member's sessions. Because accounts are shared across organizations,
/// an organization admin may only do this for users who belong to no other
/// organization; super admins may always.
pub async fn reset_password(
    state: &AppState,
    access: &OrgAccess,
    principal: &Principal,
    target: Uuid,
) -> Result<PasswordResetResponse, AppError> {
    principal.require_session()?;
    let member = state
        .store
        .member(access.org.id, target)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    if !principal.is_super_admin() {
        let orgs = state.store.orgs_of_user(target).await?;
        if orgs.iter().any(|o| o.organization.id != access.org.id) {
            return Err(AppError::forbidden(
                "reset_not_allowed",
                "this user also belongs to other organizations; ask a super admin to reset the password",
            ));
        }
    }
    let temporary_password = random_token(18);
    let hash = state.passwords.hash(temporary_password.clone()).await?;
    state.store.set_password(target, hash).await?;
    let revoked_sessions = end_user_sessions(state, target, None, "password_reset").await?;
    audit::record(
        state,
        principal
            .event("user.password_reset", Outcome::Success)
            .resource("user", member.user_id)
            .meta(serde_json::json!({"sessions_revoked": revoked_sessions})),
    )
    .await?;
    Ok(PasswordResetResponse {
        temporary_password,
        revoked_sessions,
    })
}

pub async fn mfa_enroll(
    state: &AppState,
    principal: &Principal,
) -> Result<MfaEnrollResponse, AppError> {
    principal.require_session()?;
    audit::stage(
        state,
        principal
            .event("mfa.enrollment_started", Outcome::Success)
            .org(None)
            .resource("user", principal.user.id),
    )
    .await?;
    mfa::enroll(state, principal.user.id, &principal.user.email).await
}

pub async fn mfa_confirm(
    state: &AppState,
    principal: &Principal,
    req: MfaCodeRequest,
) -> Result<MfaConfirmResponse, AppError> {
    principal.require_session()?;
    let code = req
        .code
        .ok_or_else(|| AppError::validation("code", "is required"))?;
    audit::stage(
        state,
        principal
            .event("mfa.enabled", Outcome::Success)
            .org(None)
            .resource("user", principal.user.id),
    )
    .await?;
    mfa::confirm(state, principal.user.id, &principal.user.email, &code).await
}

pub async fn mfa_disable(
    state: &AppState,
    principal: &Principal,
    req: MfaCodeRequest,
) -> Result<(), AppError> {
    principal.require_session()?;
    let user = principal.user.id;
    if let Err(e) = mfa::verify(
        state,
        user,
        &principal.user.email,
        req.code.as_deref(),
        req.recovery_code.as_deref(),
    )
    .await
    {
        audit::record(
            state,
            principal.event("mfa.disable_failed", Outcome::Failure),
        )
        .await?;
        return Err(e);
    }
    audit::stage(
        state,
        principal
            .event("mfa.disabled", Outcome::Success)
            .org(None)
            .resource("user", user),
    )
    .await?;
    Ok(state.store.disable_mfa(user).await?)
}

pub async fn my_sessions(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<SessionInfo>, AppError> {
    let current = principal.session_id();
    Ok(
        sessions::list_for_user(state.kv.as_ref(), principal.user.id)
            .await?
            .iter()
            .map(|s| s.info(current))
            .collect(),
    )
}

pub async fn revoke_my_session(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(), AppError> {
    principal.require_session()?;
    let s = sessions::get(state.kv.as_ref(), id)
        .await?
        .filter(|s| s.user_id == principal.user.id)
        .ok_or(AppError::NotFound { what: "session" })?;
    end_session(state, s.id, "revoked_by_user").await?;
    audit::record(
        state,
        principal
            .event("session.revoked", Outcome::Success)
            .resource("session", id),
    )
    .await
}

pub async fn logout(state: &AppState, principal: &Principal) -> Result<(), AppError> {
    let session = principal.require_session()?;
    end_session(state, session.id, "logout").await?;
    audit::record(
        state,
        principal
            .event("auth.logout", Outcome::Success)
            .resource("session", session.id),
    )
    .await
}

pub async fn org_sessions(
    state: &AppState,
    org: Uuid,
    principal: &Principal,
) -> Result<Vec<SessionInfo>, AppError> {
    let current = principal.session_id();
    Ok(sessions::list_for_org(state.kv.as_ref(), org)
        .await?
        .iter()
        .map(|s| s.info(current))
        .collect())
}

pub async fn revoke_org_session(
    state: &AppState,
    org: Uuid,
    principal: &Principal,
    id: Uuid,
) -> Result<(), AppError> {
    let s = sessions::get(state.kv.as_ref(), id)
        .await?
        .filter(|s| s.org_id == Some(org))
        .ok_or(AppError::NotFound { what: "session" })?;
    end_session(state, s.id, "revoked_by_admin").await?;
    audit::record(
        state,
        principal
            .event("session.revoked", Outcome::Success)
            .resource("session", id)
            .meta(serde_json::json!({"user_id": s.user_id})),
    )
    .await
}
