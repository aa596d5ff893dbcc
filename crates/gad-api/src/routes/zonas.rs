//! Jurisdictions (`/api/v1/zonas`): the HTTP face of `gad_service::zonas`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{Admin, AuthUser};
use crate::error::ApiResult;
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::jurisdiccion::{self, UserZonas, UserZonasBody};
use gad_service::zonas::{self, Zona, ZonaBody, ZonaQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_zones, create_zone))
        .routes(routes!(zones_geojson))
        .routes(routes!(get_zone, update_zone, delete_zone))
        .routes(routes!(get_user_zones, set_user_zones))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/zonas", tag = "zonas",
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 1 (own). The comisarías a supervisor answers for (empty: the whole city); the command centre reads its own to scope the map; level 2+ reads anyone's. Another user's at level 1 → 403; unknown user → 404.",
    responses((status = 200, description = "assignments", body = UserZonas), (status = 403, description = "another user's at level 1", body = serde_json::Value),
              (status = 404, description = "not found", body = serde_json::Value)))]
pub async fn get_user_zones(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<Response> {
    Ok(axum::Json(jurisdiccion::get(&state.ctx, &me, user_id).await?).into_response())
}

#[utoipa::path(put, path = "/api/v1/users/{user_id}/zonas", tag = "zonas", request_body = UserZonasBody,
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Replaces a supervisor's comisarías: their task lists and map default to these zones (`toda_la_ciudad=true` shows all) and they receive only these zones' alerts; empty → the whole city. An id that is not a comisaría → 422; unknown user → 404; audited.",
    responses((status = 200, description = "assignments", body = UserZonas), (status = 404, description = "not found", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn set_user_zones(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(user_id): ValidPath<i64>,
    ValidJson(b): ValidJson<UserZonasBody>,
) -> ApiResult<Response> {
    Ok(axum::Json(jurisdiccion::set(&state.ctx, &me, &origin, user_id, &b).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/zonas", tag = "zonas", params(ZonaQuery),
    description = "Level: 1. Jurisdictions (comisarías first, then by id); with `lat` and `lng`, only the zones containing that point, smallest first; `tipo` keeps one kind.",
    responses((status = 200, description = "zones", body = [Zona]),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn list_zones(
    State(state): State<AppState>,
    me: AuthUser,
    ValidQuery(q): ValidQuery<ZonaQuery>,
) -> ApiResult<Response> {
    Ok(axum::Json(zonas::list(&state.ctx, &me, &q).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/zonas/geojson", tag = "zonas",
    description = "Level: 1. The zones layer as a GeoJSON FeatureCollection (properties id, nombre, tipo, padre_id, padre), comisarías first: the map's layer and `gad zonas export`'s format.",
    responses((status = 200, description = "FeatureCollection", body = serde_json::Value)))]
pub async fn zones_geojson(State(state): State<AppState>, me: AuthUser) -> ApiResult<Response> {
    let text = zonas::feature_collection(&state.ctx, &me).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/zonas", tag = "zonas", request_body = ZonaBody,
    description = "Level: 3. Adds a zone (201 + Location). An invalid geometry → 422 at geometria with PostGIS's reason; a cuadrante outside its comisaría → 422; audited.",
    responses((status = 201, description = "created", body = Zona),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn create_zone(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidJson(b): ValidJson<ZonaBody>,
) -> ApiResult<Response> {
    let z = zonas::create(&state.ctx, &me, &origin, &b).await?;
    super::created(&z, format!("/api/v1/zonas/{}", z.id))
}

#[utoipa::path(get, path = "/api/v1/zonas/{id}", tag = "zonas",
    params(("id" = i64, Path, description = "zone id")),
    description = "Level: 1. One zone; unknown → 404.",
    responses((status = 200, description = "zone", body = Zona), (status = 404, description = "not found", body = serde_json::Value)))]
pub async fn get_zone(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    Ok(axum::Json(zonas::get(&state.ctx, &me, id).await?).into_response())
}

#[utoipa::path(put, path = "/api/v1/zonas/{id}", tag = "zonas", request_body = ZonaBody,
    params(("id" = i64, Path, description = "zone id")),
    description = "Level: 3. Replaces a zone; unknown → 404; the same 422s as POST, and a comisaría whose cuadrantes would fall outside → 422; a comisaría with children or supervisors cannot change its tipo → 409; audited. Tasks keep the zone they were placed in.",
    responses((status = 200, description = "zone", body = Zona), (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "in use", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn update_zone(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
    ValidJson(b): ValidJson<ZonaBody>,
) -> ApiResult<Response> {
    Ok(axum::Json(zonas::update(&state.ctx, &me, &origin, id, &b).await?).into_response())
}

#[utoipa::path(delete, path = "/api/v1/zonas/{id}", tag = "zonas",
    params(("id" = i64, Path, description = "zone id")),
    description = "Level: 3. Deletes a zone (204); unknown → 404; a zone with children or assigned to a supervisor → 409; audited.",
    responses((status = 204, description = "deleted"), (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "in use", body = serde_json::Value)))]
pub async fn delete_zone(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    zonas::delete(&state.ctx, &me, &origin, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
