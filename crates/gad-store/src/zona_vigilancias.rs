//! Patrols kept in their cuadrante: the officers watched (`zona_vigilancias`), their exits and
//! returns, and the alert rows those raise. The watched set is recomputed by each pass of the
//! zone watch job; an exit's state changes only under the row's lock, so an exit is alerted once
//! and a return once whatever the number of instances.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgExecutor};

/// Recomputes the watched officers: the cuadrante of the most recent open task each is assigned
/// to that names one, else of their current shift (not clocked out, not cancelled) that names
/// one. A changed assignment starts over (inside, not alerted); an officer no longer on one is
/// dropped. Returns the officers now watched.
pub async fn sync(conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query(
        "WITH want AS (
            SELECT DISTINCT ON (efectivo_id) efectivo_id, zona_id, tarea_id, turno_id
              FROM (SELECT e.efectivo_id, t.cuadrante_id AS zona_id, t.id AS tarea_id,
                           NULL::bigint AS turno_id, 0 AS prio, t.id AS orden
                      FROM tareas t CROSS JOIN LATERAL unnest(t.efectivos_asignados) AS e(efectivo_id)
                     WHERE t.cuadrante_id IS NOT NULL AND t.deleted_at IS NULL
                       AND t.estado IN ('PROGRAMMED', 'IN_PROGRESS', 'PAUSED')
                    UNION ALL
                    SELECT tu.efectivo_id, tu.zona_id, NULL, tu.id, 1, tu.id
                      FROM turnos tu JOIN zonas z ON z.id = tu.zona_id AND z.tipo = 'cuadrante'
                     WHERE tu.zona_id IS NOT NULL AND tu.inicio <= now() AND tu.fin > now()
                       AND tu.cancelado_por_licencia IS NULL AND tu.egreso_at IS NULL) c
              JOIN efectivos ef ON ef.id = c.efectivo_id AND ef.deleted_at IS NULL
             ORDER BY efectivo_id, prio, orden DESC),
         gone AS (
            DELETE FROM zona_vigilancias v
             WHERE NOT EXISTS (SELECT 1 FROM want w WHERE w.efectivo_id = v.efectivo_id))
         INSERT INTO zona_vigilancias (efectivo_id, zona_id, tarea_id, turno_id)
         SELECT w.efectivo_id, w.zona_id, w.tarea_id, w.turno_id
           FROM want w LEFT JOIN zona_vigilancias v ON v.efectivo_id = w.efectivo_id
          -- Only what is new or changed: an upsert locks the rows it meets, and the unchanged
          -- ones are the ingest path's to lock.
          WHERE v.efectivo_id IS NULL
             OR (v.zona_id, v.tarea_id, v.turno_id) IS DISTINCT FROM (w.zona_id, w.tarea_id, w.turno_id)
         ON CONFLICT (efectivo_id) DO UPDATE
            SET zona_id = EXCLUDED.zona_id, tarea_id = EXCLUDED.tarea_id,
                turno_id = EXCLUDED.turno_id, fuera_desde = NULL, alertado = false, desde = now()
          WHERE (zona_vigilancias.zona_id, zona_vigilancias.tarea_id, zona_vigilancias.turno_id)
                IS DISTINCT FROM (EXCLUDED.zona_id, EXCLUDED.tarea_id, EXCLUDED.turno_id)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT efectivo_id FROM zona_vigilancias ORDER BY efectivo_id")
        .fetch_all(&mut *conn)
        .await
}

/// A watched officer, locked, with what an alert about them says.
#[derive(Debug, Clone, FromRow)]
pub struct Vigilancia {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub codigo_interno: String,
    pub zona_id: i64,
    pub zona_nombre: String,
    /// The cuadrante's comisaría (whose supervisors are told).
    pub comisaria_id: Option<i64>,
    pub tarea_id: Option<i64>,
    pub turno_id: Option<i64>,
    pub fuera_desde: Option<DateTime<Utc>>,
    pub alertado: bool,
    /// The database's clock (the delay is measured by it, the same for every instance).
    pub ahora: DateTime<Utc>,
    /// Whether the point asked about lies in the cuadrante (boundary included); false when no
    /// point was given.
    pub dentro: bool,
}

