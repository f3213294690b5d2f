//! Who is on the other end of the connection: IP and user agent, as the
//! domain's [`ClientInfo`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::error::AppError;

pub use crate::context::ClientInfo;

const UA_MAX: usize = 256;

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        // Resolved once by the security gate (trusted proxies applied).
        if let Some(c) = parts.extensions.get::<ClientInfo>() {
            return Ok(c.clone());
        }
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().filter(|c| !c.is_control()).take(UA_MAX).collect());
        Ok(Self { ip, user_agent })
    }
}
