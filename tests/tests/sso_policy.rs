//! Who single sign-on lets in, from the attacker's side: an organization
//! that requires SSO refuses its members' passwords (and the password
//! sessions they already hold), a named break-glass admin excepted; a
//! session an organization's provider started stays in that organization
//! and carries no super-admin power; and no provider can sign in an account
//! that is not a member of its organization. Against the real provider.

use loki_tests::oidc::{add_provider, param, setup, token, Sso};
use loki_tests::{backend_tests, json, Backend, PASSWORD};
use serde_json::Value;
use uuid::Uuid;

async fn settings(t: &Sso, token: &str, patch: Value) -> loki_tests::Reply {
    let mut s = t
        .app
        .get(&format!("/api/v1/orgs/{}", t.org), token)
        .await
        .assert_status(200)["settings"]
        .clone();
    for (k, v) in patch.as_object().cloned().unwrap_or_default() {
        s[k] = v;
    }
    t.app
        .patch(
            &format!("/api/v1/orgs/{}", t.org),
            token,
            json!({"settings": s}),
        )
        .await
}

fn validation_on(r: &loki_tests::Reply, field: &str) {
    r.assert_error(422, "validation_failed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(field)),
        "{field}: {:?}",
        r.body
    );
}

async fn password_login(t: &Sso, email: &str, org: Option<Uuid>) -> loki_tests::Reply {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(o) = org {
        body["org"] = json!(o);
    }
    t.app.post("/api/v1/auth/login", None, body).await
}

async fn require_sso(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    let owner = t.me(&t.admin).await["user"]["id"].clone();
    let bob = t
        .app
        .join_new(t.org, &t.admin, "bob@acme.example", &["compliance_officer"])
        .await;
    let bob_id = bob["user_id"].clone();
    t.idp.account("bob@acme.example", true, &[]).await;
    // A password session bob holds before the policy changes.
    let before = password_login(&t, "bob@acme.example", Some(t.org))
        .await
        .assert_status(200)
        .clone();

    // Refusals that would lock people out: requiring SSO from the admin's
    // own password session without naming a way back in; a break-glass
    // user who is not an admin; an organization without a provider.
    validation_on(
        &settings(&t, &t.admin, json!({"require_sso": true})).await,
        "settings.sso_break_glass_user",
    );
    let dana = t
        .app
        .join_new(t.org, &t.admin, "dana@acme.example", &["admin"])
        .await;
    validation_on(
        &settings(
            &t,
            &t.admin,
            json!({"require_sso": true, "sso_break_glass_user": dana["user_id"]}),
        )
        .await,
        "settings.require_sso",
    );
    validation_on(
        &settings(
            &t,
            &t.admin,
            json!({"require_sso": true, "sso_break_glass_user": bob_id}),
        )
        .await,
        "settings.sso_break_glass_user",
    );
    let (other, other_admin) = t.app.user_with_org("solo@other.example", "Other").await;
    let r = t
        .app
        .get(&format!("/api/v1/orgs/{other}"), &other_admin)
        .await;
    let mut s = r.assert_status(200)["settings"].clone();
    s["require_sso"] = json!(true);
    let r = t
        .app
        .patch(
            &format!("/api/v1/orgs/{other}"),
            &other_admin,
            json!({"settings": s}),
        )
        .await;
    validation_on(&r, "settings.require_sso");
    // A compliance officer may not change security settings at all.
    let officer = password_login(&t, "bob@acme.example", Some(t.org)).await;
    let officer = token(officer.assert_status(200)).to_owned();
    settings(
        &t,
        &officer,
        json!({"require_sso": true, "sso_break_glass_user": bob_id}),
    )
    .await
    .assert_error(403, "permission_denied");

    // The owner names themself the break-glass admin: accepted, audited.
    settings(
        &t,
        &t.admin,
        json!({"require_sso": true, "sso_break_glass_user": owner}),
    )
    .await
    .assert_status(200);
    t.app
        .delete(
            &format!("/api/v1/orgs/{}/identity-providers/{}", t.org, t.provider),
            &t.admin,
        )
        .await
        .assert_error(409, "identity_provider_required");
    let changed = t.events("security.settings_changed").await;
    assert_eq!(
        changed[0]["after"]["settings"]["require_sso"],
        json!(true),
        "{changed:?}"
    );

    // bob's password: refused at sign-in, on the session he had, at refresh.
    password_login(&t, "bob@acme.example", Some(t.org))
        .await
        .assert_error(403, "sso_required");
    t.app
        .get(&format!("/api/v1/orgs/{}/members", t.org), token(&before))
        .await
        .assert_error(403, "sso_required");
    t.app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": before["refresh_token"]}),
        )
        .await
        .assert_error(403, "sso_required");
    // Audited on the organization's chain (the refresh's refusal repeats the
    // sign-in's and is folded into it), the open session's as a denial.
    let refused = t.events("auth.sso_required").await;
    assert!(!refused.is_empty());
    assert!(
        refused.iter().all(|e| e["actor"]["user_id"] == bob_id),
        "{refused:?}"
    );
    let denied = t.events("access.denied").await;
    assert!(
        denied
            .iter()
            .any(|e| e["metadata"]["reason"] == "sso_required" && e["actor"]["user_id"] == bob_id),
        "{denied:?}"
    );

    // Through the provider he is in, with the same rights as before.
    let sso = t.sign_in("bob@acme.example").await;
    t.app
        .get(&format!("/api/v1/orgs/{}/members", t.org), token(&sso))
        .await
        .assert_status(200);
    // The break-glass admin still signs in with a password.
    let owner_again = password_login(&t, "owner@acme.example", Some(t.org)).await;
    t.app
        .get(
            &format!("/api/v1/orgs/{}/members", t.org),
            token(owner_again.assert_status(200)),
        )
        .await
        .assert_status(200);
}

