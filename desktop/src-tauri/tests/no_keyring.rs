//! Without a Secret Service the app refuses to keep tokens and says how to
//! start one; it never falls back to a plain file.

use loki_desktop::error::ErrorKind;
use loki_desktop::vault::{KeyringVault, StoredTokens, Vault};

#[test]
fn without_a_secret_service_the_error_says_how_to_fix_it() {
    // A bus address where nothing listens: what a session without a keyring
    // looks like to the app. Never a silent fallback to a file.
    // (Its own test binary: the variable is process-wide.)
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/loki-test-bus",
    );
    let tokens = StoredTokens {
        access_token: "a".into(),
        refresh_token: "r".into(),
        session_id: "s".into(),
    };
    let e = KeyringVault
        .put("http://x|nobody@example.com", &tokens)
        .expect_err("no keyring");
    assert_eq!(e.kind, ErrorKind::KeyringUnavailable);
    assert!(
        e.message.contains("gnome-keyring") && e.message.contains("plain file"),
        "{}",
        e.message
    );
}
