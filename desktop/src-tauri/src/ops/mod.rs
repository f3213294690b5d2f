//! What the commands do, without Tauri: each function takes the app state,
//! so the Rust tests call them directly against a real lokid.

pub mod audit;
pub mod auth;
pub mod diff;
pub mod offline;
pub mod reports;
pub mod sso;

/// A path the user chose to save to: anywhere but the app's own folder
/// (its pins and witnesses are not for overwriting from the window).
pub(crate) fn save_target(
    state: &crate::state::AppState,
    path: &str,
    what: &str,
) -> crate::error::AppResult<std::path::PathBuf> {
    use crate::error::AppError;
    let path = std::path::PathBuf::from(path.trim());
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(AppError::input(format!("Choose where to save {what}.")));
    }
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let parent = parent
        .canonicalize()
        .map_err(|e| AppError::io("use the folder", &parent, e))?;
    let data = state
        .data_dir
        .canonicalize()
        .unwrap_or_else(|_| state.data_dir.clone());
    if parent.starts_with(&data) {
        return Err(AppError::input(format!(
            "Save {what} somewhere else: {} holds LOKI Desktop's pinned keys and witnesses.",
            data.display()
        )));
    }
    Ok(parent.join(path.file_name().unwrap_or_default()))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
