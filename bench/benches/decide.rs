//! The authorization decision with a warm policy snapshot: 1,000 custom
//! roles (inheriting in chains) and 100,000 resource grants.
//!
//! `cargo bench -p loki-bench --bench decide`

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use loki_daemon::rbac::policy::{GrantEntry, GrantSubject, OrgPolicy, RoleDef, Subject};
use loki_shared::permissions::{PermSet, Permission};
use uuid::Uuid;

const ROLES: usize = 1_000;
const GRANTS: usize = 100_000;
const DOCUMENTS: usize = 20_000;

fn policy() -> (OrgPolicy, Vec<Uuid>, Vec<Uuid>) {
    let perms: Vec<Permission> = Permission::ALL
        .iter()
        .copied()
        .filter(|p| !p.is_system())
        .collect();
    let roles: Vec<RoleDef> = (0..ROLES)
        .map(|i| RoleDef {
            name: format!("role_{i}"),
            own: PermSet::of(&[perms[i % perms.len()]]),
            // Chains of ten, each ending in a predefined role.
            parent: Some(if i % 10 == 0 {
                "viewer".to_owned()
            } else {
                format!("role_{}", i - 1)
            }),
        })
        .collect();
    let docs: Vec<Uuid> = (0..DOCUMENTS).map(|_| Uuid::now_v7()).collect();
    let users: Vec<Uuid> = (0..5_000).map(|_| Uuid::now_v7()).collect();
    let mut grants: HashMap<Uuid, Vec<GrantEntry>> = HashMap::new();
    for i in 0..GRANTS {
        let subject = if i % 3 == 0 {
            GrantSubject::Role(format!("role_{}", i % ROLES))
        } else {
            GrantSubject::User(users[i % users.len()])
        };
        grants
            .entry(docs[i % DOCUMENTS])
            .or_default()
            .push(GrantEntry {
                id: Uuid::now_v7(),
                subject,
                permission: [
                    Permission::DocRead,
                    Permission::DocDownload,
                    Permission::DocUpdate,
                ][i % 3],
            });
    }
    (OrgPolicy::build(1, &roles, grants), docs, users)
}

fn bench(c: &mut Criterion) {
    let (policy, docs, users) = policy();
    let subject = Subject {
        user: users[1],
        roles: vec!["role_9".into(), "role_505".into(), "auditor".into()],
        super_admin: false,
        scopes: None,
    };
    let mut g = c.benchmark_group("decide");
    g.bench_function("allowed_by_inherited_role", |b| {
        b.iter(|| policy.decide(black_box(&subject), black_box(Permission::OrgRead), None))
    });
    g.bench_function("allowed_by_resource_grant", |b| {
        // users[1] holds grants on docs[1 + 5000k] (i = 1, 5001, ...).
        b.iter(|| {
            policy.decide(
                black_box(&subject),
                black_box(Permission::DocDownload),
                Some(black_box(docs[1])),
            )
        })
    });
    g.bench_function("denied_after_scanning_grants", |b| {
        b.iter(|| {
            policy.decide(
                black_box(&subject),
                black_box(Permission::DocDelete),
                Some(black_box(docs[7])),
            )
        })
    });
    g.bench_function("api_key_scope_refusal", |b| {
        let key = Subject {
            scopes: Some(PermSet::of(&[Permission::OrgRead])),
            ..subject.clone()
        };
        b.iter(|| policy.decide(black_box(&key), black_box(Permission::DocRead), None))
    });
    g.finish();
    c.bench_function("policy_build_1000_roles_100000_grants", |b| {
        b.iter_with_large_drop(policy_build_only)
    });
}

fn policy_build_only() -> OrgPolicy {
    policy().0
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
