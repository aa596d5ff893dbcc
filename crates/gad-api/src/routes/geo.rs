//! Map view (contract §8): located efectivos and open tasks within a radius, nearest first,
//! computed in PostGIS. `/api/v1/geo/geo/map/view` is kept as an undocumented legacy alias.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use gad_core::{EstadoDisponibilidad, EstadoTarea, Prioridad};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Supervisor;
use crate::error::{ApiResult, FieldError, json_response};
use crate::extract::{ValidQuery, Validate, rules};
use crate::state::AppState;
use crate::store::efectivos::point_sql;

/// Upper bound of markers per kind in one answer (a 100 km radius over a dense seed would
/// otherwise return the whole table).
const MAX_MARKERS: i64 = 5000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(map_view))
        .route("/api/v1/geo/geo/map/view", axum::routing::get(map_view))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MapQuery {
    pub center_lat: f64,
    pub center_lng: f64,
    /// 100–100 000 metres, default 10 000.
    pub radius_m: Option<f64>,
    /// Only officers who could be dispatched now (available, fresh position, active user).
    pub disponibles: Option<bool>,
}

impl Validate for MapQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::range_at(errors, "query", "center_lat", self.center_lat, -90.0, 90.0);
        rules::range_at(
            errors,
            "query",
            "center_lng",
            self.center_lng,
            -180.0,
            180.0,
        );
        if let Some(r) = self.radius_m {
            rules::range_at(errors, "query", "radius_m", r, 100.0, 100_000.0);
        }
    }
}

#[derive(sqlx::FromRow)]
struct EfectivoMarker {
    id: i64,
    uuid: uuid::Uuid,
    lat: f64,
    lng: f64,
    distance_m: f64,
    estado: String,
    nombre: String,
    unidad: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TareaMarker {
    id: i64,
    uuid: uuid::Uuid,
    codigo: String,
    lat: f64,
    lng: f64,
    distance_m: f64,
    prioridad: String,
    estado: String,
}

#[utoipa::path(get, path = "/api/v1/geo/map/view", tag = "geo", params(MapQuery),
    description = "Level: 2. Located efectivos and open tasks (not finalizada/cancelada) within radius_m of the centre, nearest first; distance_m in whole metres.",
    responses((status = 200, description = "markers", body = Value)))]
pub async fn map_view(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<MapQuery>,
) -> ApiResult<Response> {
    let pt = point_sql(1, 2);
    let radius = q.radius_m.unwrap_or(gad_core::geo::RadiusM::DEFAULT);
    // The "available" view applies the dispatch rule itself, so it never shows an officer
    // that an emergency would not reach.
    let only_available = q.disponibles.unwrap_or(false);
    let filter = if only_available {
        crate::store::dispatch::eligible_sql(5, 6)
    } else {
        "e.deleted_at IS NULL AND e.geom IS NOT NULL AND $5::int8 IS NOT NULL AND $6::int8 IS NOT NULL"
            .to_string()
    };
    let efectivos_sql = format!(
        "SELECT e.id, e.uuid, ST_Y(e.geom::geometry) AS lat, ST_X(e.geom::geometry) AS lng,
                ST_Distance(e.geom, {pt}) AS distance_m, e.estado_disponibilidad::text AS estado,
                u.nombre, e.unidad
         FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE {filter} AND ST_DWithin(e.geom, {pt}, $3)
         ORDER BY e.geom <-> {pt}, e.id LIMIT $4"
    );
    let tareas_sql = format!(
        "SELECT t.id, t.uuid, t.codigo, ST_Y(t.geom::geometry) AS lat, ST_X(t.geom::geometry) AS lng,
                ST_Distance(t.geom, {pt}) AS distance_m, t.prioridad::text AS prioridad,
                t.estado::text AS estado
         FROM tareas t
         WHERE t.deleted_at IS NULL AND t.geom IS NOT NULL
           AND t.estado NOT IN ('COMPLETED', 'CANCELLED') AND ST_DWithin(t.geom, {pt}, $3)
         ORDER BY t.geom <-> {pt}, t.id LIMIT $4"
    );
    let efectivos = sqlx::query_as::<_, EfectivoMarker>(&efectivos_sql)
        .bind(q.center_lng)
        .bind(q.center_lat)
        .bind(radius)
        .bind(MAX_MARKERS)
        .bind(state.config.dispatch_max_position_age_minutes)
        .bind(me.id)
        .fetch_all(&state.db);
    let tareas = sqlx::query_as::<_, TareaMarker>(&tareas_sql)
        .bind(q.center_lng)
        .bind(q.center_lat)
        .bind(radius)
        .bind(MAX_MARKERS)
        .fetch_all(&state.db);
    let (efectivos, tareas) = tokio::try_join!(efectivos, tareas)?;
    let usuarios: Vec<Value> = efectivos
        .iter()
        .map(|e| {
            json!({
                "lat": e.lat,
                "lng": e.lng,
                "entity_id": e.uuid.to_string(),
                "efectivo_id": e.id,
                "distance_m": e.distance_m.round() as i64,
                "estado": EstadoDisponibilidad::from_db(&e.estado).map(|s| s.as_wire()),
                "nombre": e.nombre,
                "unidad": e.unidad,
            })
        })
        .collect();
    let tareas: Vec<Value> = tareas
        .iter()
        .map(|t| {
            json!({
                "lat": t.lat,
                "lng": t.lng,
                "entity_id": t.uuid.to_string(),
                "task_id": t.id,
                "codigo": t.codigo,
                "distance_m": t.distance_m.round() as i64,
                "priority": Prioridad::from_db(&t.prioridad).map(|p| p.label()),
                "estado": EstadoTarea::from_db(&t.estado).map(|s| s.as_wire()),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"usuarios": usuarios, "tareas": tareas}),
    ))
}
