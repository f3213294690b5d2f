//! Invitations: an account joins an organization only by accepting one.
//! An admin invites an email with roles (no stronger than their own); the
//! invitee, signed in with that email, accepts or declines. Someone with no
//! account yet accepts with the invitation's token and a password: the
//! account is created by the acceptance and is then *managed* by the
//! organization (see `auth::account::reset_password`).

use chrono::{Duration, Utc};
use loki_shared::api::{
    AcceptInvitationRequest, CreateInvitationRequest, Invitation, InvitationCreated,
    InvitationStatus, Member,
};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use crate::audit::Auditor;
use crate::audit::{self, Event, Outcome};
use crate::auth::password::PasswordHasherPool;
use crate::auth::secrets::{ct_eq, random_token, sha256_hex};
use crate::auth::Principal;
use crate::config::Config;
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::rbac::cache::Authorizer;
use crate::rbac::{member_roles, OrgAccess};
use crate::store::DynStore;
use crate::store::{Accepting, InvitationRecord, NewUser};
use crate::validate;
use std::sync::Arc;

/// Invitations and their acceptance (the consent to membership).
#[derive(Clone)]
pub struct Invitations {
    pub(crate) store: DynStore,
    pub(crate) authz: Arc<Authorizer>,
    pub(crate) config: Arc<Config>,
    pub(crate) passwords: PasswordHasherPool,
    pub(crate) auditor: Auditor,
}

pub const DEFAULT_TTL_SECS: u64 = 7 * 24 * 3600;
const MIN_TTL_SECS: u64 = 3600;
const MAX_TTL_SECS: u64 = 30 * 24 * 3600;
const MAX_ROLES: usize = 16;
/// Accept tokens look different from every other secret.
const TOKEN_PREFIX: &str = "lki_";

fn status(r: &InvitationRecord) -> InvitationStatus {
    match r.status.as_str() {
        "accepted" => InvitationStatus::Accepted,
        "declined" => InvitationStatus::Declined,
        "revoked" => InvitationStatus::Revoked,
        "expired" => InvitationStatus::Expired,
        _ if r.expires_at <= Utc::now() => InvitationStatus::Expired,
        _ => InvitationStatus::Pending,
    }
}

pub fn view(r: &InvitationRecord) -> Invitation {
    Invitation {
        id: r.id,
        org_id: r.org_id,
        org_name: r.org_name.clone(),
        email: r.email.clone(),
        roles: serde_json::from_str(&r.roles).unwrap_or_default(),
        invited_by: r.invited_by,
        status: status(r),
        created_at: r.created_at,
        expires_at: r.expires_at,
        decided_at: r.decided_at,
    }
}

