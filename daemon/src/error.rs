//! One error type for the whole HTTP surface and its one JSON shape:
//! `{"error": {"code", "message", "request_id"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loki_shared::api::{ErrorBody, ErrorResponse};

use crate::context::current_request_id;
use crate::store::StoreError;

/// Everything a request can fail with. Each variant maps to one status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the body is not JSON, has the wrong shape, or a path/query value is malformed.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 422: well-formed input that fails validation; the message names the field.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// 401: no credentials, or credentials that are not valid.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 403: the caller lacks a permission; the body names it.
    #[error("missing permission `{permission}`")]
    PermissionDenied { permission: loki_shared::Permission },
    /// 415: the body's content type is not accepted here.
    #[error("{0}")]
    UnsupportedContentType(String),
    /// 402: the organization's tier does not allow this (upgrade the tier).
    #[error("{message}")]
    TierLimit { message: String },
    /// 404: no such resource (or not visible to the caller).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// 405: the route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: conflicts with existing state, e.g. a taken slug or email.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 408: the request (reading the body included) took too long.
    #[error("the request took longer than the server allows; send it faster or in smaller parts")]
    RequestTimeout,
    /// 413: the request body is larger than the configured limit.
    #[error("request body is larger than the server accepts")]
    PayloadTooLarge,
    /// 415: the body is not sent as `application/json`.
    #[error("expected a request body with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 429: too many attempts or requests; retry after the given seconds.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
        /// The rate-limit decision, sent as `RateLimit-*` headers.
        rate: Option<crate::security::rate_limit::Decision>,
    },
    /// 502: a service we depend on answered wrongly or not at all (an
    /// identity provider).
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// 503: a dependency (database, kv store) is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// 503: the database refuses work for now (busy, read-only, disk full).
    #[error("database: {0}")]
    StorageUnavailable(String),
    /// 500: a bug or an unexpected failure; details are logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The `error.code` this error answers with.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Self::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Self::PermissionDenied { .. } => (StatusCode::FORBIDDEN, "permission_denied"),
            Self::UnsupportedContentType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_content_type",
            ),
            Self::TierLimit { .. } => (StatusCode::PAYMENT_REQUIRED, "tier_limit_exceeded"),
            Self::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::TooManyRequests { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            Self::BadGateway { code, .. } => (StatusCode::BAD_GATEWAY, code),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::StorageUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { code, message } => AppError::Conflict { code, message },
            StoreError::NotFound(what) => AppError::NotFound { what },
            StoreError::LimitReached(message) => AppError::TierLimit { message },
            StoreError::Unavailable(e) => AppError::StorageUnavailable(e),
            StoreError::Other(e) => AppError::Internal(e),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            // (Retry-After is added below.)
            // Never show internals to the caller; the log has them.
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error".to_owned()
            }
            AppError::Unavailable(e) => {
                tracing::warn!(error = %e, "dependency unavailable");
                "a required service is unavailable; try again shortly".to_owned()
            }
            AppError::StorageUnavailable(e) => {
                tracing::warn!(error = %e, "storage unavailable");
                "the database cannot take this request now (busy, read-only or out of space); try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorResponse {
            error: ErrorBody {
                code: code.to_owned(),
                message,
                request_id: current_request_id(),
                permission: match &self {
                    AppError::PermissionDenied { permission } => Some(permission.name().to_owned()),
                    _ => None,
                },
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let AppError::TooManyRequests {
            retry_after_secs,
            rate,
            ..
        } = self
        {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs.max(1)),
            );
            if let Some(d) = rate {
                crate::security::limits::set_headers(response.headers_mut(), &d);
            }
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
