//! The supervisors' overview (contract §9): one query, one shape, used by
//! `GET /api/v1/stats/overview` and the socket's `dashboard_update` alike.

use gad_core::geo::round2;
use gad_core::{EstadoDisponibilidad, EstadoTarea, Prioridad, TipoTarea};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;

#[derive(sqlx::FromRow)]
struct OverviewRow {
    por_estado: Value,
    por_tipo: Value,
    por_prioridad: Value,
    por_disponibilidad: Value,
    con_ubicacion: i64,
    emergencias_24h: i64,
    mediana: Option<f64>,
}

/// Maps `{db_label: n}` to `{key(label): n}` with every known label present (0 when absent).
fn relabel<'a>(
    counts: &Value,
    labels: impl Iterator<Item = (&'a str, String)>,
) -> BTreeMap<String, i64> {
    labels
        .map(|(db, key)| (key, counts.get(db).and_then(Value::as_i64).unwrap_or(0)))
        .collect()
}

/// The overview (`GET /stats/overview`, socket `dashboard_update`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Overview {
    pub tareas: TareasResumen,
    pub efectivos: EfectivosResumen,
    /// Emergencies created in the last 24 hours.
    pub emergencias_24h: i64,
    /// Median distance (m) from the report to the dispatched officer over those emergencies.
    pub distancia_mediana_emergencias_m: Option<f64>,
    pub calculated_at: String,
}

/// Live tasks by estado (wire values), tipo (wire values) and prioridad (labels BAJA…CRITICA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TareasResumen {
    pub por_estado: BTreeMap<String, i64>,
    pub por_tipo: BTreeMap<String, i64>,
    pub por_prioridad: BTreeMap<String, i64>,
}

/// Live efectivos by availability (wire values), and how many have a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EfectivosResumen {
    pub por_disponibilidad: BTreeMap<String, i64>,
    pub con_ubicacion: i64,
}

/// Counts of live tasks by estado, tipo and prioridad; efectivos by availability and located;
/// emergencies of the last 24 h and their median dispatch distance.
pub async fn overview(db: &PgPool) -> Result<Overview, sqlx::Error> {
    overview_in(db, &Alcance::default()).await
}

/// Which part of the city an overview counts. Tasks: `zona_id` keeps those whose `zona_id` or
/// `comisaria_id` is it; `comisarias` (a supervisor's jurisdiction) keeps theirs and those
/// outside every comisaría, as the task list does. Officers, by their last position: inside
/// `zona_id`; with `comisarias`, those not inside another comisaría (theirs, outside every
/// one, or without a position).
#[derive(Debug, Clone, Default)]
pub struct Alcance {
    pub zona_id: Option<i64>,
    pub comisarias: Option<Vec<i64>>,
}

