//! The audit unit of work, without a daemon: a store write commits its
//! audit batch in the same transaction (each event on the chain it names),
//! and a write that fails leaves no event behind.

use loki_shared::audit::actions::Action;
use uuid::Uuid;

use super::sqlite::SqliteStore;
use super::{AccountStore, AuditStore, NewOrg, NewUser, Store, StoreError, TenantStore};
use crate::audit::{self, Event, Outcome, SYSTEM_CHAIN};

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::connect(&url, 2).await.expect("connect");
    (dir, store)
}

fn user(email: &str) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        email: email.into(),
        display_name: None,
        password_hash: Some("$argon2id$x".into()),
    }
}

async fn head(s: &SqliteStore, chain: Uuid) -> Option<i64> {
    s.audit_head(chain).await.expect("head").map(|(seq, _)| seq)
}

#[tokio::test]
async fn a_change_and_its_events_commit_together() {
    let (_dir, s) = store().await;
    let mut audit = audit::batch(Event::new(Action::UserRegistered, Outcome::Success));
    let u = s
        .create_user(user("a@example.com"), &mut audit)
        .await
        .expect("user");
    assert_eq!(audit.appended(), [(SYSTEM_CHAIN, 1)]);

    // One change, two chains: both events land, each on its own chain.
    let org = Uuid::now_v7();
    let mut audit = audit::and(
        audit::batch(Event::new(Action::OrgCreated, Outcome::Success).org(Some(org))),
        Event::new(Action::UserSuperAdminGranted, Outcome::Success),
    );
    let new = NewOrg {
        id: org,
        slug: "acme".into(),
        name: "Acme".into(),
    };
    s.create_org(new, u.id, &mut audit).await.expect("org");
    assert_eq!(audit.appended(), [(org, 1), (SYSTEM_CHAIN, 2)]);
    assert_eq!(head(&s, org).await, Some(1));
    assert_eq!(head(&s, SYSTEM_CHAIN).await, Some(2));
}

#[tokio::test]
async fn a_failed_change_leaves_no_event() {
    let (_dir, s) = store().await;
    let mut audit = audit::batch(Event::new(Action::UserRegistered, Outcome::Success));
    let u = s
        .create_user(user("b@example.com"), &mut audit)
        .await
        .expect("user");
    let org = Uuid::now_v7();
    let mut audit = audit::batch(Event::new(Action::OrgCreated, Outcome::Success).org(Some(org)));
    let new = NewOrg {
        id: org,
        slug: "beta".into(),
        name: "Beta".into(),
    };
    s.create_org(new, u.id, &mut audit).await.expect("org");

    // Refused inside the transaction (no such role): no event.
    let mut audit = audit::batch(Event::new(Action::RoleDeleted, Outcome::Success).org(Some(org)));
    let r = s.delete_role(org, "nope", None, &mut audit).await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    assert!(audit.appended().is_empty());
    // A conflict (the slug is taken): no event on either chain.
    let mut audit = audit::and(
        audit::batch(Event::new(Action::OrgCreated, Outcome::Success).org(Some(Uuid::now_v7()))),
        Event::new(Action::UserSuperAdminGranted, Outcome::Success),
    );
    let taken = NewOrg {
        id: Uuid::now_v7(),
        slug: "beta".into(),
        name: "Beta again".into(),
    };
    let r = s.create_org(taken, u.id, &mut audit).await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
    assert_eq!(head(&s, org).await, Some(1));
    assert_eq!(head(&s, SYSTEM_CHAIN).await, Some(1));
}
