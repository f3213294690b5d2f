//! Request ids and the per-request tracing span.
//!
//! Every request gets an id (a sane incoming `x-request-id` is kept so a
//! caller can correlate; anything else is replaced). The id is held in a
//! task-local (`context`) so that `AppError` can put it into error bodies
//! without every handler passing it around.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

pub const HEADER: &str = "x-request-id";

pub use crate::context::current_request_id;

fn acceptable(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn middleware(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
        org_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let mut response = crate::context::with_request_id(id.clone(), next.run(req))
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    // Refusals and faults are logged at info and above; every request only
    // at debug (a line per request would cost more than serving most of them).
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match status {
        500.. => tracing::error!(status, elapsed_ms, "request failed"),
        400.. => tracing::info!(status, elapsed_ms, "request refused"),
        _ => tracing::debug!(status, elapsed_ms, "request finished"),
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    response
}