/// The overview of one part of the city.
pub async fn overview_in(db: &PgPool, alcance: &Alcance) -> Result<Overview, sqlx::Error> {
    let r: OverviewRow = sqlx::query_as(
        "WITH scoped AS (
                SELECT estado, tipo, prioridad, es_emergencia, created_at, extra_data FROM tareas
                WHERE deleted_at IS NULL
                  AND ($1::bigint IS NULL OR zona_id = $1 OR comisaria_id = $1)
                  AND ($2::bigint[] IS NULL OR comisaria_id IS NULL OR comisaria_id = ANY($2))),
              live AS (SELECT estado, tipo, prioridad FROM scoped),
              emg AS (
                SELECT CASE WHEN jsonb_typeof(extra_data->'distance_m') = 'number'
                            THEN (extra_data->>'distance_m')::float8 END AS d
                FROM scoped
                WHERE es_emergencia AND created_at >= now() - interval '24 hours'),
              ef AS (
                SELECT e.estado_disponibilidad, e.geom FROM efectivos e
                WHERE e.deleted_at IS NULL
                  AND ($1::bigint IS NULL OR EXISTS (
                        SELECT 1 FROM zonas z WHERE z.id = $1 AND ST_Covers(z.geom, e.geom::geometry)))
                  AND ($2::bigint[] IS NULL OR e.geom IS NULL OR NOT EXISTS (
                        SELECT 1 FROM zonas z
                        WHERE z.tipo = 'comisaria' AND NOT (z.id = ANY($2))
                          AND ST_Covers(z.geom, e.geom::geometry))))
         SELECT
           (SELECT COALESCE(jsonb_object_agg(k, n), '{}') FROM
              (SELECT estado::text AS k, count(*) AS n FROM live GROUP BY 1) s) AS por_estado,
           (SELECT COALESCE(jsonb_object_agg(k, n), '{}') FROM
              (SELECT tipo::text AS k, count(*) AS n FROM live GROUP BY 1) s) AS por_tipo,
           (SELECT COALESCE(jsonb_object_agg(k, n), '{}') FROM
              (SELECT prioridad::text AS k, count(*) AS n FROM live GROUP BY 1) s) AS por_prioridad,
           (SELECT COALESCE(jsonb_object_agg(k, n), '{}') FROM
              (SELECT estado_disponibilidad::text AS k, count(*) AS n FROM ef GROUP BY 1) s) AS por_disponibilidad,
           (SELECT count(*) FROM ef WHERE geom IS NOT NULL) AS con_ubicacion,
           (SELECT count(*) FROM emg) AS emergencias_24h,
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FROM emg WHERE d IS NOT NULL) AS mediana",
    )
    .bind(alcance.zona_id)
    .bind(alcance.comisarias.as_deref())
    .fetch_one(db)
    .await?;
    Ok(Overview {
        tareas: TareasResumen {
            por_estado: relabel(
                &r.por_estado,
                EstadoTarea::ALL
                    .iter()
                    .map(|e| (e.as_db(), e.as_wire().to_string())),
            ),
            por_tipo: relabel(
                &r.por_tipo,
                TipoTarea::ALL
                    .iter()
                    .map(|e| (e.as_db(), e.as_wire().to_string())),
            ),
            por_prioridad: relabel(
                &r.por_prioridad,
                Prioridad::ALL
                    .iter()
                    .map(|e| (e.as_db(), e.label().to_string())),
            ),
        },
        efectivos: EfectivosResumen {
            por_disponibilidad: relabel(
                &r.por_disponibilidad,
                EstadoDisponibilidad::ALL
                    .iter()
                    .map(|e| (e.as_db(), e.as_wire().to_string())),
            ),
            con_ubicacion: r.con_ubicacion,
        },
        emergencias_24h: r.emergencias_24h,
        distancia_mediana_emergencias_m: r.mediana.map(round2),
        calculated_at: gad_core::time::now_rfc3339(),
    })
}

/// Counts of the tasks delegated to a user over the last `days`, and whether the user exists.
#[derive(sqlx::FromRow)]
pub struct UserStatsRow {
    pub user_exists: bool,
    pub total: i64,
    pub completadas: i64,
    pub en_progreso: i64,
    pub programadas: i64,
    pub canceladas: i64,
    pub pausadas: i64,
    pub promedio: Option<f64>,
}

pub async fn user_stats<'e, E: sqlx::PgExecutor<'e>>(
    exec: E,
    user_id: i64,
    days: i64,
) -> Result<UserStatsRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM usuarios WHERE id = $1 AND deleted_at IS NULL) AS user_exists,
                count(t.id) AS total,
                count(t.id) FILTER (WHERE t.estado = 'COMPLETED') AS completadas,
                count(t.id) FILTER (WHERE t.estado = 'IN_PROGRESS') AS en_progreso,
                count(t.id) FILTER (WHERE t.estado = 'PROGRAMMED') AS programadas,
                count(t.id) FILTER (WHERE t.estado = 'CANCELLED') AS canceladas,
                count(t.id) FILTER (WHERE t.estado = 'PAUSED') AS pausadas,
                (avg(t.duracion_real_horas) FILTER (WHERE t.estado = 'COMPLETED'))::float8 AS promedio
         FROM (SELECT 1) one
         LEFT JOIN tareas t ON t.delegado_usuario_id = $1 AND t.deleted_at IS NULL
              AND t.created_at >= now() - make_interval(days => $2::int)",
    )
    .bind(user_id)
    .bind(days as i32)
    .fetch_one(exec)
    .await
}
