//! Extractors whose rejections use the shared error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// `axum::Json` with rejections mapped to [`AppError`].
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| body_rejection(e.status(), e.body_text()))?;
        // Control characters are refused before the body means anything,
        // naming where they are.
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if let Some(at) = crate::validate::control_in_json(&value) {
                return Err(AppError::validation(
                    at,
                    "must not contain NUL or other control characters",
                ));
            }
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json` or `application/…+json`, as `axum::Json` requires.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(e) => AppError::bad_request(
            "malformed_json",
            format!("request body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            let code = if text.contains("unknown field") {
                "unknown_field"
            } else {
                "invalid_body"
            };
            AppError::bad_request(code, text)
        }
        JsonRejection::BytesRejection(e) => body_rejection(e.status(), e.body_text()),
        other => body_rejection(other.status(), other.body_text()),
    }
}

/// Body-reading failures: the only one a client causes on purpose is size.
fn body_rejection(status: StatusCode, text: String) -> AppError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::bad_request("unreadable_body", text)
    }
}

/// `axum::extract::Path` with rejections mapped to [`AppError`].
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(raw) = axum::extract::RawPathParams::from_request_parts(parts, state).await {
            for (name, value) in &raw {
                if crate::validate::has_control(value) {
                    return Err(AppError::validation(
                        name,
                        "must not contain NUL or other control characters",
                    ));
                }
                // Sign-in takes a slug; paths take the id. Say so.
                if name == "org_id" && uuid::Uuid::parse_str(value).is_err() {
                    return Err(AppError::bad_request(
                        "invalid_path_parameter",
                        format!(
                            "org_id: `{value}` is not an organization id; paths take the id (a UUID), not the slug (GET /api/v1/orgs lists your organizations with their ids)"
                        ),
                    ));
                }
            }
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(AppError::bad_request(
                "invalid_path_parameter",
                format!("invalid path parameter: {}", e.body_text()),
            )),
            Err(e) => Err(AppError::Internal(anyhow::anyhow!(
                "path extraction failed: {}",
                e.body_text()
            ))),
        }
    }
}

/// `axum::extract::Query` with rejections mapped to [`AppError`].
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            for (name, value) in form_urlencoded::parse(query.as_bytes()) {
                if crate::validate::has_control(&name) || crate::validate::has_control(&value) {
                    let shown: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
                    return Err(AppError::validation(
                        shown,
                        "must not contain NUL or other control characters",
                    ));
                }
            }
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(AppError::bad_request("invalid_query", e.body_text()))
            }
            Err(e) => Err(AppError::bad_request("invalid_query", e.body_text())),
        }
    }
}

/// The raw request body, with rejections mapped to [`AppError`].
pub struct RawBody(pub axum::body::Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| body_rejection(e.status(), e.body_text()))
    }
}
