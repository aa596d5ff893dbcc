//! Queries on the efectivos aggregate.
//!
//! Locations are stored as `geography(Point,4326)`; lat/lng are read back with
//! `ST_Y/ST_X(geom::geometry)` and distances come from `ST_Distance` on the geography (spheroid).

use chrono::{DateTime, Utc};
use gad_core::EstadoDisponibilidad;
use serde_json::{Value, json};
use sqlx::PgExecutor;

use crate::time::rfc3339;

pub const EFECTIVO_NOT_FOUND: &str = "The efectivo with this id does not exist in the system";

/// The SQL expression of a point from `$lng`/`$lat` parameters, as geography. Written inline
/// (not in a CTE) so the planner treats it as a constant and can use the GiST index for
/// `ST_DWithin` and the `<->` KNN ordering.
pub fn point_sql(lng_param: usize, lat_param: usize) -> String {
    format!("ST_SetSRID(ST_MakePoint(${lng_param}::float8, ${lat_param}::float8), 4326)::geography")
}

/// One efectivo joined with its usuario's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EfectivoRow {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub usuario_id: i64,
    pub codigo_interno: String,
    pub rango: Option<String>,
    pub unidad: Option<String>,
    pub especialidad: Option<String>,
    pub estado: String,
    pub ultima_actualizacion_estado: DateTime<Utc>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub heading: Option<f64>,
    pub speed: Option<f64>,
    pub ubicacion_updated_at: Option<DateTime<Utc>>,
    pub nombre: String,
    pub apellido: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Only set by proximity searches.
    pub distance_m: Option<f64>,
}

/// Columns of `EfectivoRow` (table alias `e`, usuario alias `u`), without `distance_m`.
pub const EFECTIVO_COLUMNS: &str = "e.id, e.uuid, e.usuario_id, e.codigo_interno, e.rango, e.unidad, e.especialidad,
    e.estado_disponibilidad::text AS estado, e.ultima_actualizacion_estado,
    ST_Y(e.geom::geometry) AS lat, ST_X(e.geom::geometry) AS lng,
    e.ubicacion_accuracy_m AS accuracy_m, e.ubicacion_heading AS heading, e.ubicacion_speed AS speed,
    e.ubicacion_updated_at, u.nombre, u.apellido, e.created_at, e.updated_at, e.deleted_at";

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl EfectivoRow {
    pub fn estado_wire(&self) -> &'static str {
        EstadoDisponibilidad::from_db(&self.estado)
            .map(|e| e.as_wire())
            .unwrap_or("no_disponible")
    }

    /// The Efectivo wire object (contract §7).
    pub fn to_json(&self) -> Value {
        let ubicacion = match (self.lat, self.lng) {
            (Some(lat), Some(lng)) => json!({
                "lat": lat,
                "lng": lng,
                "accuracy_m": self.accuracy_m,
                "heading": self.heading,
                "speed": self.speed,
                "updated_at": self.ubicacion_updated_at.map(rfc3339),
            }),
            _ => Value::Null,
        };
        let mut v = json!({
            "id": self.id,
            "uuid": self.uuid,
            "usuario_id": self.usuario_id,
            "codigo_interno": self.codigo_interno,
            "rango": self.rango,
            "unidad": self.unidad,
            "especialidad": self.especialidad,
            "estado_disponibilidad": self.estado_wire(),
            "ultima_actualizacion_estado": rfc3339(self.ultima_actualizacion_estado),
            "ubicacion": ubicacion,
            "nombre": self.nombre,
            "apellido": self.apellido,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "deleted_at": self.deleted_at.map(rfc3339),
        });
        if let (Some(d), Some(obj)) = (self.distance_m, v.as_object_mut()) {
            obj.insert("distance_m".into(), json!(round2(d)));
        }
        v
    }
}

pub async fn by_id<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    include_deleted: bool,
) -> Result<Option<EfectivoRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {EFECTIVO_COLUMNS}, NULL::float8 AS distance_m
         FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE e.id = $1 AND ($2 OR e.deleted_at IS NULL)"
    );
    sqlx::query_as::<_, EfectivoRow>(&sql)
        .bind(id)
        .bind(include_deleted)
        .fetch_optional(exec)
        .await
}

/// Filters of the efectivos list.
#[derive(Debug, Default)]
pub struct ListFilter<'a> {
    pub estado: Option<EstadoDisponibilidad>,
    pub unidad: Option<&'a str>,
    /// (lat, lng, radius_m): only located efectivos within the radius, nearest first.
    pub near: Option<(f64, f64, f64)>,
    pub skip: i64,
    pub limit: i64,
}

pub async fn list<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &ListFilter<'_>,
) -> Result<Vec<EfectivoRow>, sqlx::Error> {
    let estado = f.estado.map(|e| e.as_db());
    match f.near {
        None => {
            let sql = format!(
                "SELECT {EFECTIVO_COLUMNS}, NULL::float8 AS distance_m
                 FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
                 WHERE e.deleted_at IS NULL
                   AND ($1::text IS NULL OR e.estado_disponibilidad = $1::estado_disponibilidad)
                   AND ($2::text IS NULL OR e.unidad = $2)
                 ORDER BY e.created_at DESC, e.id DESC OFFSET $3 LIMIT $4"
            );
            sqlx::query_as::<_, EfectivoRow>(&sql)
                .bind(estado)
                .bind(f.unidad)
                .bind(f.skip)
                .bind(f.limit)
                .fetch_all(exec)
                .await
        }
        Some((lat, lng, radius)) => {
            let pt = point_sql(5, 6);
            let sql = format!(
                "SELECT {EFECTIVO_COLUMNS}, ST_Distance(e.geom, {pt}) AS distance_m
                 FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
                 WHERE e.deleted_at IS NULL AND e.geom IS NOT NULL
                   AND ($1::text IS NULL OR e.estado_disponibilidad = $1::estado_disponibilidad)
                   AND ($2::text IS NULL OR e.unidad = $2)
                   AND ST_DWithin(e.geom, {pt}, $7)
                 ORDER BY e.geom <-> {pt}, e.id OFFSET $3 LIMIT $4"
            );
            sqlx::query_as::<_, EfectivoRow>(&sql)
                .bind(estado)
                .bind(f.unidad)
                .bind(f.skip)
                .bind(f.limit)
                .bind(lng)
                .bind(lat)
                .bind(radius)
                .fetch_all(exec)
                .await
        }
    }
}

/// One stored position.
#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PuntoTrayecto {
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: Option<f64>,
    pub heading: Option<f64>,
    pub speed: Option<f64>,
    #[serde(serialize_with = "crate::time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: DateTime<Utc>,
}

/// Is there a live (not deleted) efectivo with this id?
pub async fn exists(db: &sqlx::PgPool, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM efectivos WHERE id = $1 AND deleted_at IS NULL)",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

/// Current unit status, with the row locked for a transition.
pub async fn lock_status(
    db: &mut sqlx::PgConnection,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT estado_disponibilidad::text FROM efectivos WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}
