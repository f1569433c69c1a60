//! The one table from engine errors to HTTP statuses. Client mistakes are 4xx with a
//! JSON body `{"error", "detail"}` naming the field; server faults are logged in full
//! and answered with a generic message that leaks no internals.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::bodies::ErrorBody;
use crate::error::Error;

pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// Status and stable machine-readable code of each error kind.
pub fn status_of(error: &Error) -> (StatusCode, &'static str) {
    match error {
        Error::InvalidInput { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
        Error::Rejected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        Error::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
        Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Error::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
        Error::TimedOut(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::IdempotencyKeyReused { .. } => (StatusCode::CONFLICT, "idempotency_key_reused"),
        Error::KbInvalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "kb_invalid"),
        Error::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        Error::Config(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        Error::Embedding(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Error::Index { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Error::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Error::StorageUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
        Error::Storage { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// The body of every error answer; `field` names what the client got wrong, when one thing is.
pub fn error_body(code: &str, detail: impl Into<String>, field: Option<&str>) -> ErrorBody {
    ErrorBody {
        error: code.to_string(),
        detail: detail.into(),
        field: field.map(str::to_string),
        errors: None,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = status_of(&self.0);
        let body = match &self.0 {
            Error::InvalidInput { field, message } | Error::Rejected { field, message } => {
                error_body(code, format!("{field}: {message}"), Some(field))
            }
            Error::IdempotencyKeyReused { .. } => {
                error_body(code, self.0.to_string(), Some("Idempotency-Key"))
            }
            Error::KbInvalid(errors) => {
                let mut body = error_body(code, self.0.to_string(), None);
                body.errors = Some(errors.clone());
                body
            }
            // Says what to do, and holds nothing internal.
            Error::Overloaded(_) | Error::TimedOut(_) => error_body(code, self.0.to_string(), None),
            e if status.is_server_error() => {
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    tracing::warn!(error = %e.chain(), "service unavailable");
                    error_body(code, "the service is not ready; retry shortly", None)
                } else {
                    tracing::error!(error = %e.chain(), "request failed");
                    error_body(code, "internal error; see the server log", None)
                }
            }
            e => error_body(code, e.to_string(), None),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self.0 {
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                headers.insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(*retry_after_secs),
                );
            }
            Error::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"devicekb\""),
                );
            }
            Error::Overloaded(_) => {
                headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}
