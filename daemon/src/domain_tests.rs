//! The domain services without HTTP: a real `AppState` (SQLite in a temp
//! dir, the in-process kv store), callers built as `Principal`s, and the
//! same functions the handlers call. Each test tries what an attacker would
//! and checks the refusal by its code.

use chrono::{Duration, Utc};
use loki_shared::api::{
    CreateApiKeyRequest, CreateInvitationRequest, CreateOrgRequest, CreateRoleRequest,
    RegisterRequest, RotateApiKeyRequest, SessionKind, User,
};
use loki_shared::audit::actions::Action;
use loki_shared::{Permission, Tier};
use uuid::Uuid;

use crate::audit::{self, Event, Outcome};
use crate::auth::sessions::Session;
use crate::auth::{Credential, Principal};
use crate::context::ClientInfo;
use crate::error::AppError;
use crate::state::AppState;
use crate::Config;

async fn state() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    (dir, AppState::open(config).await.expect("state"))
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: [127, 0, 0, 1].into(),
        user_agent: None,
    }
}

async fn person(state: &AppState, email: &str) -> User {
    let req = RegisterRequest {
        email: email.into(),
        password: "correct horse battery staple".into(),
        display_name: None,
    };
    state
        .identity
        .register(req, &client())
        .await
        .expect("register")
}

/// `user` signed in (scoped to `org`).
fn signed_in(user: &User, org: Option<Uuid>) -> Principal {
    let now = Utc::now();
    Principal {
        user: user.clone(),
        org,
        credential: Credential::Session(Session {
            id: Uuid::now_v7(),
            user_id: user.id,
            org_id: org,
            kind: SessionKind::Token,
            ip: None,
            user_agent: None,
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::hours(1),
            cookie_hash: None,
            csrf_hash: None,
            sso: None,
        }),
        client: client(),
        org_version: None,
    }
}

/// An organization and its admin (signed in to it).
async fn org_with_admin(state: &AppState, email: &str, name: &str) -> (Uuid, Principal) {
    let admin = person(state, email).await;
    let org = state
        .tenancy
        .create(
            &signed_in(&admin, None),
            CreateOrgRequest {
                name: name.into(),
                slug: None,
            },
        )
        .await
        .expect("org");
    (org.id, signed_in(&admin, Some(org.id)))
}

/// Invites `email` with `roles` and accepts as that (existing) account.
async fn join(
    state: &AppState,
    org: Uuid,
    by: &Principal,
    who: &User,
    roles: &[&str],
) -> Principal {
    let access = state
        .admission
        .require(by, org, Permission::MemberInvite)
        .await
        .expect("inviter");
    let created = state
        .invitations
        .create(
            &access,
            by,
            CreateInvitationRequest {
                email: who.email.clone(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                expires_in_secs: None,
            },
        )
        .await
        .expect("invitation");
    state
        .invitations
        .accept(&signed_in(who, None), created.invitation.id)
        .await
        .expect("accept");
    signed_in(who, Some(org))
}

fn code<T: std::fmt::Debug>(r: Result<T, AppError>) -> &'static str {
    r.expect_err("refused").code()
}

#[tokio::test]
async fn admission_refuses_other_organizations_and_missing_permissions() {
    let (_dir, state) = state().await;
    let (org_a, admin_a) = org_with_admin(&state, "a@example.com", "A").await;
    let (org_b, _) = org_with_admin(&state, "b@example.com", "B").await;
    assert!(state
        .admission
        .require(&admin_a, org_a, Permission::OrgUpdate)
        .await
        .is_ok());
    let r = state
        .admission
        .require(&admin_a, org_b, Permission::OrgRead)
        .await;
    assert_eq!(code(r.map(|a| a.tenant())), "wrong_organization");
    let viewer = person(&state, "v@example.com").await;
    let viewer = join(&state, org_a, &admin_a, &viewer, &["viewer"]).await;
    let r = state
        .admission
        .require(&viewer, org_a, Permission::OrgUpdate)
        .await;
    assert_eq!(code(r.map(|a| a.tenant())), "permission_denied");
}

