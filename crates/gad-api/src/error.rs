//! One error type for the HTTP layer, turned into the contract's body (§2) in one place.
//! Database and unexpected errors are logged with the request id by the gateway middleware and
//! never shown to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gad_service::ServiceError;
use serde_json::{Value, json};

pub use gad_core::field_error::{ECHO_LIMIT, FieldError, echo};

/// Marker left in the response extensions of a 500 so the gateway can log the cause with the
/// request id and write the contract's body.
#[derive(Clone, Debug)]
pub struct InternalErrorCause(pub String);

/// What an HTTP request can come to besides success: a use case's (or an extractor's) failure in
/// the service's terms, or one of the two answers only HTTP has.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("Request body too large")]
    PayloadTooLarge,
    /// Any other status with an exact body (e.g. 503 readiness objects).
    #[error("{0}")]
    Custom(StatusCode, Value),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn validation(e: FieldError) -> ApiError {
        ServiceError::validation(e).into()
    }
    pub fn internal(msg: impl std::fmt::Display) -> ApiError {
        ServiceError::internal(msg).into()
    }
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Service(e) => {
                StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Custom(s, _) => *s,
        }
    }
}

/// A database failure reaches HTTP only as what it means to the client (`ServiceError::from`).
impl From<gad_service::DbError> for ApiError {
    fn from(e: gad_service::DbError) -> ApiError {
        ServiceError::from(e).into()
    }
}

impl From<gad_service::ingest::IngestError> for ApiError {
    fn from(e: gad_service::ingest::IngestError) -> ApiError {
        ServiceError::from(e).into()
    }
}

/// The contract's body of a use case's failure (§2).
fn service_body(e: &ServiceError) -> Value {
    match e {
        ServiceError::Conflict { field } => json!({"detail": e.to_string(), "field": field}),
        ServiceError::InvalidTransition { allowed, .. } => {
            json!({"detail": e.to_string(), "allowed": allowed})
        }
        ServiceError::Locked { until } => json!({
            "detail": e.to_string(),
            "locked_until": gad_core::time::rfc3339(*until),
        }),
        ServiceError::Validation(errors) => json!({"detail": "Validation Error", "errors": errors}),
        ServiceError::ConflictBody(body) => body.clone(),
        ServiceError::Internal(_) => json!({"detail": "Internal Server Error"}),
        _ => json!({"detail": e.to_string()}),
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let e = match self {
            ApiError::Service(e) => e,
            ApiError::Custom(_, v) => return json_response(status, &v),
            ApiError::PayloadTooLarge => {
                return json_response(status, &json!({"detail": self.to_string()}));
            }
        };
        if let ServiceError::RateLimited {
            limit,
            window_seconds,
            retry_after_seconds,
        } = e
        {
            let positive = |n: i64| u64::try_from(n).unwrap_or(0).max(1);
            return crate::ratelimit::rejected_response_in(
                positive(limit),
                positive(window_seconds),
                positive(retry_after_seconds),
            );
        }
        let mut resp = json_response(status, &service_body(&e));
        match &e {
            ServiceError::NotAuthenticated
            | ServiceError::InvalidCredentials
            | ServiceError::IncorrectLogin => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ServiceError::Locked { until } => {
                let secs = (*until - Utc::now()).num_seconds().max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ServiceError::Internal(cause) => {
                resp.extensions_mut()
                    .insert(InternalErrorCause(format!("{cause:#}")));
            }
            _ => {}
        }
        resp
    }
}
