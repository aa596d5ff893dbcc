//! One error type for the HTTP layer, turned into the contract's body (§2) in one place.
//! Database and unexpected errors are logged with the request id by the gateway middleware and
//! never shown to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gad_core::EstadoTarea;
use serde::Serialize;
use serde_json::{Value, json};

/// One entry of a 422 body. What it echoes of the input is capped (`ECHO_LIMIT`) and a
/// password field is never echoed (see `echo`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// Machine-readable kind (`missing`, `enum`, `string_too_short`, `string_nul`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body"|"query"|"path"|"header", name, …]`.
    pub loc: Vec<Value>,
    pub msg: String,
    /// The offending input, capped (never a password).
    #[serde(serialize_with = "serialize_echo")]
    pub input: Value,
}

/// Most bytes of a client's input a validation error repeats back.
pub const ECHO_LIMIT: usize = 200;

/// What a 422 may repeat of `input`: the value itself when its JSON is at most `ECHO_LIMIT`
/// bytes, else the first bytes of that JSON as a string ending in "…" (≤ `ECHO_LIMIT` bytes).
pub fn echo(input: &Value) -> Value {
    let text = match input {
        Value::String(s) if s.len() <= ECHO_LIMIT => return input.clone(),
        Value::String(s) => s.clone(),
        Value::Null | Value::Bool(_) | Value::Number(_) => return input.clone(),
        other => {
            let t = other.to_string();
            if t.len() <= ECHO_LIMIT {
                return input.clone();
            }
            t
        }
    };
    let ellipsis = "…";
    let mut cut = ECHO_LIMIT - ellipsis.len();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Value::String(format!("{}{ellipsis}", &text[..cut]))
}

fn serialize_echo<S: serde::Serializer>(input: &Value, s: S) -> Result<S::Ok, S::Error> {
    echo(input).serialize(s)
}

/// True for a `loc` that names a password field: its input is never echoed.
fn is_secret_loc(loc: &[Value]) -> bool {
    loc.iter()
        .filter_map(Value::as_str)
        .any(|k| k.to_ascii_lowercase().contains("password"))
}

impl FieldError {
    pub fn new(kind: &str, loc: &[&str], msg: impl Into<String>, input: Value) -> FieldError {
        FieldError::at(
            kind,
            loc.iter()
                .map(|s| Value::String((*s).to_string()))
                .collect(),
            msg,
            input,
        )
    }
    /// The one constructor: a password field's input is dropped here, so no path can echo it.
    pub fn at(kind: &str, loc: Vec<Value>, msg: impl Into<String>, input: Value) -> FieldError {
        let input = if is_secret_loc(&loc) {
            Value::Null
        } else {
            input
        };
        FieldError {
            kind: kind.to_string(),
            loc,
            msg: msg.into(),
            input,
        }
    }
    /// A body field error: `loc` = ["body", field].
    pub fn body(field: &str, kind: &str, msg: impl Into<String>, input: Value) -> FieldError {
        FieldError::new(kind, &["body", field], msg, input)
    }
    pub fn query(field: &str, kind: &str, msg: impl Into<String>, input: Value) -> FieldError {
        FieldError::new(kind, &["query", field], msg, input)
    }
}

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

/// Maps a named constraint to the wire field a 409 names.
fn constraint_field(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "usuarios_email_key" => "email",
        "usuarios_dni_key" => "dni",
        "usuarios_telegram_id_key" => "telegram_id",
        "tareas_codigo_key" => "codigo",
        "efectivos_codigo_interno_key" => "codigo_interno",
        "efectivos_usuario_id_key" => "usuario_id",
        _ => return None,
    })
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        match &e {
            sqlx::Error::Database(db) => {
                if let Some(field) = db.constraint().and_then(constraint_field)
                    && db.is_unique_violation()
                {
                    return ApiError::Conflict {
                        field: field.to_string(),
                    };
                }
                ApiError::Internal(e.into())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::Unavailable
            }
            _ => ApiError::Internal(e.into()),
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
                "locked_until": crate::time::rfc3339(*until),
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
