//! Reports: the response-time report's rows (one per emergency, times from the recorded
//! dispatch events), its aggregates (computed here, in SQL), and the audit look-ups behind
//! `gad reportes verificar`.
//!
//! Every time comes from a recorded event, never an estimate: received is the task's
//! `created_at`, dispatched the first `despachos.asignado_at`, accepted the first acceptance
//! (`respondido_at` of an `ACEPTADO` dispatch), arrived the first `llegada_at` (`en_escena`,
//! reported or detected), closed the incident's `cerrada_at`.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::PgExecutor;

/// Which emergencies a report covers: created in `[desde, hasta)`, and the optional filters.
#[derive(Debug, Clone)]
pub struct Filtro {
    pub desde: DateTime<Utc>,
    pub hasta: DateTime<Utc>,
    pub zona_id: Option<i64>,
    pub tipo_incidente: Option<String>,
    pub prioridad: Option<i16>,
}

/// The emergencies of the range with their event times (binds $1–$5 of [`Filtro`]). Deleted
/// emergencies are left out.
const FILAS: &str = "
    f AS (
        SELECT t.id AS task_id, t.nro_incidente, t.created_at AS recibida,
               d.despachada, d.aceptada, d.llegada, t.cerrada_at AS cerrada,
               COALESCE(d.efectivos, '{}') AS efectivos, t.tipo_incidente,
               t.prioridad_incidente AS prioridad, t.zona_id, t.codigo_cierre
        FROM tareas t
        LEFT JOIN LATERAL (
            SELECT min(dp.asignado_at) AS despachada,
                   min(dp.respondido_at) FILTER (WHERE dp.estado = 'ACEPTADO') AS aceptada,
                   min(dp.llegada_at) AS llegada,
                   array_agg(e.codigo_interno ORDER BY dp.respondido_at, dp.efectivo_id)
                       FILTER (WHERE dp.estado = 'ACEPTADO') AS efectivos
            FROM despachos dp JOIN efectivos e ON e.id = dp.efectivo_id
            WHERE dp.tarea_id = t.id
        ) d ON true
        WHERE t.es_emergencia AND t.deleted_at IS NULL
          AND t.created_at >= $1 AND t.created_at < $2
          AND ($3::int8 IS NULL OR t.zona_id = $3)
          AND ($4::text IS NULL OR t.tipo_incidente = $4)
          AND ($5::int2 IS NULL OR t.prioridad_incidente = $5)
    )";

/// One emergency of the response report. Durations in seconds, null when either end did not
/// happen.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct FilaRespuesta {
    pub task_id: i64,
    pub nro_incidente: Option<String>,
    /// Received: the emergency was raised (RFC 3339).
    #[serde(serialize_with = "gad_core::time::ser")]
    pub recibida: DateTime<Utc>,
    /// First dispatch of an officer.
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub despachada: Option<DateTime<Utc>>,
    /// First acceptance of a dispatch.
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub aceptada: Option<DateTime<Utc>>,
    /// First arrival on scene (`en_escena`).
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub llegada: Option<DateTime<Utc>>,
    /// The incident's closure.
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub cerrada: Option<DateTime<Utc>>,
    pub seg_recibida_despachada: Option<f64>,
    pub seg_despachada_aceptada: Option<f64>,
    pub seg_aceptada_llegada: Option<f64>,
    pub seg_llegada_cerrada: Option<f64>,
    pub seg_recibida_aceptada: Option<f64>,
    pub seg_recibida_llegada: Option<f64>,
    pub seg_recibida_cerrada: Option<f64>,
    /// Internal codes of the officers who accepted, in order of acceptance.
    pub efectivos: Vec<String>,
    pub tipo_incidente: Option<String>,
    pub prioridad: Option<i16>,
    pub zona_id: Option<i64>,
    pub codigo_cierre: Option<String>,
}

fn filas_sql() -> String {
    format!(
        "WITH {FILAS}
         SELECT f.task_id, f.nro_incidente, f.recibida, f.despachada, f.aceptada, f.llegada, f.cerrada,
                EXTRACT(EPOCH FROM f.despachada - f.recibida)::float8 AS seg_recibida_despachada,
                EXTRACT(EPOCH FROM f.aceptada - f.despachada)::float8 AS seg_despachada_aceptada,
                EXTRACT(EPOCH FROM f.llegada - f.aceptada)::float8 AS seg_aceptada_llegada,
                EXTRACT(EPOCH FROM f.cerrada - f.llegada)::float8 AS seg_llegada_cerrada,
                EXTRACT(EPOCH FROM f.aceptada - f.recibida)::float8 AS seg_recibida_aceptada,
                EXTRACT(EPOCH FROM f.llegada - f.recibida)::float8 AS seg_recibida_llegada,
                EXTRACT(EPOCH FROM f.cerrada - f.recibida)::float8 AS seg_recibida_cerrada,
                f.efectivos, f.tipo_incidente, f.prioridad, f.zona_id, f.codigo_cierre
         FROM f ORDER BY f.recibida, f.task_id"
    )
}

