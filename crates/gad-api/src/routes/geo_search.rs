//! Address search: the HTTP face of `gad_service::lugares` (street and number, intersections,
//! places; what is at a point).

use axum::Json;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::ValidQuery;
use crate::state::AppState;
use gad_service::ServiceError;
use gad_service::lugares::{self, BuscarQuery, InversoQuery, Lugar, LugarCercano};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(buscar))
        .routes(routes!(inverso))
}

#[utoipa::path(get, path = "/api/v1/geo/buscar", tag = "geo", params(BuscarQuery),
    description = "Level: 1. Places for a spoken address, best first: a street and house number (\"Corrientes 1234\", \"Corrientes al 1200\": the point interpolated along the segment whose number range covers it, tipo direccion), an intersection (\"Corrientes y Florida\", \"… e …\", \"… esquina …\": tipo interseccion), then names that look like the query (misspellings and parts of names match; tipo lugar, calle or interseccion). Asks GEOCODER_URL first when it is set (its answer wins unless empty or failed); answers are cached GEOCODER_CACHE_SECONDS. Nothing found: an empty list.",
    responses((status = 200, description = "places, best first", body = Vec<Lugar>),
              (status = 422, description = "q not 2–200 characters, or limit not 1–20", body = Value)))]
pub async fn buscar(
    State(state): State<AppState>,
    _me: AuthUser,
    ValidQuery(q): ValidQuery<BuscarQuery>,
) -> ApiResult<Json<Vec<Lugar>>> {
    let limit = q.limit.unwrap_or(lugares::DEFAULT_LIMIT);
    Ok(Json(
        lugares::buscar(&state.ctx, q.q.as_str(), limit).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/geo/inverso", tag = "geo", params(InversoQuery),
    description = "Level: 1. What is at a point: a named place or intersection within 30 m, else the nearest street within 250 m with the house number interpolated there (tipo direccion, or calle when the segment has no numbers). Asks GEOCODER_URL first when it is set.",
    responses((status = 200, description = "the place", body = LugarCercano),
              (status = 404, description = "nothing within 250 m", body = Value),
              (status = 422, description = "lat/lng missing or out of range", body = Value)))]
pub async fn inverso(
    State(state): State<AppState>,
    _me: AuthUser,
    ValidQuery(q): ValidQuery<InversoQuery>,
) -> ApiResult<Json<LugarCercano>> {
    match lugares::inverso(&state.ctx, q.lat, q.lng).await? {
        Some(l) => Ok(Json(l)),
        None => Err(ServiceError::NotFound("No hay ningún lugar cerca de ese punto".into()).into()),
    }
}
