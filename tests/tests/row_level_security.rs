//! PostgreSQL's catalogue, read after migrating: every table that holds an
//! `org_id` has row-level security enabled, forced (so the table owner is
//! filtered too) and at least one policy; every other table is on a short,
//! reviewed list of tables that belong to no tenant. A new table has to be
//! placed on one side or the other, or this test fails.

use loki_daemon::store;
use loki_tests::{Backend, TestEnv};

/// Tables with no tenant column, and why they need none.
const NOT_TENANT_DATA: &[(&str, &str)] = &[
    ("_sqlx_migrations", "migration bookkeeping"),
    ("users", "accounts exist across organizations"),
    ("signing_keys", "the daemon's token signing keys"),
    ("mfa_recovery_codes", "belong to an account"),
    ("refresh_families", "sessions belong to accounts"),
    (
        "refresh_tokens",
        "belong to a session (its scope is `session_org`)",
    ),
    (
        "signin_failures",
        "per account, keyed by a hash of the email",
    ),
    ("readiness", "the row the readiness probe writes"),
    ("audit_keys", "the daemon's audit signing keys"),
    (
        "grants",
        "scoped through their org_id-bearing role (checked below)",
    ),
    ("organizations", "scoped by id (checked below)"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(loki_postgres), ignore = "set LOKI_TEST_DATABASE_URL to run")]
async fn every_tenant_table_has_forced_row_level_security() {
    let Some(b) = Backend::postgres() else { return };
    let env = TestEnv::new(b).await;
    let url = env.config().database_url();
    let pg = store::postgres::PgStore::connect(&url, 1)
        .await
        .expect("connect and migrate");
    drop(pg);
    let owner = &env.pg.as_ref().expect("postgres").url;
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(owner)
        .await
        .expect("connect as owner");
    let tables: Vec<(String, bool, bool, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, \
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                        AND a.attname = 'org_id' AND NOT a.attisdropped), \
                c.relrowsecurity, c.relforcerowsecurity, \
                EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .expect("catalogue");
    assert!(tables.len() > 10, "migrated: {tables:?}");

    let mut problems = Vec::new();
    for (name, has_org, enabled, forced, policy) in &tables {
        let exempt = NOT_TENANT_DATA.iter().any(|(t, _)| t == name);
        // The two tenant tables scoped other than by their own org_id.
        let scoped_anyway = matches!(name.as_str(), "organizations" | "grants");
        if *has_org || scoped_anyway {
            if !(*enabled && *forced && *policy) {
                problems.push(format!(
                    "{name}: holds tenant data but RLS enabled={enabled} forced={forced} policy={policy}"
                ));
            }
        } else if !exempt {
            problems.push(format!(
                "{name}: no org_id and not on the reviewed list of non-tenant tables"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