/// The organization whose provider vouched for a sign-in is the only one
/// that session reaches: a provider speaks for its own organization only.
async fn pinned_to_its_organization(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    // alice owns Beta and is a member of Acme too.
    let (beta, alice) = t.app.user_with_org("alice@acme.example", "Beta").await;
    t.app
        .join(
            t.org,
            &t.admin,
            json!({"email": "alice@acme.example", "role": "viewer"}),
        )
        .await;
    t.idp.account("alice@acme.example", true, &[]).await;
    let sso = t.sign_in("alice@acme.example").await;
    let me = t.me(token(&sso)).await;
    assert_eq!(me["org"], json!(t.org));
    // No switching into Beta, no reaching it.
    let r = t
        .app
        .post(
            "/api/v1/auth/switch-org",
            Some(token(&sso)),
            json!({"org": beta}),
        )
        .await;
    r.assert_error(403, "sso_session_pinned");
    t.app
        .get(&format!("/api/v1/orgs/{beta}/members"), token(&sso))
        .await
        .assert_error(403, "wrong_organization");
    // Nor the account-wide actions: its organizations and invitations,
    // MFA, its other sessions, a new organization.
    let me_sso = t.me(token(&sso)).await;
    assert_eq!(
        me_sso["organizations"].as_array().map(Vec::len),
        Some(1),
        "{me_sso}"
    );
    let orgs = t.app.get("/api/v1/orgs", token(&sso)).await;
    assert_eq!(
        orgs.assert_status(200)["organizations"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{:?}",
        orgs.body
    );
    for (get, path) in [
        (true, "/api/v1/invitations"),
        (false, "/api/v1/auth/mfa/enroll"),
        (true, "/api/v1/auth/sessions"),
        (false, "/api/v1/orgs"),
    ] {
        let r = if get {
            t.app.get(path, token(&sso)).await
        } else {
            t.app
                .post(path, Some(token(&sso)), json!({"name": "Elsewhere"}))
                .await
        };
        r.assert_error(403, "sso_session_pinned");
    }
    // Beta's own password session is unaffected.
    t.app
        .get(&format!("/api/v1/orgs/{beta}/members"), &alice)
        .await
        .assert_status(200);

    // A super admin signed in by an organization's provider is that
    // organization's member, not the operator.
    t.app.super_admin("root@acme.example").await;
    t.app
        .join(
            t.org,
            &t.admin,
            json!({"email": "root@acme.example", "role": "viewer"}),
        )
        .await;
    t.idp.account("root@acme.example", true, &[]).await;
    let root = t.sign_in("root@acme.example").await;
    t.app
        .get("/api/v1/system/audit/events", token(&root))
        .await
        .assert_error(403, "permission_denied");
    let root_pw = t.app.login("root@acme.example", None).await;
    t.app
        .get("/api/v1/system/audit/events", &root_pw)
        .await
        .assert_status(200);
}

/// Mallory runs her own organization and points its provider at accounts
/// that are not hers: nothing signs in, nothing is linked, nothing joins.
async fn no_takeover_through_another_provider(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "alice@acme.example", &["admin"])
        .await;
    t.idp.account("alice@acme.example", true, &[]).await;
    let (evil, mallory) = t.app.user_with_org("mallory@evil.example", "Evil").await;
    // Her provider claims acme.example and provisions just in time.
    let theirs = add_provider(
        &t.app,
        &t.idp,
        evil,
        &mallory,
        "Evil IdP",
        "acme.example",
        json!({"jit_provisioning": true, "default_role": "viewer"}),
    )
    .await;
    let a = t.attempt_at(evil, theirs, "alice@acme.example").await;
    assert_eq!(param(&a.back, "code"), None, "{}", a.back);
    assert_eq!(param(&a.back, "error").as_deref(), Some("access_denied"));
    // Refused on Evil's chain as not a member; alice did not join Evil.
    let failures = t
        .app
        .audit_events(evil, &mallory, "action=auth.sso_failed")
        .await;
    assert_eq!(
        failures[0]["metadata"]["reason"], "not_a_member",
        "{failures:?}"
    );
    let members = t
        .app
        .get(&format!("/api/v1/orgs/{evil}/members"), &mallory)
        .await;
    assert!(
        !members
            .assert_status(200)
            .to_string()
            .contains("alice@acme.example"),
        "{:?}",
        members.body
    );
    // And Acme's own provider still signs her in (nothing was linked).
    let ok = t.sign_in("alice@acme.example").await;
    assert_eq!(t.me(token(&ok)).await["org"], json!(t.org));
    assert!(t
        .app
        .audit_events(evil, &mallory, "action=sso.identity_linked")
        .await
        .is_empty());
}

