//! Single sign-on: an organization's identity providers (`providers`), the
//! OpenID Connect relying party (`oidc`), and the sign-in that ties them to
//! LOKI's accounts and sessions (`signon`).

pub mod oidc;
mod providers;
pub mod signon;

pub use providers::*;
