//! Queries on the efectivos aggregate.
//!
//! Locations are stored as `geography(Point,4326)`; lat/lng are read back with
//! `ST_Y/ST_X(geom::geometry)` and distances come from `ST_Distance` on the geography (spheroid).

use chrono::{DateTime, Utc};
use gad_core::EstadoDisponibilidad;
use gad_core::geo::round2;
use serde_json::Value;
use sqlx::PgExecutor;

use crate::nearest::{NearestSql, Order, nearest_first};

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

impl EfectivoRow {
    pub fn estado_wire(&self) -> &'static str {
        EstadoDisponibilidad::from_db(&self.estado)
            .map(|e| e.as_wire())
            .unwrap_or("no_disponible")
    }

    /// The Efectivo wire object (contract §7).
    pub fn to_wire(&self) -> Efectivo {
        let ubicacion = match (self.lat, self.lng) {
            (Some(lat), Some(lng)) => Some(Ubicacion {
                lat,
                lng,
                accuracy_m: self.accuracy_m,
                heading: self.heading,
                speed: self.speed,
                updated_at: self.ubicacion_updated_at,
            }),
            _ => None,
        };
        Efectivo {
            id: self.id,
            uuid: self.uuid,
            usuario_id: self.usuario_id,
            codigo_interno: self.codigo_interno.clone(),
            rango: self.rango.clone(),
            unidad: self.unidad.clone(),
            especialidad: self.especialidad.clone(),
            estado_disponibilidad: EstadoDisponibilidad::from_db(&self.estado)
                .unwrap_or(EstadoDisponibilidad::NoDisponible),
            ultima_actualizacion_estado: self.ultima_actualizacion_estado,
            ubicacion,
            nombre: self.nombre.clone(),
            apellido: self.apellido.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
            distance_m: self.distance_m.map(round2),
        }
    }

    /// The wire object as JSON (audit rows and events).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.to_wire()).unwrap_or(Value::Null)
    }
}

/// The Efectivo wire object (contract §7).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Efectivo {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub usuario_id: i64,
    pub codigo_interno: String,
    pub rango: Option<String>,
    pub unidad: Option<String>,
    pub especialidad: Option<String>,
    pub estado_disponibilidad: EstadoDisponibilidad,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub ultima_actualizacion_estado: DateTime<Utc>,
    /// The last reported position; null until the officer reports one.
    pub ubicacion: Option<Ubicacion>,
    pub nombre: String,
    pub apellido: String,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Metres from the search point (only in `near_lat`/`near_lng` searches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

/// An officer's last reported position.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Ubicacion {
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: Option<f64>,
    pub heading: Option<f64>,
    pub speed: Option<f64>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub updated_at: Option<DateTime<Utc>>,
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

pub async fn list(db: &sqlx::PgPool, f: &ListFilter<'_>) -> Result<Vec<EfectivoRow>, sqlx::Error> {
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
                .fetch_all(db)
                .await
        }
        Some((lat, lng, radius)) => {
            let pt = point_sql(5, 6);
            let sql = NearestSql::new(|order: Order| {
                let nearest = order.key("e.geom", &pt);
                format!(
                    "SELECT {EFECTIVO_COLUMNS}, ST_Distance(e.geom, {pt}) AS distance_m
                 FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
                 WHERE e.deleted_at IS NULL AND e.geom IS NOT NULL
                   AND ($1::text IS NULL OR e.estado_disponibilidad = $1::estado_disponibilidad)
                   AND ($2::text IS NULL OR e.unidad = $2)
                   AND ST_DWithin(e.geom, {pt}, $7)
                 ORDER BY {nearest}, e.id OFFSET $3 LIMIT $4"
                )
            });
            nearest_first(db, &sql, |q| {
                q.bind(estado)
                    .bind(f.unidad)
                    .bind(f.skip)
                    .bind(f.limit)
                    .bind(lng)
                    .bind(lat)
                    .bind(radius)
            })
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
    #[serde(serialize_with = "gad_core::time::ser")]
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

/// Locks a live usuario (FOR SHARE) so a concurrent soft delete cannot slip in between a check
/// and an insert that points at it; false when the usuario is unknown or deleted.
pub async fn lock_live_usuario(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    usuario_id: i64,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM usuarios WHERE id = $1 AND deleted_at IS NULL FOR SHARE",
    )
    .bind(usuario_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// A new efectivo's fields.
pub struct NewEfectivo<'a> {
    pub usuario_id: i64,
    pub codigo_interno: &'a str,
    pub rango: Option<&'a str>,
    pub unidad: Option<&'a str>,
    pub especialidad: Option<&'a str>,
    pub estado: EstadoDisponibilidad,
}

/// Inserts an efectivo and returns its id.
pub async fn insert<'e, E: PgExecutor<'e>>(
    exec: E,
    e: NewEfectivo<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO efectivos (usuario_id, codigo_interno, rango, unidad, especialidad, estado_disponibilidad)
         VALUES ($1, $2, $3, $4, $5, $6::estado_disponibilidad) RETURNING id",
    )
    .bind(e.usuario_id)
    .bind(e.codigo_interno)
    .bind(e.rango)
    .bind(e.unidad)
    .bind(e.especialidad)
    .bind(e.estado.as_db())
    .fetch_one(exec)
    .await
}

/// A partial update of an efectivo: `None` keeps the stored value.
pub struct EfectivoChanges<'a> {
    pub codigo_interno: Option<&'a str>,
    pub rango: Option<&'a str>,
    pub unidad: Option<&'a str>,
    pub especialidad: Option<&'a str>,
    pub estado: Option<EstadoDisponibilidad>,
}

