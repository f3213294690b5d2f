//! Every predefined role against every organization endpoint: what the
//! role's permissions allow succeeds, everything else is 403 naming the
//! missing permission. Each row gets fresh fixtures (made by an admin), so
//! destructive endpoints do not disturb the rows after them.

use loki_shared::permissions::{predefined_role, Permission, PREDEFINED_ROLES};
use loki_tests::{backend_tests, json, Backend, TestApp, TestEnv};
use reqwest::Method;
use serde_json::Value;
use Permission::*;

/// What a row needs to exist before it runs.
#[derive(Clone, Copy, PartialEq)]
enum Fx {
    Member,
    /// A member holding viewer and auditor.
    TwoRoles,
    Doc,
    Key,
    Role,
    Grant,
    Session,
    /// A pending invitation.
    Invitation,
    /// A viewer whose account the organization manages (made by its invitation).
    Managed,
    /// An event of the organization's audit trail.
    Event,
    /// An identity provider (single sign-on).
    Idp,
}

struct Row {
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    /// Raw upload (content type, bytes) instead of JSON.
    upload: bool,
    needs: &'static [Permission],
    fixtures: &'static [Fx],
}

const fn row(
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    needs: &'static [Permission],
    fixtures: &'static [Fx],
) -> Row {
    Row {
        method,
        path,
        body,
        upload: false,
        needs,
        fixtures,
    }
}

