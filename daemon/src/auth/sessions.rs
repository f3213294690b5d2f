//! Server-side sessions, held in the kv store so that every daemon sharing
//! it sees a revocation on the very next request.
//!
//! Keys: `session:{id}` (the record), `user_sessions:{user}` and
//! `org_sessions:{org}` (indexes; stale members are dropped when listed).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use loki_shared::api::{SessionInfo, SessionKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::secrets::{ct_eq, random_token, sha256_hex};
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::kv::{Kv, KvError};

/// Sessions (and their refresh tokens) last this long.
pub const SESSION_TTL: ChronoDuration = ChronoDuration::days(7);
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY: ChronoDuration = ChronoDuration::seconds(60);

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub org_id: Option<Uuid>,
    pub kind: SessionKind,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Cookie sessions: digests of the cookie secret and the CSRF token.
    #[serde(default)]
    pub cookie_hash: Option<String>,
    #[serde(default)]
    pub csrf_hash: Option<String>,
    /// Set when an organization's identity provider vouched for the sign-in:
    /// the session is pinned to that organization (no switching, no
    /// super-admin power), because that provider speaks for nothing else.
    #[serde(default)]
    pub sso: Option<SsoOrigin>,
}

/// Which identity provider of which organization started a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoOrigin {
    pub org_id: Uuid,
    pub idp_id: Uuid,
    /// The provider asserted a multi-factor sign-in (`amr`).
    #[serde(default)]
    pub mfa: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("org_id", &self.org_id)
            .field("kind", &self.kind)
            .field("sso", &self.sso)
            .finish_non_exhaustive()
    }
}

/// Secrets handed to a browser once, when a cookie session starts.
pub struct CookieSecrets {
    /// Cookie value: `{session id}.{secret}`.
    pub cookie: String,
    pub csrf_token: String,
}

impl Session {
    pub fn info(&self, current: Option<Uuid>) -> SessionInfo {
        SessionInfo {
            id: self.id,
            user_id: self.user_id,
            org_id: self.org_id,
            kind: self.kind,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            expires_at: self.expires_at,
            current: current == Some(self.id),
        }
    }

    /// Checks a cookie secret (constant time).
    pub fn cookie_matches(&self, secret: &str) -> bool {
        self.cookie_hash
            .as_deref()
            .is_some_and(|h| ct_eq(h, &sha256_hex(secret.as_bytes())))
    }

    /// Checks a CSRF token (constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        self.csrf_hash
            .as_deref()
            .is_some_and(|h| ct_eq(h, &sha256_hex(token.as_bytes())))
    }
}

pub(crate) fn key(id: Uuid) -> String {
    format!("session:{id}")
}
fn user_index(user: Uuid) -> String {
    format!("user_sessions:{user}")
}
fn org_index(org: Uuid) -> String {
    format!("org_sessions:{org}")
}

fn kv_err(e: KvError) -> AppError {
    AppError::Unavailable(e.to_string())
}

fn ttl(s: &Session) -> std::time::Duration {
    (s.expires_at - Utc::now())
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(1))
}

async fn save(kv: &dyn Kv, s: &Session) -> Result<(), AppError> {
    let json = serde_json::to_vec(s).map_err(|e| AppError::Internal(e.into()))?;
    kv.set(&key(s.id), &json, Some(ttl(s)))
        .await
        .map_err(kv_err)
}

async fn index(kv: &dyn Kv, s: &Session) -> Result<(), AppError> {
    let t = SESSION_TTL.to_std().unwrap_or_default();
    kv.set_add(&user_index(s.user_id), &s.id.to_string(), t)
        .await
        .map_err(kv_err)?;
    if let Some(org) = s.org_id {
        kv.set_add(&org_index(org), &s.id.to_string(), t)
            .await
            .map_err(kv_err)?;
    }
    Ok(())
}

