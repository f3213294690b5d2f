//! `loki-daemon`: the library behind `lokid`.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod context;
pub mod documents;
#[cfg(test)]
mod domain_tests;
pub mod error;
pub mod http;
pub mod kv;
pub mod offline;
pub mod rbac;
pub mod security;
pub mod sso;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod validate;

pub use app::Application;
pub use config::Config;
pub use state::AppState;
