//! Emergency dispatch (contract §8): the HTTP face of `gad_service::emergency` — the
//! Idempotency-Key header, the 201 with `Location`, a replay's `idempotent-replayed` header.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{AuthUser, Supervisor};
use crate::error::{ApiError, ApiResult, FieldError, json_response};
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;
use gad_service::emergency::{
    self, EmergencyBody, IDEMPOTENCY_HEADER, Raised, Suggestion, SuggestionsQuery,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(emergency))
        .routes(routes!(suggestions))
}

/// `Idempotency-Key`: absent, or 1–64 visible ASCII characters (else 422 at ["header", …]).
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let bad = |input: Value| {
        ApiError::validation(FieldError::new(
            "value_error",
            &["header", IDEMPOTENCY_HEADER],
            "Idempotency-Key must be 1 to 64 visible ASCII characters",
            input,
        ))
    };
    let s = v.to_str().map_err(|_| bad(Value::Null))?;
    if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(Value::String(s.to_string())));
    }
    Ok(Some(s.to_string()))
}

fn with_location(mut resp: Response, task_id: Option<i64>) -> Response {
    if let Some(id) = task_id
        && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/tasks/{id}"))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

#[utoipa::path(post, path = "/api/v1/tasks/emergency", tag = "emergency", request_body = EmergencyBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–64 visible ASCII characters; a retry with the same key within 24 h returns the first response", pattern = r"^[\x21-\x7e]{1,64}$")),
    description = "Level: 1. Assigns the nearest available efectivo within radius_m (never two emergencies to one efectivo) and creates the emergency task. A level-1 caller raises at most EMERGENCY_MAX_PER_HOUR emergencies in any rolling hour: beyond, 429 (contract §10 body, window_seconds 3600, Retry-After) and an `alert` to supervisors; level 2+ is not bounded.",
    responses((status = 201, description = "assigned", body = gad_service::wire::EmergencyAssigned),
              (status = 429, description = "hourly bound of the caller reached (supervisors alerted)", body = crate::openapi::RateLimitBody),
              (status = 404, description = "no efectivo available", body = Value),
              (status = 422, description = "validation error", body = Value)))]
pub async fn emergency(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    headers: HeaderMap,
    ValidJson(b): ValidJson<EmergencyBody>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    match emergency::raise(&state.ctx, &me, &origin, &b, key.as_deref()).await? {
        Raised::Assigned(d) => Ok(with_location(
            json_response(StatusCode::CREATED, &d.body),
            Some(d.task_id),
        )),
        Raised::Replay { status, body } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
            let task_id = body.get("task_id").and_then(Value::as_i64);
            let mut resp = with_location(json_response(code, &body), task_id);
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(resp)
        }
    }
}

#[utoipa::path(get, path = "/api/v1/tasks/emergency/suggestions", tag = "emergency", params(SuggestionsQuery),
    description = "Level: 2. The nearest available efectivos within radius_m (optionally by especialidad/unidad), nearest first; nothing is assigned.",
    responses((status = 200, description = "suggestions", body = [Suggestion])))]
pub async fn suggestions(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<SuggestionsQuery>,
) -> ApiResult<Response> {
    let body = emergency::suggestions(&state.ctx, &me, &q).await?;
    Ok(axum::Json(body).into_response())
}