/// An organization that requires MFA of its admins takes an SSO sign-in
/// as multi-factor only when the provider says so (`amr`).
async fn admin_mfa_through_the_provider(b: Backend) {
    let Some(t) = setup(b, json!({})).await else {
        return;
    };
    // The owner enables TOTP (required before requiring it of admins).
    let enroll = t
        .app
        .post("/api/v1/auth/mfa/enroll", Some(&t.admin), json!({}))
        .await;
    let secret = enroll.assert_status(200)["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let bytes = totp_rs::Secret::Encoded(secret).to_bytes().expect("base32");
    let totp =
        totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into());
    t.app
        .post(
            "/api/v1/auth/mfa/confirm",
            Some(&t.admin),
            json!({"code": totp.generate_current().expect("code")}),
        )
        .await
        .assert_status(200);
    settings(&t, &t.admin, json!({"require_mfa_for_admins": true}))
        .await
        .assert_status(200);
    t.app
        .join_new(t.org, &t.admin, "ada@acme.example", &["admin"])
        .await;
    // A password alone at the provider: refused for an admin.
    t.idp.account_with_amr("ada@acme.example", &["pwd"]).await;
    let a = t.attempt("ada@acme.example").await;
    let code = param(&a.back, "code").expect("the provider vouched");
    t.exchange(&code, &a.verifier)
        .await
        .assert_error(403, "mfa_enrollment_required");
    // Password and a one-time code at the provider: an admin session.
    t.idp
        .account_with_amr("ada@acme.example", &["pwd", "otp"])
        .await;
    let ok = t.sign_in("ada@acme.example").await;
    t.app
        .get(&format!("/api/v1/orgs/{}/members", t.org), token(&ok))
        .await
        .assert_status(200);
}

backend_tests!(
    require_sso,
    pinned_to_its_organization,
    no_takeover_through_another_provider,
    admin_mfa_through_the_provider
);
