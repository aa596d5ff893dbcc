//! The roster (`/api/v1/turnos`) and leave (`/api/v1/licencias`): the HTTP face of
//! `gad_service::turnos`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{AuthUser, Supervisor};
use crate::error::{ApiResult, json_response};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::turnos::{
    self, Licencia, LicenciaBody, LicenciaQuery, LicenciaResuelta, ListQuery, Planilla,
    PlanillaQuery, PlantillaBody, PlantillaCreada, ResolverBody, Turno, TurnoBody, UnidadEnTurno,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_shifts, create_shift))
        .routes(routes!(create_pattern))
        .routes(routes!(on_duty))
        .routes(routes!(roster))
        .routes(routes!(get_shift, update_shift, delete_shift))
        .routes(routes!(clock_in))
        .routes(routes!(clock_out))
        .routes(routes!(list_leave, request_leave))
        .routes(routes!(approve_leave))
        .routes(routes!(reject_leave))
}

use super::created;

#[utoipa::path(get, path = "/api/v1/turnos", tag = "turnos", params(ListQuery),
    description = "Level: 1 (own). Shifts by start, filtered by efectivo_id, desde/hasta (RFC 3339: shifts ending after desde, starting before hasta) and unidad; skip/limit pagination (limit default 100). Level 1 sees only their own shifts.",
    responses((status = 200, description = "shifts", body = [Turno]),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn list_shifts(
    State(state): State<AppState>,
    me: AuthUser,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Response> {
    Ok(Json(turnos::list(&state.ctx, &me, &q).await?).into_response())
}

#[utoipa::path(post, path = "/api/v1/turnos", tag = "turnos", request_body = TurnoBody,
    description = "Level: 2. Adds a shift (201 + Location): fin after inicio, at most 24 h; an overlap with another live shift of the officer → 409 with it in `turno`; audited.",
    responses((status = 201, description = "created", body = Turno),
              (status = 409, description = "overlapping shift", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn create_shift(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidJson(b): ValidJson<TurnoBody>,
) -> ApiResult<Response> {
    let t = turnos::create(&state.ctx, &me, &origin, &b).await?;
    created(&t, format!("/api/v1/turnos/{}", t.id))
}

#[utoipa::path(post, path = "/api/v1/turnos/plantilla", tag = "turnos", request_body = PlantillaBody,
    description = "Level: 2. Creates a repeating pattern of shifts for several officers over a range of dates (patron dias_semana or ciclo), in one transaction; any overlap → 409 listing every conflict in `conflictos`, nothing written; audited.",
    responses((status = 201, description = "created", body = PlantillaCreada),
              (status = 409, description = "overlapping shifts", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn create_pattern(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidJson(b): ValidJson<PlantillaBody>,
) -> ApiResult<Response> {
    let r = turnos::create_pattern(&state.ctx, &me, &origin, &b).await?;
    let body = serde_json::to_value(&r).map_err(crate::error::ApiError::internal)?;
    Ok(json_response(StatusCode::CREATED, &body))
}

#[utoipa::path(get, path = "/api/v1/turnos/actual", tag = "turnos",
    description = "Level: 2. Who is on duty now (a shift under way, not cancelled, not clocked out), grouped by unit; `fichado` says whether they clocked in.",
    responses((status = 200, description = "on duty by unit", body = [UnidadEnTurno])))]
pub async fn on_duty(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
) -> ApiResult<Response> {
    Ok(Json(turnos::on_duty(&state.ctx, &me).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/turnos/planilla", tag = "turnos", params(PlanillaQuery),
    description = "Level: 2. The roster of a day (`fecha`, YYYY-MM-DD in ZONA_HORARIA; default today there): every officer with a shift touching that day or on approved leave on it, grouped by unit, each with `estado_turno` judged now: en_turno (clocked in on time, not out), tarde (clocked in late, or the shift started less than 15 minutes ago without a clock-in), ausente (no clock-in 15 minutes or more after the start), licencia (approved leave that day), libre (not started, or worked and over).",
    responses((status = 200, description = "the day's roster", body = Planilla),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn roster(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<PlanillaQuery>,
) -> ApiResult<Response> {
    Ok(Json(turnos::planilla(&state.ctx, &me, &q).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/turnos/{id}", tag = "turnos",
    params(("id" = i64, Path, description = "shift id")),
    description = "Level: 1. One shift: level 1 reads only their own (another officer's → 404, as unknown); level 2+ any.",
    responses((status = 200, description = "shift", body = Turno),
              (status = 404, description = "not found", body = serde_json::Value)))]
pub async fn get_shift(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    Ok(Json(turnos::get(&state.ctx, &me, id).await?).into_response())
}

#[utoipa::path(put, path = "/api/v1/turnos/{id}", tag = "turnos", request_body = TurnoBody,
    params(("id" = i64, Path, description = "shift id")),
    description = "Level: 2. Replaces a shift's fields; overlap → 409 with the overlapping shift; unknown → 404; audited.",
    responses((status = 200, description = "shift", body = Turno),
              (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "overlapping shift", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn update_shift(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
    ValidJson(b): ValidJson<TurnoBody>,
) -> ApiResult<Response> {
    Ok(Json(turnos::update(&state.ctx, &me, &origin, id, &b).await?).into_response())
}

#[utoipa::path(delete, path = "/api/v1/turnos/{id}", tag = "turnos",
    params(("id" = i64, Path, description = "shift id")),
    description = "Level: 2. Deletes a shift (204); unknown → 404; audited.",
    responses((status = 204, description = "deleted"),
              (status = 404, description = "not found", body = serde_json::Value)))]
pub async fn delete_shift(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    turnos::delete(&state.ctx, &me, &origin, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/api/v1/turnos/{id}/ingreso", tag = "turnos",
    params(("id" = i64, Path, description = "shift id")),
    description = "Level: 1. The officer themself (another officer's shift → 404), or level 2+ for any officer. Clocks in, from TURNO_TOLERANCIA_MINUTOS before the start until the end; later than the tolerance after the start is recorded and flagged `ingreso_tarde: true`. Already clocked in, cancelled by leave, ended or too early → 409; audited.",
    responses((status = 200, description = "shift", body = Turno),
              (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "refused", body = serde_json::Value)))]
pub async fn clock_in(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    Ok(Json(turnos::clock_in(&state.ctx, &me, &origin, id).await?).into_response())
}

#[utoipa::path(post, path = "/api/v1/turnos/{id}/egreso", tag = "turnos",
    params(("id" = i64, Path, description = "shift id")),
    description = "Level: 1. The officer themself (another officer's shift → 404), or level 2+ for any officer. Clocks out of a shift clocked in to; not clocked in or already out → 409; audited.",
    responses((status = 200, description = "shift", body = Turno),
              (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "refused", body = serde_json::Value)))]
pub async fn clock_out(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    Ok(Json(turnos::clock_out(&state.ctx, &me, &origin, id).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/licencias", tag = "turnos", params(LicenciaQuery),
    description = "Level: 1 (own). Leave requests, latest first, filtered by efectivo_id (level 2+) and estado; skip/limit pagination.",
    responses((status = 200, description = "leave requests", body = [Licencia]),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn list_leave(
    State(state): State<AppState>,
    me: AuthUser,
    ValidQuery(q): ValidQuery<LicenciaQuery>,
) -> ApiResult<Response> {
    Ok(Json(turnos::list_leave(&state.ctx, &me, &q).await?).into_response())
}

#[utoipa::path(post, path = "/api/v1/licencias", tag = "turnos", request_body = LicenciaBody,
    description = "Level: 1. The caller (an officer) asks for leave for themself: tipo, desde/hasta (YYYY-MM-DD, inclusive); pending until a supervisor resolves it (201 + Location). A caller without an efectivo record → 409; audited.",
    responses((status = 201, description = "requested", body = Licencia),
              (status = 409, description = "not an officer", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn request_leave(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidJson(b): ValidJson<LicenciaBody>,
) -> ApiResult<Response> {
    let l = turnos::request_leave(&state.ctx, &me, &origin, &b).await?;
    created(&l, format!("/api/v1/licencias/{}", l.id))
}

#[utoipa::path(post, path = "/api/v1/licencias/{id}/aprobar", tag = "turnos", request_body = ResolverBody,
    params(("id" = i64, Path, description = "leave id")),
    description = "Level: 2. Approves a pending leave: the officer's shifts on those days not clocked in to become `cancelado_por_licencia` (listed in `turnos_cancelados`), and in DUTY_MODE=turnos the officer is not called on those days. Not pending → 409; audited.",
    responses((status = 200, description = "approved", body = LicenciaResuelta),
              (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "not pending", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn approve_leave(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
    ValidJson(b): ValidJson<ResolverBody>,
) -> ApiResult<Response> {
    Ok(Json(turnos::resolve_leave(&state.ctx, &me, &origin, id, true, &b).await?).into_response())
}

#[utoipa::path(post, path = "/api/v1/licencias/{id}/rechazar", tag = "turnos", request_body = ResolverBody,
    params(("id" = i64, Path, description = "leave id")),
    description = "Level: 2. Rejects a pending leave. Not pending → 409; audited.",
    responses((status = 200, description = "rejected", body = LicenciaResuelta),
              (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "not pending", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn reject_leave(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
    ValidJson(b): ValidJson<ResolverBody>,
) -> ApiResult<Response> {
    Ok(Json(turnos::resolve_leave(&state.ctx, &me, &origin, id, false, &b).await?).into_response())
}
