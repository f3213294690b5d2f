//! Which account a verified identity signs in as (see `SignOn::account`):
//! its linked one, a member with the verified email (linked now), or, with
//! just-in-time provisioning, a new one without a password.

use loki_shared::api::{IdpSettings, User};
use loki_shared::audit::actions::Action;
use uuid::Uuid;

use super::oidc::Verified;
use super::signon::{refused, Pending, Refused, SignOn};
use crate::audit::{self, Event, Outcome};
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::store::{IdpRecord, NewUser, SsoLink, SsoProvision};

impl SignOn {
    /// The account a verified identity signs in as: the one its subject is
    /// linked to; else a member of the organization with that verified
    /// email (linked now); else, with just-in-time provisioning, a new one.
    pub(super) async fn account(
        &self,
        p: &Pending,
        record: &IdpRecord,
        s: &IdpSettings,
        v: &Verified,
        client: &ClientInfo,
    ) -> Result<Result<User, Refused>, AppError> {
        let org = p.org_id;
        if let Some(id) = self.store.sso_identity(org, record.id, &v.subject).await? {
            return Ok(match self.store.user_by_id(id).await? {
                Some(u) => Ok(u),
                None => Err(refused("no_account", "the linked account no longer exists")),
            });
        }
        let Some(email) = v.email.as_deref() else {
            return Ok(Err(refused(
                "no_email",
                "the identity provider gave no email address",
            )));
        };
        let Ok(email) = crate::validate::email("email", email) else {
            return Ok(Err(refused(
                "no_email",
                "the identity provider gave no valid email address",
            )));
        };
        // Linking by email is only as good as the provider's word on it.
        if !v.email_verified {
            let mut r = refused(
                "email_unverified",
                "your email address is not verified at the identity provider",
            );
            r.detail = Some(email);
            return Ok(Err(r));
        }
        let domain = email.rsplit('@').next().unwrap_or_default().to_owned();
        if !s.allowed_domains.is_empty() && !s.allowed_domains.contains(&domain) {
            let mut r = refused(
                "domain_not_allowed",
                format!("accounts of {domain} may not sign in here"),
            );
            r.detail = Some(email);
            return Ok(Err(r));
        }
        let link = |user_id| SsoLink {
            idp_id: record.id,
            subject: v.subject.clone(),
            user_id,
        };
        let linked = |user_id: Uuid| {
            Event::new(Action::SsoIdentityLinked, Outcome::Success)
                .org(Some(org))
                .actor(Some(user_id), None)
                .client(client)
                .resource("user", user_id)
                .meta(serde_json::json!({"identity_provider": record.id, "subject": v.subject, "email": email}))
        };
        if let Some(user) = self.store.user_by_email(&email).await? {
            if self.store.member(org, user.id).await?.is_none() {
                let mut r = refused(
                    "not_a_member",
                    "your account is not a member of this organization: ask one of its admins to invite you",
                );
                r.user = Some(user.id);
                return Ok(Err(r));
            }
            let mut batch = audit::batch(linked(user.id));
            self.store
                .link_sso_identity(org, link(user.id), None, &mut batch)
                .await?;
            self.auditor.committed(&batch).await?;
            return Ok(Ok(user));
        }
        if !s.jit_provisioning {
            let mut r = refused(
                "no_account",
                "there is no account for this email: ask an admin of the organization to invite you",
            );
            r.detail = Some(email);
            return Ok(Err(r));
        }
        let roles = provisioned_roles(s, &v.claims);
        let Some(org_row) = self.store.org_by_id(org).await? else {
            return Ok(Err(refused(
                "no_account",
                "the organization no longer exists",
            )));
        };
        let id = Uuid::now_v7();
        let new = NewUser {
            id,
            email: email.clone(),
            display_name: v.name.as_deref().map(|n| n.chars().take(100).collect()),
            password_hash: None,
        };
        // The account's event on the system chain, the membership's and the
        // link's on the organization's: one transaction.
        let mut batch = audit::batch(
            Event::new(Action::UserRegistered, Outcome::Success)
                .actor(Some(id), None)
                .resource("user", id)
                .client(client)
                .meta(serde_json::json!({"identity_provider": record.id, "password": false})),
        );
        batch = audit::and(
            batch,
            Event::new(Action::MemberAdded, Outcome::Success)
                .org(Some(org))
                .actor(Some(id), None)
                .client(client)
                .resource("member", id)
                .meta(serde_json::json!({"after": {"user_id": id, "email": email, "roles": roles}, "via": "sso_provisioning", "identity_provider": record.id})),
        );
        batch = audit::and(batch, linked(id));
        let provision = SsoProvision {
            user: new,
            roles,
            max_members: self.config.limits(org_row.tier).max_members,
        };
        match self
            .store
            .link_sso_identity(org, link(id), Some(provision), &mut batch)
            .await
        {
            Ok(()) => {}
            Err(crate::store::StoreError::LimitReached(m)) => {
                let mut r = refused(
                    "member_limit",
                    "the organization has no room for another member",
                );
                r.detail = Some(m);
                return Ok(Err(r));
            }
            Err(e) => return Err(e.into()),
        }
        self.auditor.committed(&batch).await?;
        Ok(match self.store.user_by_id(id).await? {
            Some(u) => Ok(u),
            None => Err(refused(
                "no_account",
                "the new account could not be read back",
            )),
        })
    }
}

/// The roles a provisioned account starts with: the default role and every
/// mapped role whose claim matches (a string equal to, or a list holding,
/// the value).
fn provisioned_roles(
    s: &IdpSettings,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    let mut roles: Vec<String> = s.default_role.iter().cloned().collect();
    for m in &s.role_mapping {
        let hit = match claims.get(&m.claim) {
            Some(serde_json::Value::String(v)) => v == &m.value,
            Some(serde_json::Value::Array(vs)) => {
                vs.iter().any(|v| v.as_str() == Some(m.value.as_str()))
            }
            _ => false,
        };
        if hit && !roles.contains(&m.role) {
            roles.push(m.role.clone());
        }
    }
    roles
}
