//! "Sign in with SSO" through the desktop's own path against a real lokid
//! and a real OpenID provider: the browser comes back to the app's loopback
//! listener (RFC 8252), the tokens land in the vault, and a browser that
//! comes back with someone else's state, or an error, signs nobody in.

use std::sync::Arc;

use loki_desktop::error::ErrorKind;
use loki_desktop::ops::sso::sign_in_sso;
use loki_desktop::state::AppState;
use loki_desktop::vault::{MemoryVault, Vault};
use loki_tests::oidc::{browse, setup};
use loki_tests::{json, Backend};

/// A browser that walks from the provider to the first page that is
/// neither the provider's nor the daemon's (the app's listener), and loads
/// it — with `rewrite` applied to that last URL first.
fn browser(
    issuer: String,
    daemon: String,
    email: &'static str,
    rewrite: fn(url::Url) -> url::Url,
) -> impl FnOnce(&str) -> loki_desktop::error::AppResult<()> {
    move |url: &str| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let back = browse(&url, email, |u| {
                !u.as_str().starts_with(&issuer) && !u.as_str().starts_with(&daemon)
            })
            .await;
            let _ = loki_tests::reqwest::get(rewrite(back)).await;
        });
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_through_the_identity_provider() {
    let Some(t) = setup(Backend::Sqlite, json!({})).await else {
        return;
    };
    t.app
        .join_new(t.org, &t.admin, "bob@acme.example", &["compliance_officer"])
        .await;
    t.idp.account("bob@acme.example", true, &[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Arc::new(MemoryVault::default());
    let state = AppState::new(vault.clone(), dir.path().to_path_buf());
    let daemon = format!("http://{}", t.app.addr);

    let view = sign_in_sso(
        &state,
        &daemon,
        "acme",
        browser(
            t.idp.issuer.clone(),
            daemon.clone(),
            "bob@acme.example",
            |u| u,
        ),
    )
    .await
    .expect("signed in through SSO");
    assert_eq!(view.user.email, "bob@acme.example");
    assert_eq!(view.org, Some(t.org));
    let stored = state
        .session
        .lock()
        .await
        .as_ref()
        .map(|s| s.account.clone())
        .expect("session");
    assert!(
        vault.get(&stored).expect("vault").is_some(),
        "the tokens are in the vault"
    );

    // A browser coming back with another state is turned away (400) and the
    // app keeps waiting for its own; cancelled then, nothing is signed in.
    let state2 = AppState::new(Arc::new(MemoryVault::default()), dir.path().join("b"));
    let cancel = state2.cancel.clone();
    let (issuer, d2) = (t.idp.issuer.clone(), daemon.clone());
    let forged = sign_in_sso(&state2, &daemon, "acme", move |url: &str| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let mut back = browse(&url, "bob@acme.example", |u| {
                !u.as_str().starts_with(&issuer) && !u.as_str().starts_with(&d2)
            })
            .await;
            let code = back
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            back.query_pairs_mut()
                .clear()
                .append_pair("code", &code)
                .append_pair("state", "not-ours");
            let r = loki_tests::reqwest::get(back).await.expect("listener");
            assert_eq!(r.status(), 400, "a foreign state is turned away");
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Ok(())
    })
    .await
    .expect_err("never signed in");
    assert_eq!(forged.kind, ErrorKind::Cancelled);
    assert!(state2.session.lock().await.is_none());

    // The provider refusing (no account): the app says why.
    t.idp.account("nobody@acme.example", true, &[]).await;
    let refused = sign_in_sso(
        &state2,
        &daemon,
        "acme",
        browser(
            t.idp.issuer.clone(),
            daemon.clone(),
            "nobody@acme.example",
            |u| u,
        ),
    )
    .await
    .expect_err("no account");
    assert_eq!(refused.kind, ErrorKind::Forbidden);
    assert!(refused.message.contains("invite"), "{}", refused.message);

    // An organization without single sign-on.
    let none = sign_in_sso(&state2, &daemon, "no-such-org", |_| Ok(()))
        .await
        .expect_err("no sso");
    assert_ne!(none.kind, ErrorKind::TrustAlarm);
}
