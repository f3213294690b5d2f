//! Tauri commands, one module per domain. Each is a thin call into `ops`.

pub mod audit;
pub mod auth;
pub mod offline;
pub mod reports;
