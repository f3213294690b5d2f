//! `loki-shared`: the LOKI API types and the offline tooling that the daemon
//! and the desktop app both use. No async runtime, web framework or database
//! here, so the desktop (and offline tools) can depend on it cheaply.

pub mod api;
pub mod audit;
pub mod controls;
pub mod permissions;
pub mod report;
pub mod tier;

pub use controls::Framework;
pub use permissions::{PermSet, Permission};
pub use tier::{Tier, TierLimits};
