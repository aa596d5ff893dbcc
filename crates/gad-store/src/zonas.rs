//! Jurisdictions (`zonas`): comisarías, cuadrantes and other zones as multipolygons, the
//! containing-zone lookup (GiST on `geom`, smallest first by the stored `area_m2`) and the
//! supervisors' assignments (`usuario_zonas`). A geometry travels as GeoJSON text both ways,
//! with 15 decimals out so an export re-imports to the same coordinates.

use chrono::{DateTime, Utc};
use gad_core::TipoZona;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgExecutor;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

/// A zone on the wire.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Zona {
    pub id: i64,
    pub nombre: String,
    pub tipo: TipoZona,
    /// The comisaría a cuadrante (or another zone) belongs to; null for a comisaría.
    pub padre_id: Option<i64>,
    /// GeoJSON MultiPolygon, WGS84 ([lng, lat]).
    #[schema(value_type = Object)]
    pub geometria: Value,
    /// Area in square metres (on the spheroid).
    pub area_m2: f64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: DateTime<Utc>,
}

impl<'r> FromRow<'r, PgRow> for Zona {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let tipo: &str = row.try_get("tipo")?;
        Ok(Zona {
            id: row.try_get("id")?,
            nombre: row.try_get("nombre")?,
            tipo: TipoZona::from_db(tipo).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "tipo".into(),
                source: format!("unexpected zone type {tipo:?}").into(),
            })?,
            padre_id: row.try_get("padre_id")?,
            geometria: row.try_get::<sqlx::types::Json<Value>, _>("geometria")?.0,
            area_m2: row.try_get("area_m2")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

const COLUMNS: &str =
    "z.id, z.nombre, z.tipo, z.padre_id, ST_AsGeoJSON(z.geom, 15)::json AS geometria,
    z.area_m2, z.created_at, z.updated_at";

/// The input geometry as stored: a MultiPolygon in SRID 4326.
const GEOM: &str = "ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($1::text), 4326))";

/// What the store learned about a candidate geometry before writing it.
#[derive(Debug, FromRow)]
pub struct GeomCheck {
    /// `ST_IsValidReason` when the geometry is not valid.
    pub invalid_reason: Option<String>,
    /// The parent's type, when a parent was named and exists.
    pub padre_tipo: Option<String>,
    /// Whether the parent covers the geometry (None without a parent).
    pub inside_padre: Option<bool>,
    /// Children (of the zone being replaced) the new geometry would leave outside.
    pub hijos_fuera: i64,
}

/// Checks a GeoJSON geometry (already well formed) against PostGIS validity, the parent's
/// outline and, for an update, its children's outlines. Read-only; a PostGIS parse failure is
/// an error the caller answers as a malformed geometry.
pub async fn check_geometry<'e, E: PgExecutor<'e>>(
    exec: E,
    geojson: &str,
    padre_id: Option<i64>,
    zona_id: Option<i64>,
) -> Result<GeomCheck, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH g AS (SELECT {GEOM} AS geom)
         SELECT CASE WHEN ST_IsValid(g.geom) THEN NULL ELSE ST_IsValidReason(g.geom) END AS invalid_reason,
                p.tipo AS padre_tipo,
                CASE WHEN p.id IS NULL OR NOT ST_IsValid(g.geom) THEN NULL
                     ELSE ST_Covers(p.geom, g.geom) END AS inside_padre,
                CASE WHEN NOT ST_IsValid(g.geom) THEN 0 ELSE
                    (SELECT count(*) FROM zonas c
                      WHERE c.padre_id = $3 AND NOT ST_Covers(g.geom, c.geom)) END AS hijos_fuera
           FROM g LEFT JOIN zonas p ON p.id = $2"
    ))
    .bind(geojson)
    .bind(padre_id)
    .bind(zona_id)
    .fetch_one(exec)
    .await
}

/// What a write sets.
pub struct ZonaFields<'a> {
    pub nombre: &'a str,
    pub tipo: TipoZona,
    pub padre_id: Option<i64>,
    /// GeoJSON text of a valid Polygon/MultiPolygon.
    pub geojson: &'a str,
}

pub async fn insert<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &ZonaFields<'_>,
) -> Result<Zona, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH z AS (
            INSERT INTO zonas (nombre, tipo, padre_id, geom, area_m2)
            SELECT $2, $3, $4, g, ST_Area(g::geography) FROM {GEOM} AS g
            RETURNING *)
         SELECT {COLUMNS} FROM z"
    ))
    .bind(f.geojson)
    .bind(f.nombre)
    .bind(f.tipo.as_db())
    .bind(f.padre_id)
    .fetch_one(exec)
    .await
}

pub async fn update<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    f: &ZonaFields<'_>,
) -> Result<Option<Zona>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH z AS (
            UPDATE zonas SET nombre = $2, tipo = $3, padre_id = $4, geom = g,
                area_m2 = ST_Area(g::geography), updated_at = now()
              FROM {GEOM} AS g
             WHERE id = $5
            RETURNING zonas.*)
         SELECT {COLUMNS} FROM z"
    ))
    .bind(f.geojson)
    .bind(f.nombre)
    .bind(f.tipo.as_db())
    .bind(f.padre_id)
    .bind(id)
    .fetch_optional(exec)
    .await
}