const ROWS: &[Row] = &[
    row("GET", "/orgs/{org}/audit/events", None, &[AuditRead], &[]),
    row(
        "GET",
        "/orgs/{org}/audit/export?format=csv",
        None,
        &[AuditExport],
        &[],
    ),
    row("GET", "/orgs/{org}/audit/verify", None, &[AuditVerify], &[]),
    row(
        "GET",
        "/orgs/{org}/audit/events/{event}",
        None,
        &[AuditRead],
        &[Fx::Event],
    ),
    row("POST", "/orgs/{org}/audit/purge", None, &[AuditPurge], &[]),
    row(
        "GET",
        "/orgs/{org}/reports/snapshot",
        None,
        &[ReportGenerate],
        &[],
    ),
    row("GET", "/orgs/{org}", None, &[OrgRead], &[]),
    row(
        "PATCH",
        "/orgs/{org}",
        Some(r#"{"name":"Renamed"}"#),
        &[OrgUpdate],
        &[],
    ),
    row(
        "PATCH",
        "/orgs/{org}",
        Some(r#"{"settings":{"audit_retention_days":400}}"#),
        &[OrgUpdate, SecurityUpdate],
        &[],
    ),
    row(
        "PUT",
        "/orgs/{org}/tier",
        Some(r#"{"tier":"professional"}"#),
        &[SystemTiers],
        &[],
    ),
    row(
        "DELETE",
        "/orgs/{org}?hard=true",
        None,
        &[SystemHardDelete],
        &[],
    ),
    row("GET", "/orgs/{org}/members", None, &[MemberRead], &[]),
    row(
        "GET",
        "/orgs/{org}/members/{member}",
        None,
        &[MemberRead],
        &[Fx::Member],
    ),
    row(
        "POST",
        "/orgs/{org}/members",
        Some(r#"{"user_id":"{free_user}","role":"viewer"}"#),
        &[MemberInvite, RoleAssign],
        &[],
    ),
    row(
        "POST",
        "/orgs/{org}/invitations",
        Some(r#"{"email":"invitee{n}@example.com","roles":["viewer"]}"#),
        &[MemberInvite, RoleAssign],
        &[],
    ),
    row("GET", "/orgs/{org}/invitations", None, &[MemberRead], &[]),
    row(
        "DELETE",
        "/orgs/{org}/invitations/{invitation}",
        None,
        &[MemberInvite],
        &[Fx::Invitation],
    ),
    row(
        "PATCH",
        "/orgs/{org}/members/{member}",
        Some(r#"{"roles":["viewer"]}"#),
        &[RoleAssign],
        &[Fx::Member],
    ),
    row(
        "POST",
        "/orgs/{org}/members/{member}/roles",
        Some(r#"{"role":"auditor"}"#),
        &[
            RoleAssign,
            AuditExport,
            SessionRead,
            ApiKeyRead,
            DocDownload,
            GrantRead,
            SecurityRead,
            ReportGenerate,
            AuditRead,
            AuditVerify,
        ],
        &[Fx::Member],
    ),
    row(
        "DELETE",
        "/orgs/{org}/members/{member}/roles/viewer",
        None,
        &[RoleAssign],
        &[Fx::TwoRoles],
    ),
    row(
        "DELETE",
        "/orgs/{org}/members/{member}",
        None,
        &[MemberRemove],
        &[Fx::Member],
    ),
    row(
        "POST",
        "/orgs/{org}/members/{member}/reset-password",
        None,
        &[MemberResetPassword],
        &[Fx::Managed],
    ),
    row("GET", "/orgs/{org}/roles", None, &[RoleRead], &[]),
    row(
        "GET",
        "/orgs/{org}/roles/{role}",
        None,
        &[RoleRead],
        &[Fx::Role],
    ),
    row(
        "POST",
        "/orgs/{org}/roles",
        Some(r#"{"name":"fresh_{n}","permissions":["org:read"]}"#),
        &[RoleCreate],
        &[],
    ),
    row(
        "PATCH",
        "/orgs/{org}/roles/{role}",
        Some(r#"{"description":"changed"}"#),
        &[RoleUpdate],
        &[Fx::Role],
    ),
    row(
        "DELETE",
        "/orgs/{org}/roles/{role}",
        None,
        &[RoleDelete],
        &[Fx::Role],
    ),
    row("GET", "/orgs/{org}/grants", None, &[GrantRead], &[]),
    row(
        "POST",
        "/orgs/{org}/grants",
        Some(
            r#"{"resource_type":"document","resource_id":"{doc}","subject_type":"user","subject":"{member}","permission":"doc:read"}"#,
        ),
        &[GrantCreate, DocRead],
        &[Fx::Doc, Fx::Member],
    ),
    row(
        "DELETE",
        "/orgs/{org}/grants/{grant}",
        None,
        &[GrantRevoke],
        &[Fx::Grant],
    ),
    row(
        "GET",
        "/orgs/{org}/identity-providers",
        None,
        &[SecurityRead],
        &[],
    ),
    row(
        "GET",
        "/orgs/{org}/identity-providers/{idp}",
        None,
        &[SecurityRead],
        &[Fx::Idp],
    ),
    row(
        "POST",
        "/orgs/{org}/identity-providers",
        Some(r#"{"name":"idp_{n}","preset":"google","client_id":"c"}"#),
        &[SecurityUpdate],
        &[],
    ),
    row(
        "DELETE",
        "/orgs/{org}/identity-providers/{idp}",
        None,
        &[SecurityUpdate],
        &[Fx::Idp],
    ),
    row("GET", "/orgs/{org}/api-keys", None, &[ApiKeyRead], &[]),
    row(
        "POST",
        "/orgs/{org}/api-keys",
        Some(r#"{"name":"k","scopes":["org:read"]}"#),
        &[ApiKeyCreate],
        &[],
    ),
    row(
        "GET",
        "/orgs/{org}/api-keys/{key}",
        None,
        &[ApiKeyRead],
        &[Fx::Key],
    ),
    row(
        "POST",
        "/orgs/{org}/api-keys/{key}/rotate",
        Some("{}"),
        &[ApiKeyRotate],
        &[Fx::Key],
    ),
    row(
        "DELETE",
        "/orgs/{org}/api-keys/{key}",
        None,
        &[ApiKeyRevoke],
        &[Fx::Key],
    ),
    row("GET", "/orgs/{org}/sessions", None, &[SessionRead], &[]),
    row(
        "DELETE",
        "/orgs/{org}/sessions/{session}",
        None,
        &[SessionRevoke],
        &[Fx::Session],
    ),
    row("GET", "/orgs/{org}/documents", None, &[DocRead], &[]),
    Row {
        method: "POST",
        path: "/orgs/{org}/documents?name=evidence.txt&controls=CC6.1",
        body: None,
        upload: true,
        needs: &[DocCreate],
        fixtures: &[],
    },
    row(
        "GET",
        "/orgs/{org}/documents/{doc}",
        None,
        &[DocRead],
        &[Fx::Doc],
    ),
    row(
        "GET",
        "/orgs/{org}/documents/{doc}/versions",
        None,
        &[DocRead],
        &[Fx::Doc],
    ),
    row(
        "GET",
        "/orgs/{org}/documents/{doc}/content",
        None,
        &[DocDownload],
        &[Fx::Doc],
    ),
    row(
        "PATCH",
        "/orgs/{org}/documents/{doc}",
        Some(r#"{"name":"renamed.txt"}"#),
        &[DocUpdate],
        &[Fx::Doc],
    ),
    Row {
        method: "PUT",
        path: "/orgs/{org}/documents/{doc}/content",
        body: None,
        upload: true,
        needs: &[DocUpdate],
        fixtures: &[Fx::Doc],
    },
    row(
        "DELETE",
        "/orgs/{org}/documents/{doc}",
        None,
        &[DocDelete],
        &[Fx::Doc],
    ),
    row("DELETE", "/orgs/{org}", None, &[OrgDelete], &[]),
];

struct Ctx<'a> {
    app: &'a TestApp,
    org: String,
    admin: String,
    n: usize,
}

fn id(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

impl Ctx<'_> {
    fn next(&mut self) -> usize {
        self.n += 1;
        self.n
    }

    /// Registers a user; returns (id, email).
    async fn user(&mut self) -> (String, String) {
        let email = format!("fx{}@example.com", self.next());
        (self.app.register(&email).await.to_string(), email)
    }

    async fn member(&mut self, role: &str) -> (String, String) {
        let (user, email) = self.user().await;
        self.app
            .join(
                &self.org,
                &self.admin,
                json!({"user_id": user, "role": role}),
            )
            .await;
        (user, email)
    }

    async fn doc(&mut self) -> String {
        let n = self.next();
        let r = self
            .app
            .client
            .post(self.app.url(&format!(
                "/api/v1/orgs/{}/documents?name=fixture.txt",
                self.org
            )))
            .bearer_auth(&self.admin)
            .header("content-type", "text/plain")
            .body(format!("fixture {n}"))
            .send()
            .await
            .expect("upload");
        id(TestApp::reply(r).await.assert_status(201), "id")
    }

    async fn fixture(&mut self, fx: Fx, vars: &mut Vec<(String, String)>) {
        let (org, admin) = (self.org.clone(), self.admin.clone());
        let (key, value) = match fx {
            Fx::Member => ("{member}", self.member("viewer").await.0),
            Fx::TwoRoles => {
                let (user, _) = self.member("viewer").await;
                let path = format!("/api/v1/orgs/{org}/members/{user}/roles");
                self.app
                    .post(&path, Some(&admin), json!({"role": "auditor"}))
                    .await
                    .assert_status(200);
                ("{member}", user)
            }
            Fx::Doc => ("{doc}", self.doc().await),
            Fx::Key => {
                let r = self
                    .app
                    .post(
                        &format!("/api/v1/orgs/{org}/api-keys"),
                        Some(&admin),
                        json!({"name": "fx", "scopes": ["org:read"]}),
                    )
                    .await;
                ("{key}", id(&r.assert_status(201)["key"], "id"))
            }
            Fx::Role => {
                let name = format!("custom_{}", self.next());
                self.app
                    .post(
                        &format!("/api/v1/orgs/{org}/roles"),
                        Some(&admin),
                        json!({"name": name, "permissions": ["org:read"]}),
                    )
                    .await
                    .assert_status(201);
                ("{role}", name)
            }
            Fx::Grant => {
                let doc = self.doc().await;
                let (member, _) = self.member("viewer").await;
                let body = json!({"resource_type": "document", "resource_id": doc, "subject_type": "user", "subject": member, "permission": "doc:read"});
                let r = self
                    .app
                    .post(&format!("/api/v1/orgs/{org}/grants"), Some(&admin), body)
                    .await;
                ("{grant}", id(r.assert_status(201), "id"))
            }
            Fx::Idp => {
                let body = json!({"name": format!("idp_fx_{}", self.next()), "preset": "google", "client_id": "c"});
                let r = self
                    .app
                    .post(
                        &format!("/api/v1/orgs/{org}/identity-providers"),
                        Some(&admin),
                        body,
                    )
                    .await;
                ("{idp}", id(r.assert_status(201), "id"))
            }
            Fx::Managed => {
                let email = format!("managed{}@example.com", self.next());
                let m = self.app.join_new(&org, &admin, &email, &["viewer"]).await;
                ("{member}", id(&m, "user_id"))
            }
            Fx::Invitation => {
                let email = format!("pending{}@example.com", self.next());
                let r = self
                    .app
                    .post(
                        &format!("/api/v1/orgs/{org}/invitations"),
                        Some(&admin),
                        json!({"email": email, "roles": ["viewer"]}),
                    )
                    .await;
                (
                    "{invitation}",
                    id(&r.assert_status(201)["invitation"], "id"),
                )
            }
            Fx::Event => {
                let r = self
                    .app
                    .get(&format!("/api/v1/orgs/{org}/audit/events?limit=1"), &admin)
                    .await;
                ("{event}", id(&r.assert_status(200)["events"][0], "id"))
            }
            Fx::Session => {
                let (_, email) = self.member("viewer").await;
                let token = self.app.login(&email, Some(&org)).await;
                let me = self.app.get("/api/v1/auth/me", &token).await;
                ("{session}", id(&me.body, "session_id"))
            }
        };
        vars.push((key.to_owned(), value));
    }
}

async fn every_role_against_every_endpoint(b: Backend) {
    // Hundreds of sign-ins from one address: lift the per-IP limit.
    let env = std::sync::Arc::new(TestEnv::new(b).await);
    let mut config = env.config();
    config.signin_ip_limit = 100_000;
    let app = TestApp::spawn_with(env, config).await;
    let root = app.super_admin("root@example.com").await;
    let mut count = 0;
    for role in PREDEFINED_ROLES {
        let perms = predefined_role(role).unwrap_or_default();
        for row in ROWS {
            count += 1;
            // A fresh organization per row keeps destructive rows apart.
            let (org, admin) = app
                .user_with_org(
                    &format!("admin{count}@example.com"),
                    &format!("Matrix {count}"),
                )
                .await;
            app.put(
                &format!("/api/v1/orgs/{org}/tier"),
                &root,
                json!({"tier": "starter"}),
            )
            .await
            .assert_status(200);
            let mut ctx = Ctx {
                app: &app,
                org: org.to_string(),
                admin,
                n: count * 100,
            };
            let mut vars = vec![("{org}".to_owned(), ctx.org.clone())];
            for fx in row.fixtures {
                ctx.fixture(*fx, &mut vars).await;
            }
            let (free_user, _) = ctx.user().await;
            vars.push(("{free_user}".into(), free_user));
            vars.push(("{n}".into(), ctx.next().to_string()));
            let (_, caller_email) = ctx.member(role).await;
            let token = app.login(&caller_email, Some(&ctx.org)).await;

            let fill = |s: &str| {
                vars.iter()
                    .fold(s.to_owned(), |acc, (k, v)| acc.replace(k, v))
            };
            let path = format!("/api/v1{}", fill(row.path));
            let method: Method = row.method.parse().expect("method");
            let mut req = app
                .client
                .request(method, app.url(&path))
                .bearer_auth(&token);
            if let Some(body) = row.body {
                req = req
                    .header("content-type", "application/json")
                    .body(fill(body));
            }
            if row.upload {
                req = req
                    .header("content-type", "text/plain")
                    .body("matrix evidence");
            }
            let reply = TestApp::reply(req.send().await.expect("request")).await;
            let allowed = row.needs.iter().all(|p| perms.contains(*p));
            let what = format!("{role}: {} {} -> {}", row.method, row.path, reply.body);
            if allowed {
                assert!(reply.status.is_success(), "expected success for {what}");
            } else {
                assert_eq!(reply.status.as_u16(), 403, "expected 403 for {what}");
                let code = reply.body["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    code == "permission_denied" || code == "privilege_escalation",
                    "expected a permission refusal for {what}"
                );
                if code == "permission_denied" {
                    let missing = reply.body["error"]["permission"]
                        .as_str()
                        .unwrap_or_default();
                    assert!(
                        row.needs.iter().any(|p| p.name() == missing),
                        "names a needed permission: {what}"
                    );
                }
            }
        }
    }
    assert_eq!(count, PREDEFINED_ROLES.len() * ROWS.len());
    app.stop().await;
}

backend_tests!(every_role_against_every_endpoint);

/// The rows come from the routing table: every organization operation in
/// the OpenAPI document (which is generated from the routes the daemon
/// serves) has a row, and every row is a documented operation. A new route
/// fails here until the matrix says which permission it needs.
#[test]
fn every_organization_operation_has_a_row() {
    fn segments(path: &str) -> Vec<String> {
        let path = path.split('?').next().unwrap_or_default();
        path.trim_start_matches("/api/v1")
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with('{') {
                    "*".into()
                } else {
                    s.to_owned()
                }
            })
            .collect()
    }
    // A row's segment matches a template parameter, or the same literal.
    let matches = |row: &[String], op: &[String]| {
        row.len() == op.len() && row.iter().zip(op).all(|(r, o)| o == "*" || r == o)
    };
    let operations: Vec<(&str, String, Vec<String>)> =
        loki_tests::documented_operations("/api/v1/orgs/{org_id}")
            .into_iter()
            .map(|(m, p)| {
                let segs = segments(&p);
                (m, p, segs)
            })
            .collect();
    assert!(operations.len() > 30, "{} operations", operations.len());
    let rows: Vec<(&str, Vec<String>)> =
        ROWS.iter().map(|r| (r.method, segments(r.path))).collect();
    let uncovered: Vec<String> = operations
        .iter()
        .filter(|(m, _, op)| !rows.iter().any(|(rm, rs)| rm == m && matches(rs, op)))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(
        uncovered.is_empty(),
        "operations without a row: {uncovered:?}"
    );
    let undocumented: Vec<String> = ROWS
        .iter()
        .filter(|r| {
            let rs = segments(r.path);
            !operations
                .iter()
                .any(|(m, _, op)| *m == r.method && matches(&rs, op))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        undocumented.is_empty(),
        "rows for no documented operation: {undocumented:?}"
    );
}
