//! What the domain knows about the request it serves: who is on the other
//! end (address, user agent) and the request's id. Plain data, filled in by
//! the HTTP layer (`http/client.rs`, `http/request_id.rs`).

use std::future::Future;
use std::net::IpAddr;

/// The client of the request being served.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, or `"-"` outside of one. Held per
/// task so that errors and audit events carry it without every call
/// passing it along.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| "-".to_owned())
}

/// Runs `fut` as the request `id`.
pub async fn with_request_id<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}