/// Starts a session. Cookie sessions also get their cookie and CSRF secrets.
pub async fn create(
    kv: &dyn Kv,
    user: Uuid,
    org: Option<Uuid>,
    kind: SessionKind,
    sso: Option<SsoOrigin>,
    client: &ClientInfo,
) -> Result<(Session, Option<CookieSecrets>), AppError> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let secrets = (kind == SessionKind::Cookie).then(|| CookieSecrets {
        cookie: format!("{id}.{}", random_token(32)),
        csrf_token: random_token(32),
    });
    let session = Session {
        id,
        user_id: user,
        org_id: org,
        kind,
        ip: Some(client.ip.to_string()),
        user_agent: client.user_agent.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + SESSION_TTL,
        cookie_hash: secrets.as_ref().map(|s| {
            let secret = s.cookie.split_once('.').map(|(_, v)| v).unwrap_or_default();
            sha256_hex(secret.as_bytes())
        }),
        csrf_hash: secrets
            .as_ref()
            .map(|s| sha256_hex(s.csrf_token.as_bytes())),
        sso,
    };
    save(kv, &session).await?;
    index(kv, &session).await?;
    Ok((session, secrets))
}

pub async fn get(kv: &dyn Kv, id: Uuid) -> Result<Option<Session>, AppError> {
    Ok(decode(kv.get(&key(id)).await.map_err(kv_err)?.as_deref()))
}

/// A stored session record, if live. A record we cannot read is treated as
/// no session (fail closed).
pub(crate) fn decode(bytes: Option<&[u8]>) -> Option<Session> {
    serde_json::from_slice::<Session>(bytes?)
        .ok()
        .filter(|s| s.expires_at > Utc::now())
}

/// Updates `last_seen_at` (rate-limited, so reads stay reads).
pub async fn touch(kv: &dyn Kv, mut s: Session, client: &ClientInfo) -> Result<(), AppError> {
    let now = Utc::now();
    if now - s.last_seen_at < TOUCH_EVERY {
        return Ok(());
    }
    s.last_seen_at = now;
    s.ip = Some(client.ip.to_string());
    save(kv, &s).await
}

/// Moves a session to another organization (switch-org).
pub async fn set_org(kv: &dyn Kv, mut s: Session, org: Uuid) -> Result<Session, AppError> {
    if let Some(old) = s.org_id {
        kv.set_remove(&org_index(old), &s.id.to_string())
            .await
            .map_err(kv_err)?;
    }
    s.org_id = Some(org);
    save(kv, &s).await?;
    index(kv, &s).await?;
    Ok(s)
}

/// Ends a session in the kv store (its refresh family is revoked by the caller).
pub async fn remove(kv: &dyn Kv, s: &Session) -> Result<(), AppError> {
    kv.delete(&key(s.id)).await.map_err(kv_err)?;
    kv.set_remove(&user_index(s.user_id), &s.id.to_string())
        .await
        .map_err(kv_err)?;
    if let Some(org) = s.org_id {
        kv.set_remove(&org_index(org), &s.id.to_string())
            .await
            .map_err(kv_err)?;
    }
    Ok(())
}

async fn list(kv: &dyn Kv, index_key: &str) -> Result<Vec<Session>, AppError> {
    let mut out = Vec::new();
    for member in kv.set_members(index_key).await.map_err(kv_err)? {
        let Ok(id) = member.parse::<Uuid>() else {
            continue;
        };
        match get(kv, id).await? {
            Some(s) => out.push(s),
            None => kv.set_remove(index_key, &member).await.map_err(kv_err)?,
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    Ok(out)
}

pub async fn list_for_user(kv: &dyn Kv, user: Uuid) -> Result<Vec<Session>, AppError> {
    list(kv, &user_index(user)).await
}

/// Sessions currently scoped to the organization.
pub async fn list_for_org(kv: &dyn Kv, org: Uuid) -> Result<Vec<Session>, AppError> {
    Ok(list(kv, &org_index(org))
        .await?
        .into_iter()
        .filter(|s| s.org_id == Some(org))
        .collect())
}
