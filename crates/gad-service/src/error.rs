//! One error type for the use cases: what went wrong in the client's terms, with no HTTP in it.
//! The HTTP adapter turns it into the contract's body (status, `detail`, `field`, `errors`) in
//! one place; the bot turns it into Spanish.

use chrono::{DateTime, Utc};
use gad_core::{EstadoTarea, FieldError};
use gad_store::{DbError, DbFailure};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
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
    /// 409 with only a `detail` (the request is well formed but the state refuses it).
    #[error("{0}")]
    Refused(String),
    /// 409 with this exact body (e.g. the allowed values of a refused transition).
    #[error("conflict")]
    ConflictBody(serde_json::Value),
    /// 429 with only a `detail` (a bounded resource is busy; the same request may succeed later).
    #[error("{0}")]
    TooManyRequests(String),
    /// 429 with the contract's rate-limit body (§10): a per-user or per-task bound of dispatch
    /// (emergencies per rolling hour, backup requests) was reached.
    #[error("Ha excedido el límite de solicitudes para servicios gubernamentales.")]
    RateLimited {
        /// The bound that was reached.
        limit: i64,
        /// The window it is counted in.
        window_seconds: i64,
        /// When the same request may succeed again (at least 1).
        retry_after_seconds: i64,
    },
    /// 413 with only a `detail` (an uploaded file over its bound).
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("Service temporarily unavailable")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn validation(e: FieldError) -> ServiceError {
        ServiceError::Validation(vec![e])
    }
    pub fn internal(msg: impl std::fmt::Display) -> ServiceError {
        ServiceError::Internal(anyhow::anyhow!("{msg}"))
    }
    /// True for a failure of ours (a client cannot fix it by changing the request).
    pub fn is_server_error(&self) -> bool {
        matches!(self, ServiceError::Unavailable | ServiceError::Internal(_))
    }
}

impl ServiceError {
    /// The contract's status for this failure (what an adapter that is not HTTP reports in its
    /// metrics and maps to its own words).
    pub fn code(&self) -> u16 {
        match self {
            ServiceError::NotAuthenticated
            | ServiceError::InvalidCredentials
            | ServiceError::IncorrectLogin => 401,
            ServiceError::InactiveUser
            | ServiceError::InsufficientLevel
            | ServiceError::Forbidden(_) => 403,
            ServiceError::BadRequest(_) => 400,
            ServiceError::NotFound(_) => 404,
            ServiceError::Conflict { .. }
            | ServiceError::InvalidTransition { .. }
            | ServiceError::Refused(_)
            | ServiceError::ConflictBody(_) => 409,
            ServiceError::Locked { .. } => 423,
            ServiceError::PayloadTooLarge(_) => 413,
            ServiceError::Validation(_) => 422,
            ServiceError::TooManyRequests(_) | ServiceError::RateLimited { .. } => 429,
            ServiceError::Unavailable => 503,
            ServiceError::Internal(_) => 500,
        }
    }
}

/// An input built by an adapter itself (not parsed by the HTTP extractors) passes the same field
/// rules before it reaches a use case.
pub fn validated<T: gad_core::validate::Validate>(t: T) -> ServiceResult<T> {
    gad_core::validate::check(&t).map_err(ServiceError::Validation)?;
    Ok(t)
}

/// A bounded value (`Lat`, `Lng`, `RadiusM`) from a number an adapter read itself rather than
/// through serde: out of range is the 422 entry a JSON body would get, at `["body", field]`.
pub fn bounded<T>(
    field: &str,
    v: f64,
    new: impl FnOnce(f64) -> Result<T, gad_core::geo::RangeError>,
) -> ServiceResult<T> {
    new(v).map_err(|e| ServiceError::validation(e.at_body(field, v)))
}

impl From<DbError> for ServiceError {
    fn from(e: DbError) -> ServiceError {
        match gad_store::classify(&e) {
            DbFailure::Conflict { field } => ServiceError::Conflict {
                field: field.to_string(),
            },
            DbFailure::Unavailable => {
                tracing::error!(error = %e, "database unavailable");
                ServiceError::Unavailable
            }
            DbFailure::Other => ServiceError::Internal(e.into()),
        }
    }
}