const VIGILANCIA: &str = "v.efectivo_id, ef.usuario_id, ef.codigo_interno, v.zona_id,
    z.nombre AS zona_nombre, CASE WHEN z.tipo = 'comisaria' THEN z.id ELSE z.padre_id END AS comisaria_id,
    v.tarea_id, v.turno_id, v.fuera_desde, v.alertado, now() AS ahora";

/// Locks an officer's watch row (waiting for another instance's fix of the same officer) and
/// says whether (`lat`, `lng`) is inside the cuadrante; None when the officer is not watched.
pub async fn lock_at(
    conn: &mut PgConnection,
    efectivo_id: i64,
    lat: f64,
    lng: f64,
) -> Result<Option<Vigilancia>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VIGILANCIA},
                ST_Covers(z.geom, ST_SetSRID(ST_MakePoint($3, $2), 4326)) AS dentro
           FROM zona_vigilancias v
           JOIN zonas z ON z.id = v.zona_id
           JOIN efectivos ef ON ef.id = v.efectivo_id
          WHERE v.efectivo_id = $1
            FOR UPDATE OF v"
    ))
    .bind(efectivo_id)
    .bind(lat)
    .bind(lng)
    .fetch_optional(conn)
    .await
}

/// Exits whose delay elapsed and that nobody alerted yet, locked (rows another instance holds
/// are skipped: it is deciding them).
pub async fn claim_due(
    conn: &mut PgConnection,
    demora_secs: f64,
    limit: i64,
) -> Result<Vec<Vigilancia>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VIGILANCIA}, false AS dentro
           FROM zona_vigilancias v
           JOIN zonas z ON z.id = v.zona_id
           JOIN efectivos ef ON ef.id = v.efectivo_id
          WHERE v.fuera_desde IS NOT NULL AND NOT v.alertado
            AND v.fuera_desde <= now() - make_interval(secs => $1)
          ORDER BY v.fuera_desde
          LIMIT $2
            FOR UPDATE OF v SKIP LOCKED"
    ))
    .bind(demora_secs)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Writes a watch row's state (the row is locked by the caller's transaction).
pub async fn set_state(
    conn: &mut PgConnection,
    efectivo_id: i64,
    fuera_desde: Option<DateTime<Utc>>,
    alertado: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE zona_vigilancias SET fuera_desde = $2, alertado = $3 WHERE efectivo_id = $1",
    )
    .bind(efectivo_id)
    .bind(fuera_desde)
    .bind(alertado)
    .execute(conn)
    .await?;
    Ok(())
}

/// An alert row of an exit or a return. A return is informative: it is recorded already seen,
/// so only exits wait in the pending list.
#[derive(Debug, Clone, FromRow)]
pub struct AlertaZona {
    pub id: i64,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_alerta(
    conn: &mut PgConnection,
    kind: &str,
    severity: &str,
    visto: bool,
    tarea_id: Option<i64>,
    efectivo_id: i64,
    payload: &Value,
) -> Result<AlertaZona, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO alertas (kind, severity, tarea_id, efectivo_id, payload, visto_at)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)
         RETURNING id, created_at",
    )
    .bind(kind)
    .bind(severity)
    .bind(tarea_id)
    .bind(efectivo_id)
    .bind(payload)
    .bind(visto)
    .fetch_one(conn)
    .await
}

/// A task's exits and returns, for its timeline.
#[derive(Debug, Clone, FromRow)]
pub struct AlertaTarea {
    pub id: i64,
    pub kind: String,
    pub efectivo_id: Option<i64>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

pub async fn of_task<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<AlertaTarea>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, efectivo_id, payload, created_at FROM alertas
          WHERE tarea_id = $1 AND kind IN ('zona_salida', 'zona_entrada')
          ORDER BY created_at, id",
    )
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

/// Whether `id` names a cuadrante.
pub async fn is_cuadrante<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM zonas WHERE id = $1 AND tipo = 'cuadrante')")
        .bind(id)
        .fetch_one(exec)
        .await
}
