//! The OS keyring, for real: a Secret Service (gnome-keyring) when one runs
//! (tools/test starts one), SKIPPED otherwise.

use loki_desktop::error::ErrorKind;
use loki_desktop::vault::{account, KeyringVault, StoredTokens, Vault};

fn tokens(n: u8) -> StoredTokens {
    StoredTokens {
        access_token: format!("access-{n}"),
        refresh_token: format!("refresh-{n}"),
        session_id: "0190aaaa-0000-7000-8000-000000000000".into(),
    }
}

#[test]
fn tokens_round_trip_through_the_secret_service() {
    let vault = KeyringVault;
    let acct = account(
        "http://127.0.0.1:1",
        &format!("keyring-test-{}@example.com", std::process::id()),
    );
    match vault.put(&acct, &tokens(1)) {
        Err(e) if e.kind == ErrorKind::KeyringUnavailable => {
            loki_tests::skipped("no Secret Service in this session: the real-keyring round trip did not run (tools/test runs it under gnome-keyring)");
            return;
        }
        other => other.expect("put"),
    }
    assert_eq!(vault.get(&acct).expect("get"), Some(tokens(1)));
    vault.put(&acct, &tokens(2)).expect("replace");
    assert_eq!(vault.get(&acct).expect("get"), Some(tokens(2)));
    // Per server and user: another server is another entry.
    let other = account("http://127.0.0.1:2", "keyring-test@example.com");
    assert_eq!(vault.get(&other).expect("get"), None);
    vault.delete(&acct).expect("delete");
    assert_eq!(vault.get(&acct).expect("get"), None);
    vault.delete(&acct).expect("deleting twice is fine");
}
