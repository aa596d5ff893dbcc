//! An officer's trail: the HTTP face of `gad_service::trail` (the stored location history
//! between two instants, oldest first, simplified to at most `max_points`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::Supervisor;
use crate::error::{ApiError, ApiResult, json_response};
use crate::extract::{ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::trail::{self, TrailQuery, Trayecto};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trail))
}

#[utoipa::path(get, path = "/api/v1/efectivos/{id}/ubicaciones", tag = "efectivos",
    params(("id" = i64, Path, description = "efectivo id"), TrailQuery),
    description = "Level: 2. The officer's stored positions between desde and hasta (default the last 4 hours; at most 31 days), oldest first. Reads only the day partitions of the window. More than max_points fixes (2–5000, default 5000) → simplified server-side to at most max_points (shape kept, first and last fix kept; truncado true, total_puntos tells how many were stored). Reading another officer's trail is audited (efectivo_trail_read, with the window; the officer sees it in their own export). Unknown or deleted efectivo → 404; desde after hasta, a window over 31 days or max_points out of range → 422.",
    responses((status = 200, description = "trail", body = Trayecto),
              (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "level below 2", body = Value),
              (status = 404, description = "not found", body = Value),
              (status = 422, description = "validation", body = Value),
              (status = 429, description = "rate limited", body = Value)))]
pub async fn trail(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
    ValidQuery(q): ValidQuery<TrailQuery>,
) -> ApiResult<Response> {
    let body: Trayecto = trail::trail(&state.ctx, &me, &origin, id, &q).await?;
    let value = serde_json::to_value(&body).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, &value))
}
