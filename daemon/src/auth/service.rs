//! Sign-up and sign-in: passwords, second factors, the session a sign-in
//! starts. Refresh rotation, ending sessions and switching organization:
//! `renewal`. No HTTP types in here.

use chrono::Utc;
use loki_shared::api::{
    CookieSessionResponse, LoginRequest, MeResponse, MfaChallenge, Organization, RegisterRequest,
    SessionKind, TokenResponse, User,
};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use super::password::check_policy;
use super::secrets::{random_token, sha256_hex};
use super::sessions::{self, CookieSecrets, Session, SsoOrigin, SESSION_TTL};
use super::{mfa, Principal};
use crate::audit::Auditor;
use crate::audit::{self, Event, Outcome};
use crate::auth::mfa::Mfa;
use crate::auth::password::PasswordHasherPool;
use crate::auth::throttle::Throttle;
use crate::auth::tokens::TokenIssuer;
use crate::config::Config;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::kv::DynKv;
use crate::store::DynStore;
use crate::store::{NewRefreshToken, NewUser};
use crate::validate;
use std::sync::Arc;

/// Registration and sign-in (password, MFA challenge), token issue.
#[derive(Clone)]
pub struct Identity {
    pub(crate) store: DynStore,
    pub(crate) kv: DynKv,
    pub(crate) config: Arc<Config>,
    pub(crate) passwords: PasswordHasherPool,
    pub(crate) tokens: Arc<TokenIssuer>,
    pub(crate) auditor: Auditor,
    pub(crate) mfa: Mfa,
    pub(crate) throttle: Throttle,
}

