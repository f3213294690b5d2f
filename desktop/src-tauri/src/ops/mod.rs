//! What the commands do, without Tauri: each function takes the app state,
//! so the Rust tests call them directly against a real lokid.

pub mod audit;
pub mod auth;
pub mod diff;
pub mod offline;
pub mod reports;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
