//! The store contract: the same cases against SQLite and PostgreSQL, through
//! the `Store` trait. Plus the row-level-security wall on PostgreSQL.

use std::sync::Arc;

use loki_daemon::audit::{Event, Outcome};
use loki_daemon::store::{self, DynStore, NewOrg, NewUser, OrgPatch, StoreError};
use loki_shared::api::OrgSettings;
use loki_shared::audit::actions::Action;
use loki_shared::Tier;
use loki_tests::{backend_tests, Backend, TestEnv};
use uuid::Uuid;

async fn open(b: Backend) -> (TestEnv, DynStore) {
    let env = TestEnv::new(b).await;
    let url = env.config().database_url();
    let store = store::connect(&url, 5).await.expect("open store");
    assert_eq!(
        store.backend(),
        match b {
            Backend::Sqlite => store::Backend::Sqlite,
            Backend::Postgres => store::Backend::Postgres,
        }
    );
    (env, store)
}

/// The audit batch a store write needs (an event on the system chain).
fn audited() -> store::AuditBatch {
    loki_daemon::audit::batch(Event::new(Action::OrgUpdated, Outcome::Success))
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        display_name: Some("Name".into()),
        password_hash: Some("$argon2id$placeholder".into()),
    }
}

fn new_org(slug: &str) -> NewOrg {
    NewOrg {
        id: Uuid::now_v7(),
        slug: slug.to_owned(),
        name: format!("Org {slug}"),
    }
}

async fn users(b: Backend) {
    let (_env, s) = open(b).await;
    let u = s
        .create_user(new_user("u@example.com"), &mut audited())
        .await
        .expect("create");
    assert_eq!(
        s.user_by_id(u.id).await.expect("get").map(|x| x.email),
        Some("u@example.com".into())
    );
    assert_eq!(
        s.user_by_email("u@example.com")
            .await
            .expect("get")
            .map(|x| x.id),
        Some(u.id)
    );
    let creds = s
        .credentials_by_email("u@example.com")
        .await
        .expect("creds")
        .expect("some");
    assert_eq!(
        creds.password_hash.as_deref(),
        Some("$argon2id$placeholder")
    );
    assert!(
        !format!("{creds:?}").contains("placeholder"),
        "hash hidden from Debug"
    );
    match s
        .create_user(new_user("u@example.com"), &mut audited())
        .await
    {
        Err(StoreError::Conflict {
            code: "email_taken",
            ..
        }) => {}
        other => panic!("expected email_taken, got {other:?}"),
    }
    let admin = s
        .upsert_super_admin(new_user("u@example.com"), &mut audited())
        .await
        .expect("promote");
    assert!(admin.is_super_admin);
    assert_eq!(admin.id, u.id, "promotion keeps the user");
    assert!(s.user_by_id(Uuid::now_v7()).await.expect("get").is_none());
}

