//! One error type for the HTTP layer, turned into the contract's body (§2) in one place.
//! Database and unexpected errors are logged with the request id by the gateway middleware and
//! never shown to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gad_core::EstadoTarea;
use gad_service::ServiceError;
use serde_json::{Value, json};

pub use gad_core::field_error::{ECHO_LIMIT, FieldError, echo};

/// Marker left in the response extensions of a 500 so the gateway can log the cause with the
/// request id and write the contract's body.
#[derive(Clone, Debug)]
pub struct InternalErrorCause(pub String);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Not authenticated")]
    NotAuthenticated,
    #[error("Could not validate credentials")]
    InvalidCredentials,
    #[error("Incorrect email or password")]
    IncorrectLogin,
    #[error("Inactive user")]
    InactiveUser,
    #[error("The user doesn't have enough privileges")]
    InsufficientLevel,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{field} already exists")]
    Conflict { field: String },
    #[error("Invalid transition from {from} to {to}")]
    InvalidTransition {
        from: EstadoTarea,
        to: EstadoTarea,
        allowed: Vec<EstadoTarea>,
    },
    #[error("Cuenta bloqueada temporalmente por intentos fallidos")]
    Locked { until: DateTime<Utc> },
    #[error("Validation Error")]
    Validation(Vec<FieldError>),
    #[error("Request body too large")]
    PayloadTooLarge,
    #[error("Service temporarily unavailable")]
    Unavailable,
    /// Any other status with an exact body (e.g. 503 readiness objects).
    #[error("{0}")]
    Custom(StatusCode, Value),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn validation(e: FieldError) -> ApiError {
        ApiError::Validation(vec![e])
    }
    pub fn internal(msg: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(anyhow::anyhow!("{msg}"))
    }
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotAuthenticated
            | ApiError::InvalidCredentials
            | ApiError::IncorrectLogin => StatusCode::UNAUTHORIZED,
            ApiError::InactiveUser | ApiError::InsufficientLevel | ApiError::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::InvalidTransition { .. } => StatusCode::CONFLICT,
            ApiError::Locked { .. } => StatusCode::LOCKED,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Custom(s, _) => *s,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<gad_store::DbError> for ApiError {
    fn from(e: gad_store::DbError) -> ApiError {
        ServiceError::from(e).into()
    }
}

impl From<gad_service::ingest::IngestError> for ApiError {
    fn from(e: gad_service::ingest::IngestError) -> ApiError {
        ServiceError::from(e).into()
    }
}

/// The use cases' error in the contract's terms: the same variants, one to one.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::NotAuthenticated => ApiError::NotAuthenticated,
            ServiceError::InvalidCredentials => ApiError::InvalidCredentials,
            ServiceError::IncorrectLogin => ApiError::IncorrectLogin,
            ServiceError::InactiveUser => ApiError::InactiveUser,
            ServiceError::InsufficientLevel => ApiError::InsufficientLevel,
            ServiceError::Forbidden(m) => ApiError::Forbidden(m),
            ServiceError::BadRequest(m) => ApiError::BadRequest(m),
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::Conflict { field } => ApiError::Conflict { field },
            ServiceError::InvalidTransition { from, to, allowed } => {
                ApiError::InvalidTransition { from, to, allowed }
            }
            ServiceError::Locked { until } => ApiError::Locked { until },
            ServiceError::Validation(errors) => ApiError::Validation(errors),
            ServiceError::Refused(detail) => {
                ApiError::Custom(StatusCode::CONFLICT, json!({ "detail": detail }))
            }
            ServiceError::ConflictBody(body) => ApiError::Custom(StatusCode::CONFLICT, body),
            ServiceError::TooManyRequests(detail) => {
                ApiError::Custom(StatusCode::TOO_MANY_REQUESTS, json!({ "detail": detail }))
            }
            ServiceError::Unavailable => ApiError::Unavailable,
            ServiceError::Internal(cause) => ApiError::Internal(cause),
        }
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
        let body = match &self {
            ApiError::Conflict { field } => json!({"detail": self.to_string(), "field": field}),
            ApiError::InvalidTransition { allowed, .. } => {
                json!({"detail": self.to_string(), "allowed": allowed})
            }
            ApiError::Locked { until } => json!({
                "detail": self.to_string(),
                "locked_until": gad_core::time::rfc3339(*until),
            }),
            ApiError::Validation(errors) => json!({"detail": "Validation Error", "errors": errors}),
            ApiError::Custom(_, v) => v.clone(),
            ApiError::Internal(_) => json!({"detail": "Internal Server Error"}),
            _ => json!({"detail": self.to_string()}),
        };
        let mut resp = json_response(status, &body);
        match &self {
            ApiError::NotAuthenticated
            | ApiError::InvalidCredentials
            | ApiError::IncorrectLogin => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Locked { until } => {
                let secs = (*until - Utc::now()).num_seconds().max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::Internal(cause) => {
                resp.extensions_mut()
                    .insert(InternalErrorCause(format!("{cause:#}")));
            }
            _ => {}
        }
        resp
    }
}
