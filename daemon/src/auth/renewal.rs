//! A session's life after sign-in: refresh tokens that rotate (a reused
//! one revokes the whole family), ending sessions, switching organization
//! (which supersedes the tokens issued for the previous one).

use chrono::Utc;
use loki_shared::api::{SessionKind, SwitchOrgRequest, TokenResponse};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use super::secrets::sha256_hex;
use super::service::Started;
use super::sessions;
use super::Principal;
use crate::audit::Auditor;
use crate::audit::{Event, Outcome};
use crate::auth::service::Identity;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::store::DynStore;

/// Refresh-token rotation, organization switch, ending sessions.
#[derive(Clone)]
pub struct Renewal {
    pub(crate) store: DynStore,
    pub(crate) kv: DynKv,
    pub(crate) auditor: Auditor,
    pub(crate) identity: Identity,
}

fn refresh_refused(code: &'static str, message: &str) -> AppError {
    AppError::unauthorized(code, message)
}

impl Renewal {
    /// Rotates a refresh token: single use; a second use revokes the family
    /// (the session) and with it every access token issued from it.
    pub async fn refresh(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<TokenResponse, AppError> {
        let record = self
            .store
            .refresh_token_by_hash(&sha256_hex(token.as_bytes()))
            .await?
            .ok_or_else(|| {
                refresh_refused("invalid_refresh_token", "the refresh token is invalid")
            })?;
        let event = |action, outcome| {
            Event::new(action, outcome)
                .org(record.org_id)
                .actor(Some(record.user_id), Some(record.session_id))
                .client(client)
        };
        if record.family_revoked_at.is_some() {
            self.auditor
                .record(event(Action::AuthRefreshRefused, Outcome::Denied))
                .await?;
            return Err(refresh_refused(
                "refresh_token_revoked",
                "the session was revoked; sign in again",
            ));
        }
        if !self.store.use_refresh_token(record.id).await? {
            // Reuse: someone holds a copy. End the whole family now.
            self.end_session(record.session_id, "refresh_token_reuse")
                .await?;
            self.auditor
                .record(event(Action::AuthRefreshTokenReused, Outcome::Denied))
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
        let session = sessions::get(self.kv.as_ref(), record.session_id)
            .await?
            .ok_or_else(|| {
                refresh_refused(
                    "refresh_token_revoked",
                    "the session was revoked; sign in again",
                )
            })?;
        let user = self
            .store
            .user_by_id(record.user_id)
            .await?
            .ok_or_else(|| {
                refresh_refused("invalid_refresh_token", "the refresh token is invalid")
            })?;
        let org = match record.org_id {
            Some(org) => Some(
                self.identity
                    .resolve_membership(
                        &user,
                        &org.to_string(),
                        event(Action::AuthMembershipRefused, Outcome::Denied),
                        session.sso,
                    )
                    .await?,
            ),
            None => None,
        };
        self.auditor
            .record(event(Action::AuthTokenRefreshed, Outcome::Success))
            .await?;
        self.identity
            .tokens(Started {
                session,
                cookie: None,
                user,
                org,
            })
            .await
    }

    /// Ends a session everywhere: the kv record (access tokens and cookies stop
    /// at the next request) and its refresh family in the database.
    pub async fn end_session(&self, session: Uuid, reason: &str) -> Result<(), AppError> {
        self.store.revoke_refresh_family(session, reason).await?;
        if let Some(s) = sessions::get(self.kv.as_ref(), session).await? {
            sessions::remove(self.kv.as_ref(), &s).await?;
        }
        Ok(())
    }

    /// Ends all of a user's sessions but `keep`; returns how many ended.
    pub async fn end_user_sessions(
        &self,
        user: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> Result<u64, AppError> {
        let mut ended = self
            .store
            .revoke_user_refresh_families(user, keep, reason)
            .await?;
        // Sessions listed only in the kv store (none expected) end too.
        for s in sessions::list_for_user(self.kv.as_ref(), user).await? {
            if Some(s.id) != keep && !ended.contains(&s.id) {
                ended.push(s.id);
            }
        }
        for id in &ended {
            if let Some(s) = sessions::get(self.kv.as_ref(), *id).await? {
                sessions::remove(self.kv.as_ref(), &s).await?;
            }
        }
        Ok(u64::try_from(ended.len()).unwrap_or(0))
    }

    pub async fn switch_org(
        &self,
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
        let org = self
            .identity
            .resolve_membership(
                &principal.user,
                &req.org,
                principal.event(Action::AuthMembershipRefused, Outcome::Denied),
                session.sso,
            )
            .await?;
        let session = sessions::set_org(self.kv.as_ref(), session, org.id).await?;
        self.auditor
            .record(
                principal
                    .event(Action::AuthOrgSwitched, Outcome::Success)
                    .org(Some(org.id))
                    .meta(serde_json::json!({"from": principal.org})),
            )
            .await?;
        self.identity
            .tokens(Started {
                session,
                cookie: None,
                user: principal.user.clone(),
                org: Some(org),
            })
            .await
    }
}
