//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use loki_shared::api::HealthResponse;

use crate::app::AppState;

/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "health", summary = "Liveness: the process is up", responses((status = 200, description = "OK", body = HealthResponse)))]
pub async fn healthz() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        database: None,
        kv: None,
    })
}

/// The database takes a write and the kv store answers.
#[utoipa::path(get, path = "/readyz", tag = "health", summary = "Readiness: the database takes writes and the kv store answers", responses((status = 200, description = "OK", body = HealthResponse)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let (db, kv) = tokio::join!(state.store.ping_write(), state.kv.ping());
    let word = |ok: bool| if ok { "ok" } else { "unavailable" }.to_owned();
    let ready = db.is_ok() && kv.is_ok();
    if let Err(e) = &db {
        tracing::warn!(error = %e, "readiness: database unavailable");
    }
    if let Err(e) = &kv {
        tracing::warn!(error = %e, "readiness: kv unavailable");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(HealthResponse {
            status: if ready { "ready" } else { "not_ready" }.into(),
            database: Some(word(db.is_ok())),
            kv: Some(word(kv.is_ok())),
        }),
    )
}