fn bind_filtro<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    f: &'q Filtro,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    q.bind(f.desde)
        .bind(f.hasta)
        .bind(f.zona_id)
        .bind(f.tipo_incidente.as_deref())
        .bind(f.prioridad)
}

/// The rows, oldest first.
pub async fn filas<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &Filtro,
) -> Result<Vec<FilaRespuesta>, sqlx::Error> {
    let sql = filas_sql();
    bind_filtro(sqlx::query_as(&sql), f).fetch_all(exec).await
}

/// The rows, oldest first, one at a time (the CSV is streamed with flat memory).
pub fn filas_stream<'a, E: PgExecutor<'a> + 'a>(
    exec: E,
    f: &'a Filtro,
    sql: &'a str,
) -> BoxStream<'a, Result<FilaRespuesta, sqlx::Error>> {
    bind_filtro(sqlx::query_as(sql), f).fetch(exec)
}

/// The SQL of [`filas_stream`] (the stream borrows it).
pub fn filas_stream_sql() -> String {
    filas_sql()
}

/// One aggregate of the response report: its dimension (`total`, `prioridad`, `tipo`, `zona`,
/// `hora`, `dia_semana`), its key, the count, median and 90th percentile of received→accepted
/// and received→arrived (over the emergencies where it happened), and how many arrived within
/// their priority's target.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Agregado {
    pub dimension: String,
    pub clave: Option<String>,
    pub cantidad: i64,
    pub con_aceptacion: i64,
    pub con_llegada: i64,
    pub mediana_aceptacion_seg: Option<f64>,
    pub p90_aceptacion_seg: Option<f64>,
    pub mediana_llegada_seg: Option<f64>,
    pub p90_llegada_seg: Option<f64>,
    pub dentro_sla: i64,
}

/// Every aggregate in one pass (grouping sets). Hours of day (0–23) and ISO days of week
/// (1 Monday … 7 Sunday) are read in `zona` (an IANA name). `sla_minutos[p - 1]` is
/// priority p's arrival target. Ordered by dimension, then key.
pub async fn agregados<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &Filtro,
    zona: &str,
    sla_minutos: &[i32; 5],
) -> Result<Vec<Agregado>, sqlx::Error> {
    let sql = format!(
        "WITH {FILAS},
         g AS (
            SELECT f.prioridad, f.tipo_incidente, f.zona_id,
                   EXTRACT(HOUR FROM f.recibida AT TIME ZONE $6)::int AS hora,
                   EXTRACT(ISODOW FROM f.recibida AT TIME ZONE $6)::int AS dia,
                   EXTRACT(EPOCH FROM f.aceptada - f.recibida)::float8 AS sa,
                   EXTRACT(EPOCH FROM f.llegada - f.recibida)::float8 AS sl
            FROM f)
         SELECT CASE WHEN GROUPING(prioridad) = 0 THEN 'prioridad'
                     WHEN GROUPING(tipo_incidente) = 0 THEN 'tipo'
                     WHEN GROUPING(zona_id) = 0 THEN 'zona'
                     WHEN GROUPING(hora) = 0 THEN 'hora'
                     WHEN GROUPING(dia) = 0 THEN 'dia_semana'
                     ELSE 'total' END AS dimension,
                COALESCE(prioridad::text, tipo_incidente, zona_id::text, hora::text, dia::text) AS clave,
                count(*) AS cantidad, count(sa) AS con_aceptacion, count(sl) AS con_llegada,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY sa) AS mediana_aceptacion_seg,
                percentile_cont(0.9) WITHIN GROUP (ORDER BY sa) AS p90_aceptacion_seg,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY sl) AS mediana_llegada_seg,
                percentile_cont(0.9) WITHIN GROUP (ORDER BY sl) AS p90_llegada_seg,
                count(*) FILTER (WHERE sl <= ($7::int4[])[prioridad] * 60) AS dentro_sla
         FROM g
         GROUP BY GROUPING SETS ((), (prioridad), (tipo_incidente), (zona_id), (hora), (dia))
         ORDER BY GROUPING(prioridad), GROUPING(tipo_incidente), GROUPING(zona_id), GROUPING(hora),
                  GROUPING(dia), prioridad, tipo_incidente, zona_id, hora, dia"
    );
    bind_filtro(sqlx::query_as(&sql), f)
        .bind(zona)
        .bind(sla_minutos.to_vec())
        .fetch_all(exec)
        .await
}

/// Is there a `report_generated` audit entry whose report hash is `sha256`?
pub async fn generated_with_hash<'e, E: PgExecutor<'e>>(
    exec: E,
    sha256: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_logs
                        WHERE event_type = 'report_generated' AND new_values->>'sha256' = $1)",
    )
    .bind(sha256)
    .fetch_one(exec)
    .await
}
