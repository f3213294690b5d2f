//! A session's life after sign-in: refresh tokens that rotate (a reused
//! one revokes the whole family), ending sessions, switching organization
//! (which supersedes the tokens issued for the previous one).

use chrono::Utc;
use loki_shared::api::{SessionKind, SwitchOrgRequest, TokenResponse};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use super::secrets::sha256_hex;
use super::service::{resolve_membership, tokens, Started};
use super::sessions;
use super::Principal;
use crate::audit::{self, Event, Outcome};
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::state::AppState;

fn refresh_refused(code: &'static str, message: &str) -> AppError {
    AppError::unauthorized(code, message)
}

/// Rotates a refresh token: single use; a second use revokes the family
/// (the session) and with it every access token issued from it.
pub async fn refresh(
    state: &AppState,
    token: &str,
    client: &ClientInfo,
) -> Result<TokenResponse, AppError> {
    let record = state
        .store
        .refresh_token_by_hash(&sha256_hex(token.as_bytes()))
        .await?
        .ok_or_else(|| refresh_refused("invalid_refresh_token", "the refresh token is invalid"))?;
    let event = |action, outcome| {
        Event::new(action, outcome)
            .org(record.org_id)
            .actor(Some(record.user_id), Some(record.session_id))
            .client(client)
    };
    if record.family_revoked_at.is_some() {
        audit::record(state, event(Action::AuthRefreshRefused, Outcome::Denied)).await?;
        return Err(refresh_refused(
            "refresh_token_revoked",
            "the session was revoked; sign in again",
        ));
    }
    if !state.store.use_refresh_token(record.id).await? {
        // Reuse: someone holds a copy. End the whole family now.
        end_session(state, record.session_id, "refresh_token_reuse").await?;
        audit::record(
            state,
            event(Action::AuthRefreshTokenReused, Outcome::Denied),
        )
        .await?;
        return Err(refresh_refused(
            "refresh_token_reused",
            "this refresh token was already used; the session has been revoked",
        ));
    }
    if record.expires_at <= Utc::now() {
        return Err(refresh_refused(
            "refresh_token_expired",
            "the refresh token has expired; sign in again",
        ));
    }
    let session = sessions::get(state.kv.as_ref(), record.session_id)
        .await?
        .ok_or_else(|| {
            refresh_refused(
                "refresh_token_revoked",
                "the session was revoked; sign in again",
            )
        })?;
    let user = state
        .store
        .user_by_id(record.user_id)
        .await?
        .ok_or_else(|| refresh_refused("invalid_refresh_token", "the refresh token is invalid"))?;
    let org = match record.org_id {
        Some(org) => Some(resolve_membership(state, &user, &org.to_string()).await?),
        None => None,
    };
    audit::record(state, event(Action::AuthTokenRefreshed, Outcome::Success)).await?;
    tokens(
        state,
        Started {
            session,
            cookie: None,
            user,
            org,
        },
    )
    .await
}

/// Ends a session everywhere: the kv record (access tokens and cookies stop
/// at the next request) and its refresh family in the database.
pub async fn end_session(state: &AppState, session: Uuid, reason: &str) -> Result<(), AppError> {
    state.store.revoke_refresh_family(session, reason).await?;
    if let Some(s) = sessions::get(state.kv.as_ref(), session).await? {
        sessions::remove(state.kv.as_ref(), &s).await?;
    }
    Ok(())
}

/// Ends all of a user's sessions but `keep`; returns how many ended.
pub async fn end_user_sessions(
    state: &AppState,
    user: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<u64, AppError> {
    let mut ended = state
        .store
        .revoke_user_refresh_families(user, keep, reason)
        .await?;
    // Sessions listed only in the kv store (none expected) end too.
    for s in sessions::list_for_user(state.kv.as_ref(), user).await? {
        if Some(s.id) != keep && !ended.contains(&s.id) {
            ended.push(s.id);
        }
    }
    for id in &ended {
        if let Some(s) = sessions::get(state.kv.as_ref(), *id).await? {
            sessions::remove(state.kv.as_ref(), &s).await?;
        }
    }
    Ok(u64::try_from(ended.len()).unwrap_or(0))
}

pub async fn switch_org(
    state: &AppState,
    principal: &Principal,
    req: SwitchOrgRequest,
) -> Result<TokenResponse, AppError> {
    let session = principal.require_session()?.clone();
    if session.kind != SessionKind::Token {
        return Err(AppError::forbidden(
            "session_required",
            "browser sessions sign in again to switch organization",
        ));
    }
    let org = resolve_membership(state, &principal.user, &req.org).await?;
    let session = sessions::set_org(state.kv.as_ref(), session, org.id).await?;
    audit::record(
        state,
        principal
            .event(Action::AuthOrgSwitched, Outcome::Success)
            .org(Some(org.id))
            .meta(serde_json::json!({"from": principal.org})),
    )
    .await?;
    tokens(
        state,
        Started {
            session,
            cookie: None,
            user: principal.user.clone(),
            org: Some(org),
        },
    )
    .await
}