pub async fn update<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    c: EfectivoChanges<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE efectivos SET codigo_interno = COALESCE($2, codigo_interno), rango = COALESCE($3, rango),
                unidad = COALESCE($4, unidad), especialidad = COALESCE($5, especialidad),
                ultima_actualizacion_estado = CASE WHEN $6::text IS NOT NULL
                    AND estado_disponibilidad <> $6::estado_disponibilidad THEN now() ELSE ultima_actualizacion_estado END,
                estado_disponibilidad = COALESCE($6::estado_disponibilidad, estado_disponibilidad)
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(c.codigo_interno)
    .bind(c.rango)
    .bind(c.unidad)
    .bind(c.especialidad)
    .bind(c.estado.map(|e| e.as_db()))
    .execute(exec)
    .await?;
    Ok(())
}

/// Soft delete; false when unknown or already deleted.
pub async fn soft_delete<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<bool, sqlx::Error> {
    let done: Option<i64> = sqlx::query_scalar(
        "UPDATE efectivos SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id",
    )
    .bind(id)
    .fetch_optional(exec)
    .await?;
    Ok(done.is_some())
}

/// Sets the availability of a live efectivo and returns the previous one (DB label); `None`
/// when unknown or deleted.
pub async fn set_disponibilidad<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    estado: EstadoDisponibilidad,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE efectivos e SET estado_disponibilidad = $2::estado_disponibilidad,
                ultima_actualizacion_estado = now()
         FROM (SELECT id, estado_disponibilidad AS old FROM efectivos
               WHERE id = $1 AND deleted_at IS NULL FOR UPDATE) o
         WHERE e.id = o.id
         RETURNING o.old::text",
    )
    .bind(id)
    .bind(estado.as_db())
    .fetch_optional(exec)
    .await
}

/// Live users of the live efectivos of a unidad (the audience of a unit notification).
pub async fn usuarios_of_unidad<'e, E: PgExecutor<'e>>(
    exec: E,
    unidad: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT e.usuario_id FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE e.unidad = $1 AND e.deleted_at IS NULL AND u.deleted_at IS NULL
         ORDER BY e.usuario_id",
    )
    .bind(unidad)
    .fetch_all(exec)
    .await
}

/// An officer as a person reads them: "Nombre Apellido" and the internal code.
pub async fn display_name<'e, E: PgExecutor<'e>>(
    exec: E,
    efectivo_id: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT u.nombre, u.apellido, e.codigo_interno FROM efectivos e
         JOIN usuarios u ON u.id = e.usuario_id WHERE e.id = $1",
    )
    .bind(efectivo_id)
    .fetch_optional(exec)
    .await?;
    Ok(row.map(|(n, a, c)| (format!("{n} {a}"), c)))
}
