//! Officer-safety check-ins and the alerts kept until seen: the HTTP face of
//! `gad_service::checkins`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{AuthUser, Supervisor};
use crate::error::ApiResult;
use crate::extract::{RawBody, ValidPath, ValidQuery, parse_json_body};
use crate::state::AppState;
use gad_service::checkins::{self, Alerta, AlertasQuery, Checkin, CheckinAnswer, CheckinBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_checkins, answer_checkin))
        .routes(routes!(list_alertas))
        .routes(routes!(mark_seen))
}

#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/checkins", tag = "incidents",
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped). The officer-safety check-ins of the task, oldest first: `pregunta` (the bot asked \"¿Todo bien?\"), `ok` (\"Estoy bien\"), `apoyo` (\"Necesito apoyo\": backup called, alert to supervisors), `sin_respuesta` (no answer within CHECKIN_GRACIA_MINUTOS: red alert). Visible as the task's timeline.",
    responses((status = 200, description = "the check-ins", body = [Checkin]), (status = 404, description = "not found", body = Value)))]
pub async fn list_checkins(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(task_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let rows = checkins::list(&state.ctx, &me, task_id).await?;
    Ok(axum::Json(rows).into_response())
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/checkins", tag = "incidents", request_body = CheckinBody,
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (own). The officer on the task answers the check-in (what the bot's buttons do): `ok` records it and resets the clock; `apoyo` calls one backup officer (the `/backup` use case, with its bounds: when none can be called, `refuerzo_motivo` says why) and raises an `alert` to supervisors, kept in `/api/v1/alertas` until seen. A user who is not an officer on the task gets 404. Audited.",
    responses((status = 201, description = "recorded", body = CheckinAnswer), (status = 404, description = "not found", body = Value),
              (status = 422, description = "validation", body = Value)))]
pub async fn answer_checkin(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(task_id): ValidPath<i64>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    // Someone not on the task gets its 404 before the body is read.
    checkins::on_task(&state.ctx, &me, task_id).await?;
    let body: CheckinBody = parse_json_body(&body)?;
    let a = checkins::answer(&state.ctx, &me, &origin, task_id, body.respuesta).await?;
    Ok((StatusCode::CREATED, axum::Json(a)).into_response())
}

#[utoipa::path(get, path = "/api/v1/alertas", tag = "monitoring",
    params(AlertasQuery),
    description = "Level: 2. Alerts kept until a supervisor marks them seen — the console's alarms: `emergencia_nueva` (every emergency raised, critical), `sin_asignar` (an emergency nobody could take, critical), officer-safety check-ins (`checkin_sin_respuesta`, critical; `checkin_apoyo`, warning), an urgent message to the desk (`mensaje_urgente`, warning) — newest first; `pendientes=true` only those nobody saw yet.",
    responses((status = 200, description = "alerts", body = [Alerta]), (status = 422, description = "bad filter", body = Value)))]
pub async fn list_alertas(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<AlertasQuery>,
) -> ApiResult<Response> {
    let rows = checkins::list_alertas(&state.ctx, &me, &q).await?;
    Ok(axum::Json(rows).into_response())
}

#[utoipa::path(post, path = "/api/v1/alertas/{alerta_id}/visto", tag = "monitoring",
    params(("alerta_id" = i64, Path, description = "alert id")),
    description = "Level: 2. Marks the alert seen: records who and when (the first supervisor is kept; marking it again answers it unchanged). Audited.",
    responses((status = 200, description = "the alert", body = Alerta), (status = 404, description = "not found", body = Value)))]
pub async fn mark_seen(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    let a = checkins::mark_seen(&state.ctx, &me, &origin, id).await?;
    Ok(axum::Json(a).into_response())
}