#[tokio::test]
async fn invitations_need_the_invitees_consent_and_work_once() {
    let (_dir, state) = state().await;
    let (org, admin) = org_with_admin(&state, "boss@example.com", "Inviting").await;
    let invitee = person(&state, "guest@example.com").await;
    let stranger = person(&state, "other@example.com").await;
    let access = state
        .admission
        .require(&admin, org, Permission::MemberInvite)
        .await
        .expect("access");
    let req = |roles: &[&str]| CreateInvitationRequest {
        email: invitee.email.clone(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        expires_in_secs: None,
    };
    let created = state
        .invitations
        .create(&access, &admin, req(&["auditor"]))
        .await
        .expect("invite");
    // Nobody is a member until the invitee accepts.
    let members = state
        .members
        .members(access.tenant())
        .await
        .expect("members");
    assert_eq!(members.len(), 1);
    let id = created.invitation.id;
    let r = state
        .invitations
        .accept(&signed_in(&stranger, None), id)
        .await;
    assert_eq!(code(r), "not_found");
    let member = state
        .invitations
        .accept(&signed_in(&invitee, None), id)
        .await
        .expect("accept");
    assert_eq!(member.roles, ["auditor"]);
    let r = state
        .invitations
        .accept(&signed_in(&invitee, None), id)
        .await;
    assert_eq!(code(r), "invitation_closed");
    // A pending invitation for a member is refused up front.
    let r = state
        .invitations
        .create(&access, &admin, req(&["viewer"]))
        .await;
    assert_eq!(code(r), "already_member");
}

#[tokio::test]
async fn nobody_hands_out_more_than_they_hold() {
    let (_dir, state) = state().await;
    let (org, admin) = org_with_admin(&state, "root@example.com", "Roles").await;
    let access = state
        .admission
        .require(&admin, org, Permission::RoleCreate)
        .await
        .expect("access");
    state
        .roles
        .create(
            &access,
            &admin,
            CreateRoleRequest {
                name: "role_maker".into(),
                description: None,
                permissions: vec!["org:read".into(), "role:create".into(), "role:read".into()],
                parent: None,
            },
        )
        .await
        .expect("role");
    let maker = person(&state, "maker@example.com").await;
    let maker = join(&state, org, &admin, &maker, &["role_maker"]).await;
    let access = state
        .admission
        .require(&maker, org, Permission::RoleCreate)
        .await
        .expect("maker may create roles");
    let stronger = CreateRoleRequest {
        name: "deleter".into(),
        description: None,
        permissions: vec!["doc:delete".into()],
        parent: None,
    };
    assert_eq!(
        code(state.roles.create(&access, &maker, stronger).await),
        "privilege_escalation"
    );
    // Nor by inheriting: a parent stronger than the creator.
    let inherited = CreateRoleRequest {
        name: "heir".into(),
        description: None,
        permissions: vec![],
        parent: Some("admin".into()),
    };
    assert_eq!(
        code(state.roles.create(&access, &maker, inherited).await),
        "privilege_escalation"
    );
    // Both attempts are on the organization's chain, naming who and what.
    let refused = state
        .store
        .audit_search(
            org,
            crate::store::AuditFilter {
                action: Some("access.escalation_refused".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("search");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused
        .iter()
        .all(|e| e.contains(&maker.user.id.to_string())));
    assert!(
        refused.iter().any(|e| e.contains("doc:delete")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn api_keys_never_carry_more_than_their_holder() {
    let (_dir, state) = state().await;
    let (org, admin) = org_with_admin(&state, "keys@example.com", "Keys").await;
    // API keys need the starter tier (an operator's change, audited).
    let mut batch =
        audit::batch(Event::new(Action::OrgTierChanged, Outcome::Success).org(Some(org)));
    state
        .store
        .set_org_tier(org, Tier::Starter, &mut batch)
        .await
        .expect("tier");
    let access = state
        .admission
        .require(&admin, org, Permission::ApiKeyCreate)
        .await
        .expect("access");
    let key = state
        .api_keys
        .create(
            &access,
            &admin,
            CreateApiKeyRequest {
                name: "ci".into(),
                scopes: vec!["org:read".into(), "doc:delete".into()],
                expires_at: None,
                require_signature: false,
            },
        )
        .await
        .expect("key");
    // A rotator holding fewer permissions than the key's scopes.
    state
        .roles
        .create(
            &access,
            &admin,
            CreateRoleRequest {
                name: "rotator".into(),
                description: None,
                permissions: vec![
                    "org:read".into(),
                    "apikey:read".into(),
                    "apikey:rotate".into(),
                ],
                parent: None,
            },
        )
        .await
        .expect("role");
    let rotator = person(&state, "rot@example.com").await;
    let rotator = join(&state, org, &admin, &rotator, &["rotator"]).await;
    let access = state
        .admission
        .require(&rotator, org, Permission::ApiKeyRotate)
        .await
        .expect("may rotate");
    let r = state
        .api_keys
        .rotate(
            &access,
            &rotator,
            key.key.id,
            RotateApiKeyRequest {
                grace_period_secs: None,
            },
        )
        .await;
    assert_eq!(code(r), "privilege_escalation");
}