/// Roles of an invitation: 1..=16, existing, none stronger than the caller.
async fn check_roles(access: &OrgAccess, wanted: &[String]) -> Result<Vec<String>, AppError> {
    if wanted.is_empty() || wanted.len() > MAX_ROLES {
        return Err(AppError::validation(
            "roles",
            format!("give 1 to {MAX_ROLES} roles"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for r in wanted {
        member_roles::check_assignable(access, r).await?;
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    Ok(out)
}

impl Invitations {
    /// Invites `email` with `roles`. The token in the answer is shown once.
    pub async fn create(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        req: CreateInvitationRequest,
    ) -> Result<InvitationCreated, AppError> {
        let email = validate::email("email", &req.email)?;
        let role_names = check_roles(access, &req.roles).await?;
        let ttl = req.expires_in_secs.unwrap_or(DEFAULT_TTL_SECS);
        if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
            return Err(AppError::validation(
                "expires_in_secs",
                format!("must be between {MIN_TTL_SECS} and {MAX_TTL_SECS}"),
            ));
        }
        if let Some(user) = self.store.user_by_email(&email).await? {
            if self.store.member(access.org().id, user.id).await?.is_some() {
                return Err(AppError::conflict(
                    "already_member",
                    "this account is already a member",
                ));
            }
        }
        let token = format!("{TOKEN_PREFIX}{}", random_token(32));
        let now = Utc::now();
        let record = InvitationRecord {
            id: Uuid::now_v7(),
            org_id: access.org().id,
            org_name: access.org().name.clone(),
            email: email.clone(),
            roles: serde_json::to_string(&role_names).map_err(|e| AppError::Internal(e.into()))?,
            invited_by: principal.user.id,
            token_hash: sha256_hex(token.as_bytes()),
            status: "pending".into(),
            created_at: now,
            expires_at: now + Duration::seconds(i64::try_from(ttl).unwrap_or(0)),
            decided_at: None,
        };
        let mut audit = audit::batch(principal
            .event(Action::MemberInvited, Outcome::Success)
            .resource("invitation", record.id)
            .meta(serde_json::json!({"after": {"email": email, "roles": role_names, "expires_at": record.expires_at}})),
    );
        self.store
            .create_invitation(record.clone(), &mut audit)
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(InvitationCreated {
            invitation: view(&record),
            accept_token: token,
        })
    }

    /// The email of the account `user` (an invitation goes to an email).
    pub async fn email_of(&self, user: Uuid) -> Result<String, AppError> {
        Ok(self
            .store
            .user_by_id(user)
            .await?
            .ok_or(AppError::NotFound { what: "user" })?
            .email)
    }

    pub async fn list(&self, access: &OrgAccess) -> Result<Vec<Invitation>, AppError> {
        Ok(self
            .store
            .org_invitations(access.org().id)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// Withdraws a pending invitation.
    pub async fn revoke(
        &self,
        access: &OrgAccess,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), AppError> {
        let mut audit = audit::batch(
            principal
                .event(Action::InvitationRevoked, Outcome::Success)
                .resource("invitation", id),
        );
        if self
            .store
            .close_invitation(access.org().id, id, "revoked", &mut audit)
            .await?
        {
            self.auditor.committed(&audit).await
        } else {
            Err(AppError::NotFound {
                what: "pending invitation",
            })
        }
    }

    /// The caller's own invitations (all organizations), pending first.
    pub async fn mine(&self, principal: &Principal) -> Result<Vec<Invitation>, AppError> {
        principal.require_own_account()?;
        let mut all: Vec<Invitation> = self
            .store
            .invitations_for_email(&principal.user.email)
            .await?
            .iter()
            .map(view)
            .collect();
        all.sort_by_key(|i| i.status != InvitationStatus::Pending);
        Ok(all)
    }

    /// The invitation `id`, whatever its self.
    async fn find(&self, id: Uuid) -> Result<InvitationRecord, AppError> {
        self.store
            .invitation(id)
            .await?
            .ok_or(AppError::NotFound { what: "invitation" })
    }

    /// The open invitation, if it is addressed to the signed-in caller;
    /// someone else's is not found, whatever its self.
    async fn addressed_to(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<InvitationRecord, AppError> {
        principal.require_own_account()?;
        let r = self.find(id).await?;
        if r.email != principal.user.email {
            return Err(AppError::NotFound { what: "invitation" });
        }
        still_pending(r)
    }

    /// Roles still assignable at acceptance (a custom role may have gone).
    async fn roles_now(&self, r: &InvitationRecord) -> Result<Vec<String>, AppError> {
        let wanted: Vec<String> = serde_json::from_str(&r.roles).unwrap_or_default();
        let policy = self.authz.policy(r.org_id).await?;
        if let Some(gone) = wanted.iter().find(|n| policy.role(n).is_none()) {
            return Err(AppError::conflict(
                "role_gone",
                format!(
                    "the invitation's role `{gone}` no longer exists; ask for a new invitation"
                ),
            ));
        }
        Ok(wanted)
    }

    /// The inviting organization, unless it was deleted meanwhile (then the
    /// invitation is as good as gone).
    async fn live_org(
        &self,
        r: &InvitationRecord,
    ) -> Result<loki_shared::api::Organization, AppError> {
        self.store
            .org_by_id(r.org_id)
            .await?
            .filter(|o| o.deleted_at.is_none())
            .ok_or(AppError::NotFound { what: "invitation" })
    }

    fn max_members(&self, org: &loki_shared::api::Organization) -> Option<u32> {
        self.config.limits(org.tier).max_members
    }

    /// Accepts, signed in as the invitee.
    pub async fn accept(&self, principal: &Principal, id: Uuid) -> Result<Member, AppError> {
        let r = self.addressed_to(principal, id).await?;
        let org = self.live_org(&r).await?;
        let roles = self.roles_now(&r).await?;
        let mut event = accepted_event(
            principal.event(Action::MemberAdded, Outcome::Success),
            &r,
            &roles,
        );
        event = event.resource("member", principal.user.id);
        let mut audit = audit::batch(event);
        let member = self
            .store
            .accept_invitation(
                &r,
                Accepting::Existing(principal.user.id),
                &roles,
                self.max_members(&org),
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(member)
    }

    /// Accepts without an account: the token proves the invitation reached
    /// its addressee, and the new account is created with `password`.
    pub async fn accept_new(
        &self,
        id: Uuid,
        req: AcceptInvitationRequest,
        client: &ClientInfo,
    ) -> Result<Member, AppError> {
        let (Some(token), Some(password)) = (req.token, req.password) else {
            return Err(AppError::validation(
            "token",
            "sign in as the invitee to accept, or give the invitation's token and a password for a new account",
        ));
        };
        let r = self.find(id).await?;
        if !ct_eq(&r.token_hash, &sha256_hex(token.as_bytes())) {
            self.auditor
                .record(
                    Event::new(Action::InvitationTokenRejected, Outcome::Denied)
                        .org(Some(r.org_id))
                        .resource("invitation", r.id)
                        .client(client),
                )
                .await?;
            return Err(AppError::unauthorized(
                "invalid_invitation_token",
                "the invitation token is wrong",
            ));
        }
        let r = still_pending(r)?;
        if self.store.user_by_email(&r.email).await?.is_some() {
            return Err(AppError::conflict(
                "account_exists",
                "an account with this email exists: sign in as it and accept the invitation",
            ));
        }
        crate::auth::password::check_policy(&password, &r.email)?;
        let display_name = req
            .display_name
            .as_deref()
            .map(|n| validate::name("display_name", n, 100))
            .transpose()?;
        let org = self.live_org(&r).await?;
        let roles = self.roles_now(&r).await?;
        let password_hash = self.passwords.hash(password).await?;
        let user = Uuid::now_v7();
        let audit = audit::batch(
            Event::new(Action::UserRegistered, Outcome::Success)
                .actor(Some(user), None)
                .resource("user", user)
                .client(client)
                .meta(serde_json::json!({"invitation": r.id, "managed_by_org": r.org_id})),
        );
        // Both in the acceptance's transaction: the account's on the system
        // chain, the membership's on the organization's.
        let mut audit = audit::and(
            audit,
            accepted_event(
                Event::new(Action::MemberAdded, Outcome::Success)
                    .actor(Some(user), None)
                    .client(client),
                &r,
                &roles,
            )
            .resource("member", user),
        );
        let member = self
            .store
            .accept_invitation(
                &r,
                Accepting::NewAccount(NewUser {
                    id: user,
                    email: r.email.clone(),
                    display_name,
                    password_hash: Some(password_hash),
                }),
                &roles,
                self.max_members(&org),
                &mut audit,
            )
            .await?;
        self.auditor.committed(&audit).await?;
        Ok(member)
    }

    pub async fn decline(&self, principal: &Principal, id: Uuid) -> Result<(), AppError> {
        let r = self.addressed_to(principal, id).await?;
        let mut audit = audit::batch(
            principal
                .event(Action::InvitationDeclined, Outcome::Success)
                .org(Some(r.org_id))
                .resource("invitation", r.id),
        );
        if self
            .store
            .close_invitation(r.org_id, r.id, "declined", &mut audit)
            .await?
        {
            self.auditor.committed(&audit).await
        } else {
            Err(AppError::conflict(
                "invitation_closed",
                "the invitation is no longer pending",
            ))
        }
    }
}

/// Refuses an invitation that is no longer open. Called only once the
/// caller has shown the invitation is theirs (email or token), so its
/// state is never told to anyone else.
fn still_pending(r: InvitationRecord) -> Result<InvitationRecord, AppError> {
    match status(&r) {
        InvitationStatus::Pending => Ok(r),
        InvitationStatus::Expired => Err(AppError::conflict(
            "invitation_expired",
            "the invitation has expired; ask for a new one",
        )),
        _ => Err(AppError::conflict(
            "invitation_closed",
            "the invitation was already accepted, declined or revoked",
        )),
    }
}

fn accepted_event(e: Event, r: &InvitationRecord, roles: &[String]) -> Event {
    e.org(Some(r.org_id))
        .resource("member", "")
        .meta(serde_json::json!({"invitation": r.id, "after": {"email": r.email, "roles": roles}}))
}