/// Deletes a zone; one with children is a violation of `zonas_padre_id_fkey`, one assigned to a
/// supervisor of `usuario_zonas_zona_id_fkey`.
pub async fn delete<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<Option<Zona>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH z AS (DELETE FROM zonas WHERE id = $1 RETURNING *) SELECT {COLUMNS} FROM z"
    ))
    .bind(id)
    .fetch_optional(exec)
    .await
}

pub async fn get<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<Option<Zona>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM zonas z WHERE z.id = $1"))
        .bind(id)
        .fetch_optional(exec)
        .await
}

/// Whether a zone has children.
pub async fn has_children<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM zonas WHERE padre_id = $1)")
        .bind(id)
        .fetch_one(exec)
        .await
}

/// Every zone, parents before children (comisarías first), then by id; optionally one type.
pub async fn list<'e, E: PgExecutor<'e>>(
    exec: E,
    tipo: Option<TipoZona>,
) -> Result<Vec<Zona>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM zonas z WHERE ($1::text IS NULL OR z.tipo = $1)
          ORDER BY (z.padre_id IS NOT NULL), z.id"
    ))
    .bind(tipo.map(TipoZona::as_db))
    .fetch_all(exec)
    .await
}

/// The zones containing a point (boundary included), smallest first.
pub async fn containing<'e, E: PgExecutor<'e>>(
    exec: E,
    lat: f64,
    lng: f64,
) -> Result<Vec<Zona>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM zonas z
          WHERE ST_Covers(z.geom, ST_SetSRID(ST_MakePoint($2, $1), 4326))
          ORDER BY z.area_m2, z.id"
    ))
    .bind(lat)
    .bind(lng)
    .fetch_all(exec)
    .await
}

/// The whole layer as one GeoJSON FeatureCollection (properties `id`, `nombre`, `tipo`,
/// `padre_id`, `padre`: the parent's name), parents first. Built by PostgreSQL so the
/// coordinates are written once, at full precision.
pub async fn feature_collection<'e, E: PgExecutor<'e>>(exec: E) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT json_build_object('type', 'FeatureCollection', 'features',
                COALESCE(json_agg(json_build_object(
                    'type', 'Feature',
                    'properties', json_build_object('id', z.id, 'nombre', z.nombre, 'tipo', z.tipo,
                                                    'padre_id', z.padre_id, 'padre', p.nombre),
                    'geometry', ST_AsGeoJSON(z.geom, 15)::json)
                  ORDER BY (z.padre_id IS NOT NULL), z.id), '[]'::json))::text
           FROM zonas z LEFT JOIN zonas p ON p.id = z.padre_id",
    )
    .fetch_one(exec)
    .await
}

/// Looks a zone up by name (the import's `padre`): the oldest of that name.
pub async fn id_by_name<'e, E: PgExecutor<'e>>(
    exec: E,
    nombre: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM zonas WHERE nombre = $1 ORDER BY id LIMIT 1")
        .bind(nombre)
        .fetch_optional(exec)
        .await
}

// ---------------------------------------------------------------------------------------------
// Supervisors' jurisdictions

/// The zones assigned to a user, by id.
pub async fn of_user<'e, E: PgExecutor<'e>>(
    exec: E,
    usuario_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT zona_id FROM usuario_zonas WHERE usuario_id = $1 ORDER BY zona_id")
        .bind(usuario_id)
        .fetch_all(exec)
        .await
}

/// Replaces a user's zones.
pub async fn set_user_zones(
    conn: &mut sqlx::PgConnection,
    usuario_id: i64,
    zona_ids: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM usuario_zonas WHERE usuario_id = $1")
        .bind(usuario_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO usuario_zonas (usuario_id, zona_id)
         SELECT $1, unnest($2::int8[]) ON CONFLICT DO NOTHING",
    )
    .bind(usuario_id)
    .bind(zona_ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Which of `ids` are comisarías.
pub async fn comisarias_among<'e, E: PgExecutor<'e>>(
    exec: E,
    ids: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM zonas WHERE id = ANY($1) AND tipo = 'comisaria'")
        .bind(ids)
        .fetch_all(exec)
        .await
}

/// Whether some supervisor is assigned this zone.
pub async fn is_assigned<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM usuario_zonas WHERE zona_id = $1)")
        .bind(id)
        .fetch_one(exec)
        .await
}

/// Level-2 users with assignments that leave `comisaria_id` out, when some active level-2 user
/// is assigned it (otherwise none: the incident is nobody's, so everybody's).
pub async fn supervisors_elsewhere<'e, E: PgExecutor<'e>>(
    exec: E,
    comisaria_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH sup AS (
            SELECT uz.usuario_id, bool_or(uz.zona_id = $1) AS cubre
              FROM usuario_zonas uz JOIN usuarios u ON u.id = uz.usuario_id
             WHERE u.nivel = 'LEVEL_2' AND u.deleted_at IS NULL
             GROUP BY uz.usuario_id)
         SELECT usuario_id FROM sup
          WHERE NOT cubre AND EXISTS (SELECT 1 FROM sup WHERE cubre)
          ORDER BY usuario_id",
    )
    .bind(comisaria_id)
    .fetch_all(exec)
    .await
}

/// How many zones exist.
pub async fn count<'e, E: PgExecutor<'e>>(exec: E) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM zonas")
        .fetch_one(exec)
        .await
}
