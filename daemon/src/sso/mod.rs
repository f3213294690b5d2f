//! Single sign-on: an organization's identity providers (`providers`), the
//! OpenID Connect relying party (`oidc`), the SAML service provider
//! (`saml`), and the sign-in that ties them to LOKI's accounts and sessions
//! (`signon`, `linking`).

mod answers;
pub mod github;
mod linking;
pub mod oidc;
mod providers;
pub mod saml;
pub mod signon;

pub use providers::*;