async fn organizations(b: Backend) {
    let (_env, s) = open(b).await;
    let u = s
        .create_user(new_user("o@example.com"), &mut audited())
        .await
        .expect("user");
    let org = s
        .create_org(new_org("alpha"), u.id, &mut audited())
        .await
        .expect("org");
    assert_eq!(org.tier, Tier::Free);
    assert_eq!(
        s.member(org.id, u.id)
            .await
            .expect("member")
            .map(|m| m.roles),
        Some(vec!["admin".to_owned()])
    );
    match s.create_org(new_org("alpha"), u.id, &mut audited()).await {
        Err(StoreError::Conflict {
            code: "slug_taken", ..
        }) => {}
        other => panic!("expected slug_taken, got {other:?}"),
    }
    let patched = s
        .update_org(
            org.id,
            OrgPatch {
                name: Some("Renamed".into()),
                settings: Some(OrgSettings {
                    audit_retention_days: 30,
                    require_mfa_for_admins: true,
                    ip_allow: vec!["2001:db8::/32".parse().expect("cidr")],
                    ip_deny: vec!["10.0.0.0/8".parse().expect("cidr")],
                    require_signed_requests: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &mut audited(),
        )
        .await
        .expect("update");
    assert_eq!(
        (patched.name.as_str(), patched.slug.as_str()),
        ("Renamed", "alpha")
    );
    assert_eq!(patched.settings.audit_retention_days, 30);
    assert!(patched.settings.require_signed_requests);
    assert_eq!(patched.settings.ip_deny[0].to_string(), "10.0.0.0/8");
    assert_eq!(patched.settings.ip_allow[0].to_string(), "2001:db8::/32");
    assert!(patched.updated_at >= org.updated_at);
    assert_eq!(
        s.set_org_tier(org.id, Tier::Enterprise, &mut audited())
            .await
            .expect("tier")
            .tier,
        Tier::Enterprise
    );
    assert_eq!(s.orgs_of_user(u.id).await.expect("mine").len(), 1);
    let deleted = s
        .soft_delete_org(org.id, &mut audited())
        .await
        .expect("soft delete");
    assert!(deleted.deleted_at.is_some());
    assert!(s.orgs_of_user(u.id).await.expect("mine").is_empty());
    assert!(matches!(
        s.soft_delete_org(org.id, &mut audited()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.update_org(
            org.id,
            OrgPatch {
                name: Some("x".into()),
                ..Default::default()
            },
            &mut audited()
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    s.hard_delete_org(org.id, &mut audited())
        .await
        .expect("hard delete");
    assert!(s.org_by_id(org.id).await.expect("get").is_none());
    assert!(
        s.member(org.id, u.id).await.expect("member").is_none(),
        "memberships cascade"
    );
    assert!(matches!(
        s.hard_delete_org(org.id, &mut audited()).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn memberships_and_limit(b: Backend) {
    let (_env, s) = open(b).await;
    let owner = s
        .create_user(new_user("owner@example.com"), &mut audited())
        .await
        .expect("user");
    let org = s
        .create_org(new_org("beta"), owner.id, &mut audited())
        .await
        .expect("org");
    let mut others = Vec::new();
    for i in 0..12 {
        others.push(
            s.create_user(new_user(&format!("m{i}@example.com")), &mut audited())
                .await
                .expect("user")
                .id,
        );
    }
    // Limit 5: the owner plus 4. Twelve concurrent adds, exactly 4 succeed.
    let s = Arc::clone(&s);
    let tasks: Vec<_> = others
        .iter()
        .map(|u| {
            let (s, u) = (Arc::clone(&s), *u);
            tokio::spawn(async move {
                s.add_member(org.id, u, "viewer", Some(5), &mut audited())
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(StoreError::LimitReached(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 4);
    assert_eq!(s.list_members(org.id).await.expect("list").len(), 5);
    let member = s.list_members(org.id).await.expect("list")[1].user_id;
    assert!(matches!(
        s.add_member(org.id, member, "viewer", None, &mut audited())
            .await,
        Err(StoreError::Conflict {
            code: "already_member",
            ..
        })
    ));
    assert_eq!(
        s.set_member_roles(
            org.id,
            member,
            &["auditor".into(), "viewer".into()],
            &mut audited()
        )
        .await
        .expect("role")
        .roles,
        ["auditor", "viewer"]
    );
    assert_eq!(
        s.remove_member_role(org.id, member, "viewer", &mut audited())
            .await
            .expect("revoke")
            .roles,
        ["auditor"]
    );
    assert!(matches!(
        s.remove_member_role(org.id, member, "viewer", &mut audited())
            .await,
        Err(StoreError::NotFound(_))
    ));
    let again = s
        .add_member_role(org.id, member, "auditor", &mut audited())
        .await;
    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                code: "role_already_held",
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(
        s.count_members_with_role(org.id, "admin")
            .await
            .expect("count"),
        1
    );
    s.remove_member(org.id, member, &mut audited())
        .await
        .expect("remove");
    assert!(matches!(
        s.remove_member(org.id, member, &mut audited()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.set_member_roles(org.id, member, &["viewer".into()], &mut audited())
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn tenant_methods_filter_by_org(b: Backend) {
    let (_env, s) = open(b).await;
    let a = s
        .create_user(new_user("a@example.com"), &mut audited())
        .await
        .expect("user");
    let bu = s
        .create_user(new_user("b@example.com"), &mut audited())
        .await
        .expect("user");
    let org_a = s
        .create_org(new_org("tenant-a"), a.id, &mut audited())
        .await
        .expect("org");
    let org_b = s
        .create_org(new_org("tenant-b"), bu.id, &mut audited())
        .await
        .expect("org");
    assert!(s.member(org_a.id, bu.id).await.expect("member").is_none());
    assert!(matches!(
        s.remove_member(org_a.id, bu.id, &mut audited()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.set_member_roles(org_a.id, bu.id, &["viewer".into()], &mut audited())
            .await,
        Err(StoreError::NotFound(_))
    ));
    let list: Vec<_> = s
        .list_members(org_a.id)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert_eq!(list, ["a@example.com"]);
    assert_eq!(
        s.member(org_b.id, bu.id)
            .await
            .expect("member")
            .map(|m| m.roles),
        Some(vec!["admin".to_owned()])
    );
}

async fn signing_keys(b: Backend) {
    let (_env, s) = open(b).await;
    assert!(s.signing_keys().await.expect("keys").is_empty());
    for kid in ["k1", "k2"] {
        s.insert_signing_key(store::SigningKeyRecord {
            kid: kid.into(),
            public_key: vec![1; 32],
            private_key_enc: vec![2; 60],
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("insert");
    }
    let keys = s.signing_keys().await.expect("keys");
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    assert_eq!(keys[1].private_key_enc, vec![2; 60]);
}

/// Transactions that read, then write (role changes check the member
/// first) run concurrently without failing: they queue for the write lock
/// instead of tripping over each other's commits (SQLITE_BUSY).
async fn concurrent_read_then_write_transactions_queue(b: Backend) {
    let (_env, s) = open(b).await;
    let owner = s
        .create_user(new_user("q@example.com"), &mut audited())
        .await
        .expect("user");
    let org = s
        .create_org(new_org("queue"), owner.id, &mut audited())
        .await
        .expect("org");
    let mut members = Vec::new();
    for i in 0..8 {
        let u = s
            .create_user(new_user(&format!("q{i}@example.com")), &mut audited())
            .await
            .expect("user")
            .id;
        s.add_member(org.id, u, "viewer", None, &mut audited())
            .await
            .expect("member");
        members.push(u);
    }
    let tasks: Vec<_> = members
        .iter()
        .flat_map(|u| [(*u, "auditor"), (*u, "compliance_officer")])
        .map(|(u, role)| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                s.add_member_role(org.id, u, role, &mut audited()).await?;
                s.remove_member_role(org.id, u, role, &mut audited()).await
            })
        })
        .collect();
    for t in tasks {
        let done = t.await.expect("task");
        assert!(done.is_ok(), "{done:?}");
    }
    for u in members {
        let m = s.member(org.id, u).await.expect("member").expect("exists");
        assert_eq!(m.roles, ["viewer"]);
    }
}

backend_tests!(
    users,
    organizations,
    memberships_and_limit,
    concurrent_read_then_write_transactions_queue,
    tenant_methods_filter_by_org,
    signing_keys
);

/// Row-level security: inside one tenant's transaction, a query with its
/// WHERE clause removed still sees no other tenant's rows, and cannot write
/// into another tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(loki_postgres), ignore = "set LOKI_TEST_DATABASE_URL to run")]
async fn postgres_rls_hides_other_tenants_without_where_clauses() {
    let Some(b) = Backend::postgres() else { return };
    let env = TestEnv::new(b).await;
    let url = env.config().database_url();
    let pg = store::postgres::PgStore::connect(&url, 3)
        .await
        .expect("connect");
    let s: &dyn store::Store = &pg;
    let a = s
        .create_user(new_user("a@example.com"), &mut audited())
        .await
        .expect("user");
    let bu = s
        .create_user(new_user("b@example.com"), &mut audited())
        .await
        .expect("user");
    let org_a = s
        .create_org(new_org("rls-a"), a.id, &mut audited())
        .await
        .expect("org");
    let org_b = s
        .create_org(new_org("rls-b"), bu.id, &mut audited())
        .await
        .expect("org");

    // The daemon's connections are not privileged.
    let mut tx = pg.begin_scoped(Some(org_a.id), None).await.expect("tx");
    let (role, superuser): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("role");
    assert_eq!((role.as_str(), superuser), ("loki_app", false));

    // No WHERE clause at all.
    let orgs: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM organizations")
        .fetch_all(&mut *tx)
        .await
        .expect("orgs");
    assert_eq!(orgs, [org_a.id]);
    let members: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT org_id FROM memberships")
        .fetch_all(&mut *tx)
        .await
        .expect("members");
    assert_eq!(members, [org_a.id]);
    // Updates and deletes without a filter touch only this tenant.
    let touched = sqlx::query("UPDATE organizations SET name = 'x'")
        .execute(&mut *tx)
        .await
        .expect("update");
    assert_eq!(touched.rows_affected(), 1);
    let gone = sqlx::query("DELETE FROM memberships WHERE org_id = $1")
        .bind(org_b.id)
        .execute(&mut *tx)
        .await
        .expect("delete");
    assert_eq!(gone.rows_affected(), 0);
    // Writing a row into another tenant is refused by the policy.
    let forged = sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at, updated_at) VALUES ($1, $2, 'admin', now(), now())")
        .bind(org_b.id)
        .bind(a.id)
        .execute(&mut *tx)
        .await;
    assert!(forged.is_err(), "cross-tenant insert must fail");
    drop(tx); // roll back

    // Every tenant table: rows of B exist, and A's scope sees none of them.
    let now = chrono::Utc::now();
    s.create_role(
        store::RoleRecord {
            id: Uuid::now_v7(),
            org_id: org_b.id,
            name: "b_role".into(),
            description: String::new(),
            permissions: "[]".into(),
            parent: None,
            created_at: now,
            updated_at: now,
        },
        &mut audited(),
    )
    .await
    .expect("role");
    let doc = Uuid::now_v7();
    s.create_document(
        store::DocumentRecord {
            id: doc,
            org_id: org_b.id,
            name: "b.txt".into(),
            description: String::new(),
            content_type: "text/plain".into(),
            size: 1,
            sha256: "ab".repeat(32),
            version: 1,
            frameworks: "[\"gdpr\"]".into(),
            controls: "[]".into(),
            created_by: bu.id,
            created_at: now,
            updated_at: now,
        },
        store::NewContent {
            sha256: "ab".repeat(32),
            content_type: "text/plain".into(),
            bytes: b"b".to_vec(),
            created_by: bu.id,
        },
        (vec!["gdpr".into()], vec![]),
        None,
        &mut audited(),
    )
    .await
    .expect("document");
    s.create_grant(
        store::GrantRecord {
            id: Uuid::now_v7(),
            org_id: org_b.id,
            resource_type: "document".into(),
            resource_id: doc,
            subject_type: "user".into(),
            subject: bu.id.to_string(),
            permission: "doc:read".into(),
            created_by: bu.id,
            created_at: now,
        },
        &mut audited(),
    )
    .await
    .expect("grant");
    let mut tx = pg.begin_scoped(Some(org_a.id), None).await.expect("tx");
    for table in [
        "roles",
        "grants",
        "documents",
        "document_versions",
        "document_tags",
        "blobs",
        "api_keys",
        "member_roles",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE org_id = $1"))
            .bind(org_b.id)
            .fetch_one(&mut *tx)
            .await
            .expect("count");
        assert_eq!(
            n, 0,
            "{table}: B's rows are invisible from A even when asked for by id"
        );
    }
    drop(tx);
    let mut tx = pg.begin_scoped(Some(org_b.id), None).await.expect("tx");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(n, 1, "and visible from B");
    drop(tx);

    // With no tenant set, nothing is visible: the wall fails closed.
    let mut tx = pg.begin_scoped(None, None).await.expect("tx");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(n, 0);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(n, 0);
    drop(tx);

    // The user scope sees exactly the user's own memberships.
    let mut tx = pg.begin_scoped(None, Some(bu.id)).await.expect("tx");
    let orgs: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM organizations")
        .fetch_all(&mut *tx)
        .await
        .expect("orgs");
    assert_eq!(orgs, [org_b.id]);
    drop(tx);
    assert_eq!(
        s.org_by_id(org_b.id).await.expect("get").map(|o| o.name),
        Some("Org rls-b".into())
    );
}