impl Identity {
    pub async fn register(
        &self,
        req: RegisterRequest,
        client: &ClientInfo,
    ) -> Result<User, AppError> {
        if !self.config.allow_registration {
            return Err(AppError::forbidden(
                "registration_closed",
                "self-registration is disabled on this server",
            ));
        }
        let email = validate::email("email", &req.email)?;
        check_policy(&req.password, &email)?;
        let display_name = req
            .display_name
            .as_deref()
            .map(|n| validate::name("display_name", n, 100))
            .transpose()?;
        let password_hash = self.passwords.hash(req.password).await?;
        let id = Uuid::now_v7();
        let mut audit = audit::batch(
            Event::new(Action::UserRegistered, Outcome::Success)
                .actor(Some(id), None)
                .resource("user", id)
                .client(client),
        );
        let user = self
            .store
            .create_user(
                NewUser {
                    id,
                    email,
                    display_name,
                    password_hash: Some(password_hash),
                },
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(user)
    }

    /// Creates the first operator (or promotes an existing user): the path of
    /// `lokid admin create-super-admin`.
    pub async fn bootstrap_super_admin(
        &self,
        email: &str,
        password: String,
    ) -> Result<User, AppError> {
        let email = validate::email("email", email)?;
        check_policy(&password, &email)?;
        let password_hash = self.passwords.hash(password).await?;
        // Promotion keeps an existing user's id.
        let id = match self.store.user_by_email(&email).await? {
            Some(u) => u.id,
            None => Uuid::now_v7(),
        };
        let mut audit = audit::batch(
            Event::new(Action::UserSuperAdminGranted, Outcome::Success)
                .resource("user", id)
                .meta(serde_json::json!({"after": {"email": email, "is_super_admin": true}})),
        );
        let user = self
            .store
            .upsert_super_admin(
                NewUser {
                    id,
                    email,
                    display_name: None,
                    password_hash: Some(password_hash),
                },
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(user)
    }

    /// Records a security event about an account: on the chain of every
    /// organization it belongs to, so their reports see their members'
    /// failures; on the system chain for an unknown account or one with no
    /// organization.
    async fn record_for_account(&self, e: Event, user: Option<Uuid>) -> Result<(), AppError> {
        let orgs = match user {
            Some(u) => self.store.orgs_of_user(u).await?,
            None => Vec::new(),
        };
        if orgs.is_empty() {
            return self.auditor.record(e.actor(user, None)).await;
        }
        for m in orgs {
            self.auditor
                .record(e.clone().actor(user, None).org(Some(m.organization.id)))
                .await?;
        }
        Ok(())
    }

    /// The account an email names, if any (for auditing refusals that come
    /// before the password check).
    async fn account_of(&self, email: &str) -> Result<Option<Uuid>, AppError> {
        Ok(match validate::email("email", email) {
            Ok(e) => self.store.user_by_email(&e).await?.map(|u| u.id),
            Err(_) => None,
        })
    }

    /// The password step of every sign-in: throttles, verifies in constant
    /// work, counts failures toward the lockout, audits the outcome.
    async fn check_password(
        &self,
        email: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<User, AppError> {
        let event = |action, outcome| Event::new(action, outcome).client(client);
        if let Err(e) = self.throttle.check_ip(client.ip).await {
            let user = self.account_of(email).await?;
            self.record_for_account(event(Action::AuthSigninRateLimited, Outcome::Denied), user)
                .await?;
            return Err(e);
        }
        // No hashing slot free: refused before any database work.
        let busy = event(Action::AuthSigninRateLimited, Outcome::Denied)
            .meta(serde_json::json!({"reason": "capacity"}));
        if let Err(e) = self.passwords.admit() {
            self.auditor.record(busy).await?;
            return Err(e);
        }
        if let Err(e) = self.throttle.check_account(email).await {
            let user = self.account_of(email).await?;
            self.record_for_account(event(Action::AuthLoginLocked, Outcome::Denied), user)
                .await?;
            return Err(e);
        }
        // A malformed email cannot belong to anyone: it takes the same path as
        // an unknown one (a dummy hash is verified) and gets the same answer.
        let normalized = validate::email("email", email).ok();
        let creds = match &normalized {
            Some(e) => self.store.credentials_by_email(e).await?,
            None => None,
        };
        let (user, hash) = match creds {
            // An account without a password (SSO only) verifies against the
            // dummy hash like an unknown one: never a match.
            Some(c) => (Some(c.user), c.password_hash),
            None => (None, None),
        };
        let ok = match self.passwords.verify(password, hash).await {
            Ok(ok) => ok,
            Err(e) if super::password::is_busy(&e) => {
                self.auditor.record(busy).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        match (ok, user) {
            // Failures are forgotten when the whole sign-in succeeds: after the
            // second factor, when there is one.
            (true, Some(user)) => Ok(user),
            (_, user) => {
                // The user id (when known) goes to the audit trail, never to the caller.
                let id = user.as_ref().map(|u| u.id);
                self.record_for_account(event(Action::AuthLoginFailed, Outcome::Failure), id)
                    .await?;
                if let Some(lock) = self.throttle.record_failure(email).await? {
                    self.record_for_account(event(Action::AuthAccountLocked, Outcome::Denied), id)
                        .await?;
                    return Err(lock);
                }
                Err(bad_credentials())
            }
        }
    }

    /// Counts a wrong second factor toward the account lockout; returns the
    /// error to answer (the lock, when this failure locked the account).
    pub async fn second_factor_failed(
        &self,
        user: &User,
        client: &ClientInfo,
        e: AppError,
    ) -> Result<AppError, AppError> {
        let wrong_code = matches!(
            &e,
            AppError::Unauthorized {
                code: "invalid_mfa_code" | "mfa_code_reused" | "invalid_recovery_code",
                ..
            }
        );
        if !wrong_code {
            return Ok(e);
        }
        match self.throttle.record_failure(&user.email).await? {
            Some(lock) => {
                self.record_for_account(
                    Event::new(Action::AuthAccountLocked, Outcome::Denied).client(client),
                    Some(user.id),
                )
                .await?;
                Ok(lock)
            }
            None => Ok(e),
        }
    }

    pub async fn login(
        &self,
        req: LoginRequest,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<SignIn<Started>, AppError> {
        let user = self
            .check_password(&req.email, req.password, client)
            .await?;
        if !user.mfa_enabled {
            self.throttle.clear(&req.email).await?;
        }
        if user.mfa_enabled {
            let challenge = self
                .mfa
                .start_challenge(&mfa::Challenge {
                    user_id: user.id,
                    org: req.org,
                    kind,
                })
                .await?;
            return Ok(SignIn::MfaRequired(MfaChallenge {
                mfa_required: true,
                challenge,
                expires_in: mfa::CHALLENGE_TTL.as_secs(),
            }));
        }
        Ok(SignIn::Done(
            self.start(user, req.org.as_deref(), kind, client).await?,
        ))
    }

    /// Completes a sign-in that answered "MFA required".
    pub async fn verify_mfa(
        &self,
        challenge: &str,
        code: Option<&str>,
        recovery: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        let c = self.mfa.take_challenge(challenge).await?;
        let user = self
            .store
            .user_by_id(c.user_id)
            .await?
            .ok_or_else(|| AppError::unauthorized("invalid_mfa_challenge", "sign in again"))?;
        // The second factor counts toward the same lockout as the password.
        if let Err(e) = self.throttle.check_account(&user.email).await {
            self.record_for_account(
                Event::new(Action::AuthLoginLocked, Outcome::Denied).client(client),
                Some(user.id),
            )
            .await?;
            return Err(e);
        }
        if let Err(e) = self.mfa.verify(user.id, &user.email, code, recovery).await {
            self.record_for_account(
                Event::new(Action::AuthMfaFailed, Outcome::Failure).client(client),
                Some(user.id),
            )
            .await?;
            return Err(self.second_factor_failed(&user, client, e).await?);
        }
        if recovery.is_some() {
            self.record_for_account(
                Event::new(Action::AuthRecoveryCodeUsed, Outcome::Success).client(client),
                Some(user.id),
            )
            .await?;
        }
        self.throttle.clear(&user.email).await?;
        self.mfa.end_challenge(challenge).await?;
        self.start(user, c.org.as_deref(), c.kind, client).await
    }

    /// Opens a session (and its refresh family) for a verified user.
    async fn start(
        &self,
        user: User,
        org_ref: Option<&str>,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        let org = match org_ref {
            Some(r) => {
                let refused = Event::new(Action::AuthMembershipRefused, Outcome::Denied)
                    .actor(Some(user.id), None)
                    .client(client);
                Some(self.resolve_membership(&user, r, refused, None).await?)
            }
            None => None,
        };
        let meta = serde_json::json!({"kind": kind, "mfa": user.mfa_enabled, "method": "password"});
        self.open_session(user, org, kind, None, meta, client).await
    }

    /// Opens a session for a sign-in its organization's identity provider
    /// vouched for; pinned to that organization.
    pub(crate) async fn start_sso(
        &self,
        user: User,
        kind: SessionKind,
        origin: SsoOrigin,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        let refused = Event::new(Action::AuthMembershipRefused, Outcome::Denied)
            .actor(Some(user.id), None)
            .client(client);
        let org = self
            .resolve_membership(&user, &origin.org_id.to_string(), refused, Some(origin))
            .await?;
        let meta =
            serde_json::json!({"kind": kind, "method": "sso", "identity_provider": origin.idp_id});
        self.open_session(user, Some(org), kind, Some(origin), meta, client)
            .await
    }

    async fn open_session(
        &self,
        user: User,
        org: Option<Organization>,
        kind: SessionKind,
        sso: Option<SsoOrigin>,
        meta: serde_json::Value,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        let org_id = org.as_ref().map(|o| o.id);
        let (session, cookie) =
            sessions::create(self.kv.as_ref(), user.id, org_id, kind, sso, client).await?;
        self.store
            .create_refresh_family(session.id, user.id)
            .await?;
        self.auditor
            .record(
                Event::new(Action::AuthLoginSucceeded, Outcome::Success)
                    .org(org_id)
                    .actor(Some(user.id), Some(session.id))
                    .client(client)
                    .meta(meta),
            )
            .await?;
        Ok(Started {
            session,
            cookie,
            user,
            org,
        })
    }

    /// Access token plus a fresh refresh token of the session's family.
    pub async fn tokens(&self, started: Started) -> Result<TokenResponse, AppError> {
        let Started {
            session, user, org, ..
        } = started;
        let org_id = org.as_ref().map(|o| o.id);
        let access_token = self.tokens.issue(user.id, org_id, session.id)?;
        let refresh_token = format!("lrt_{}", random_token(32));
        self.store.retire_refresh_tokens(session.id).await?;
        self.store
            .insert_refresh_token(NewRefreshToken {
                id: Uuid::now_v7(),
                session_id: session.id,
                token_hash: sha256_hex(refresh_token.as_bytes()),
                org_id,
                expires_at: session.expires_at,
            })
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.tokens.ttl_secs,
            refresh_token,
            refresh_expires_in: u64::try_from((session.expires_at - Utc::now()).num_seconds())
                .unwrap_or(0),
            session_id: session.id,
            user,
            org,
        })
    }

    /// Who the caller is. An API key is not its creator's account: it sees the
    /// key's identity (key id, organization, creator id), and the creator's
    /// account details (email, name, MFA) only with the `member:read` scope
    /// (which reads them from the member list anyway) — never the creator's
    /// other organizations.
    pub async fn me(&self, principal: &Principal) -> Result<MeResponse, AppError> {
        if let super::Credential::ApiKey { id, scopes, .. } = &principal.credential {
            let details = scopes.iter().any(|s| s == "member:read");
            let creator = &principal.user;
            return Ok(MeResponse {
                user: User {
                    id: creator.id,
                    email: if details {
                        creator.email.clone()
                    } else {
                        String::new()
                    },
                    display_name: creator.display_name.clone().filter(|_| details),
                    is_super_admin: false,
                    mfa_enabled: details && creator.mfa_enabled,
                    created_at: creator.created_at,
                },
                org: principal.org,
                session_id: None,
                api_key_id: Some(*id),
                organizations: Vec::new(),
            });
        }
        Ok(MeResponse {
            user: principal.user.clone(),
            org: principal.org,
            session_id: principal.session_id(),
            api_key_id: principal.api_key_id(),
            organizations: {
                let mut mine = self.store.orgs_of_user(principal.user.id).await?;
                if let Some(org) = principal.pinned_org() {
                    mine.retain(|m| m.organization.id == org);
                }
                mine
            },
        })
    }

    /// Finds the organization `reference` (id or slug) among the user's own and
    /// applies its policies: MFA for admins, and single sign-on when it
    /// requires it (`sso` is the identity provider behind the session, if
    /// any; such a session is pinned to that provider's organization). Not
    /// being a member and the organization not existing answer alike, so
    /// this cannot probe for other tenants.
    pub async fn resolve_membership(
        &self,
        user: &User,
        reference: &str,
        refused: Event,
        sso: Option<SsoOrigin>,
    ) -> Result<Organization, AppError> {
        let reference = reference.trim();
        let id = Uuid::parse_str(reference).ok();
        let found = self
            .store
            .orgs_of_user(user.id)
            .await?
            .into_iter()
            .find(|m| Some(m.organization.id) == id || m.organization.slug == reference);
        let Some(mine) = found else {
            // Audited on the named organization's chain when it exists (a
            // removed member still trying is evidence for its reports).
            let org = match id {
                Some(id) => self.store.org_by_id(id).await?.map(|o| o.id),
                None => None,
            };
            self.auditor
                .record(
                    refused
                        .org(org)
                        .meta(serde_json::json!({"reason": "not_a_member", "org": reference})),
                )
                .await?;
            return Err(AppError::forbidden(
                "not_a_member",
                "you are not a member of that organization (or it does not exist)",
            ));
        };
        let org = mine.organization;
        if let Some(origin) = sso.filter(|o| o.org_id != org.id) {
            self.auditor
                .record(refused.org(Some(org.id)).meta(serde_json::json!({
                    "reason": "sso_session_pinned",
                    "identity_provider": origin.idp_id,
                })))
                .await?;
            return Err(sso_pinned());
        }
        if sso.is_none() && sso_required_for(&org, user) {
            self.auditor
                .record(
                    refused
                        .retitled(Action::AuthSsoRequired, Outcome::Denied)
                        .org(Some(org.id)),
                )
                .await?;
            return Err(sso_required());
        }
        // An SSO session's second factor is the provider's (its `amr`):
        // LOKI's own TOTP was not asked for.
        let mfa = match sso {
            Some(o) => o.mfa,
            None => user.mfa_enabled,
        };
        require_mfa_policy(&org, &mine.roles, mfa)?;
        Ok(org)
    }
}

fn bad_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "email or password is incorrect")
}

/// Result of the password step.
pub enum SignIn<T> {
    Done(T),
    MfaRequired(MfaChallenge),
}

/// A new session, before it is turned into tokens or a cookie.
pub struct Started {
    pub session: Session,
    pub cookie: Option<CookieSecrets>,
    pub user: User,
    pub org: Option<Organization>,
}

/// The browser answer: the CSRF token in the body, the cookie value apart.
pub fn cookie_session(started: Started) -> Result<(CookieSessionResponse, String), AppError> {
    let secrets = started
        .cookie
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("cookie session without secrets")))?;
    Ok((
        CookieSessionResponse {
            csrf_token: secrets.csrf_token,
            session_id: started.session.id,
            expires_in: u64::try_from(SESSION_TTL.num_seconds()).unwrap_or(0),
            user: started.user,
            org: started.org,
        },
        secrets.cookie,
    ))
}

/// Whether the organization refuses this user's password sign-in.
pub fn sso_required_for(org: &Organization, user: &User) -> bool {
    org.settings.require_sso && org.settings.sso_break_glass_user != Some(user.id)
}

pub fn sso_required() -> AppError {
    AppError::forbidden(
        "sso_required",
        "this organization requires single sign-on: sign in with its identity provider",
    )
}

/// A session an identity provider started stays in that provider's
/// organization.
pub fn sso_pinned() -> AppError {
    AppError::forbidden(
        "sso_session_pinned",
        "this session was started by an organization's identity provider and stays in that organization; sign in again to use another",
    )
}

/// An organization may require MFA of its admins: TOTP in LOKI, or a
/// multi-factor sign-in its identity provider asserted (`mfa`).
pub fn require_mfa_policy(org: &Organization, roles: &[String], mfa: bool) -> Result<(), AppError> {
    if org.settings.require_mfa_for_admins && roles.iter().any(|r| r == "admin") && !mfa {
        return Err(AppError::forbidden(
            "mfa_enrollment_required",
            "this organization requires MFA for admins: enable it (POST /api/v1/auth/mfa/enroll) first",
        ));
    }
    Ok(())
}
