//! Efectivos (contract §7): the HTTP face of `gad_service::efectivos`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{Admin, AuthUser, Supervisor};
use crate::error::{ApiError, ApiResult, json_response};
use crate::extract::{RawBody, ValidJson, ValidPath, ValidQuery, parse_json_body};
use crate::state::AppState;
use gad_service::ServiceError;
use gad_service::efectivos::{
    self, CreateEfectivo, DisponibilidadBody, Efectivo, EfectivoRow, ListQuery, UbicacionBody,
    UpdateEfectivo, may_act_on,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_efectivos, create_efectivo))
        .routes(routes!(get_efectivo, update_efectivo, delete_efectivo))
        .routes(routes!(update_ubicacion))
        .routes(routes!(update_disponibilidad))
        .route(
            "/api/v1/efectivos/",
            axum::routing::get(list_efectivos).post(create_efectivo),
        )
}

#[utoipa::path(get, path = "/api/v1/efectivos", tag = "efectivos", params(ListQuery),
    description = "Level: 2. Lists efectivos (newest first); with near_lat+near_lng (+radius_m) only those within the radius, nearest first, with distance_m.",
    responses((status = 200, description = "efectivos", body = [Efectivo])))]
pub async fn list_efectivos(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Response> {
    let rows = efectivos::list(&state.ctx, &me, &q).await?;
    Ok(Json(rows.iter().map(EfectivoRow::to_wire).collect::<Vec<_>>()).into_response())
}

#[utoipa::path(post, path = "/api/v1/efectivos", tag = "efectivos", request_body = CreateEfectivo,
    description = "Level: 3. Creates the efectivo record of an existing usuario (1:1). Usuario already an efectivo or duplicate codigo_interno → 409.",
    responses((status = 201, description = "created", body = Efectivo), (status = 409, description = "conflict", body = Value)))]
pub async fn create_efectivo(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidJson(b): ValidJson<CreateEfectivo>,
) -> ApiResult<Response> {
    let row = efectivos::create(&state.ctx, &me, &origin, &b).await?;
    // The user's sessions now act as this officer: every instance reads them afresh.
    state.hub.refresh_user_auth(row.usuario_id);
    super::created(&row.to_json(), format!("/api/v1/efectivos/{}", row.id))
}

#[utoipa::path(get, path = "/api/v1/efectivos/{id}", tag = "efectivos",
    params(("id" = i64, Path, description = "efectivo id")),
    description = "Level: 1 (own). An officer reads its own record; level 2+ reads any.",
    responses((status = 200, description = "efectivo", body = Efectivo), (status = 404, description = "not found", body = Value)))]
pub async fn get_efectivo(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    let row = efectivos::get(&state.ctx, &me, id).await?;
    Ok(Json(row.to_wire()).into_response())
}

#[utoipa::path(put, path = "/api/v1/efectivos/{id}", tag = "efectivos", request_body = UpdateEfectivo,
    params(("id" = i64, Path, description = "efectivo id")),
    description = "Level: 3. Partial update of an efectivo.",
    responses((status = 200, description = "updated", body = Efectivo), (status = 404, description = "not found", body = Value),
              (status = 409, description = "duplicate codigo_interno", body = Value)))]
pub async fn update_efectivo(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
    ValidJson(b): ValidJson<UpdateEfectivo>,
) -> ApiResult<Response> {
    let row = efectivos::update(&state.ctx, &me, &origin, id, &b).await?;
    Ok(Json(row.to_wire()).into_response())
}

#[utoipa::path(delete, path = "/api/v1/efectivos/{id}", tag = "efectivos",
    params(("id" = i64, Path, description = "efectivo id")),
    description = "Level: 3. Soft-deletes an efectivo; returns the deleted object.",
    responses((status = 200, description = "deleted", body = Efectivo), (status = 404, description = "not found", body = Value)))]
pub async fn delete_efectivo(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    let row = efectivos::delete(&state.ctx, &me, &origin, id).await?;
    // The user's sessions no longer act as an officer: every instance reads them afresh.
    state.hub.refresh_user_auth(row.usuario_id);
    Ok(Json(row.to_wire()).into_response())
}

#[utoipa::path(put, path = "/api/v1/efectivos/{id}/ubicacion", tag = "efectivos", request_body = UbicacionBody,
    params(("id" = i64, Path, description = "efectivo id")),
    description = "Level: 1 (own). The officer itself or level 2+ reports a location fix. It goes through the group-commit writer (batched with other fixes, one transaction): a 200 means the fix is committed to the history (kept LOCATION_RETENTION_DAYS, partitioned by day). The newest fix by recorded_at is the officer's position; an older one is stored in the history only and the answer shows the current position.",
    responses((status = 200, description = "efectivo (its current position)", body = Efectivo),
              (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "another officer (level 1)", body = Value),
              (status = 404, description = "not found", body = Value),
              (status = 422, description = "validation (lat, lng, accuracy_m, heading, speed, recorded_at)", body = Value),
              (status = 429, description = "rate limited", body = Value)))]
pub async fn update_ubicacion(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(id): ValidPath<i64>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    // Another officer is refused before the body is read.
    if !may_act_on(&me, id) {
        return Err(ApiError::from(ServiceError::InsufficientLevel));
    }
    let b: UbicacionBody = parse_json_body(&body)?;
    let row = efectivos::set_location(&state.ctx, &me, id, b).await?;
    Ok(json_response(StatusCode::OK, &row.to_json()))
}

#[utoipa::path(put, path = "/api/v1/efectivos/{id}/disponibilidad", tag = "efectivos", request_body = DisponibilidadBody,
    params(("id" = i64, Path, description = "efectivo id")),
    description = "Level: 1 (own). The officer itself or level 2+ sets the availability. A transition the unit status does not allow (en_tarea/en_camino come only from dispatch; en_escena only from en_camino/en_tarea) → 409 with the allowed values.",
    responses((status = 200, description = "efectivo", body = Efectivo), (status = 403, description = "another officer", body = Value),
              (status = 409, description = "transition not allowed", body = Value),
              (status = 404, description = "not found", body = Value)))]
pub async fn update_disponibilidad(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    if !may_act_on(&me, id) {
        return Err(ApiError::from(ServiceError::InsufficientLevel));
    }
    let b: DisponibilidadBody = parse_json_body(&body)?;
    let row = efectivos::set_availability(&state.ctx, &me, &origin, id, &b).await?;
    Ok(Json(row.to_wire()).into_response())
}
