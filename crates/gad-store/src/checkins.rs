//! Officer-safety check-ins: which officers are watched on which incident, when each last
//! reported, the steps of every check-in, and the alerts a supervisor must mark as seen.
//!
//! Watched: an officer accepted on an open emergency (`despachos` ACEPTADO), or assigned to an
//! open task while `en_escena`. The last report of a watched officer is the latest of: the start
//! of the watch (`checkin_relojes.desde`), their notes on the task, task history rows they wrote
//! (state changes, backup requests, self-reported arrivals), their dispatch answer and arrival,
//! and their check-in answers. Nothing else has to remember to "reset the clock".

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

/// (tarea_id, efectivo_id) pairs watched now, as a SELECT (used twice below).
const WATCHED: &str = concat!(
    "SELECT d.tarea_id, d.efectivo_id FROM despachos d
     JOIN tareas t ON t.id = d.tarea_id
     WHERE d.estado = 'ACEPTADO' AND t.deleted_at IS NULL AND t.es_emergencia AND ",
    crate::open_task!("t"),
    " UNION
     SELECT te.tarea_id, te.efectivo_id FROM tarea_efectivos te
     JOIN tareas t ON t.id = te.tarea_id
     JOIN efectivos e ON e.id = te.efectivo_id
     WHERE e.estado_disponibilidad = 'EN_ESCENA' AND e.deleted_at IS NULL
       AND t.deleted_at IS NULL AND ",
    crate::open_task!("t")
);

/// Starts the clock of every newly watched pair and drops the clocks of pairs no longer
/// watched (a later watch starts afresh). Safe to run from several instances at once.
pub async fn sync_watched(db: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO checkin_relojes (tarea_id, efectivo_id)
         SELECT tarea_id, efectivo_id FROM ({WATCHED}) w
         ON CONFLICT (tarea_id, efectivo_id) DO NOTHING"
    ))
    .execute(&mut *db)
    .await?;
    sqlx::query(&format!(
        "DELETE FROM checkin_relojes r
         WHERE NOT EXISTS (SELECT 1 FROM ({WATCHED}) w
                           WHERE w.tarea_id = r.tarea_id AND w.efectivo_id = r.efectivo_id)"
    ))
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// What a due clock asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// No report for the interval: ask "¿Todo bien?".
    Pregunta,
    /// Asked, and no report within the grace period: alert.
    SinRespuesta,
}

/// A clock claimed by this pass (its row locked until the transaction ends).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub tarea_id: i64,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub codigo: String,
    pub ultimo_reporte: DateTime<Utc>,
    pub pregunta_at: Option<DateTime<Utc>>,
    pub pregunta: bool,
}

impl Claimed {
    pub fn due(&self) -> Due {
        if self.pregunta {
            Due::Pregunta
        } else {
            Due::SinRespuesta
        }
    }
}

/// Claims up to `limit` due clocks with `FOR UPDATE SKIP LOCKED`: another instance's pass skips
/// them, and the condition is evaluated again on the locked row, so a step is taken once.
/// `default_secs`: the interval when the incident's type sets none (`CHECKIN_MINUTOS`);
/// `gracia_secs`: `CHECKIN_GRACIA_MINUTOS`.
pub async fn claim_due(
    db: &mut PgConnection,
    default_secs: f64,
    gracia_secs: f64,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "WITH c AS (
           SELECT r.tarea_id, r.efectivo_id, e.usuario_id,
                  COALESCE(t.nro_incidente, t.codigo) AS codigo,
                  GREATEST(
                    r.desde,
                    (SELECT max(n.created_at) FROM tarea_notas n
                      WHERE n.tarea_id = r.tarea_id AND n.autor_usuario_id = e.usuario_id),
                    (SELECT max(h.created_at) FROM historial_estados h
                      WHERE h.tarea_id = r.tarea_id AND h.usuario_id = e.usuario_id),
                    (SELECT max(GREATEST(d.respondido_at, d.llegada_at)) FROM despachos d
                      WHERE d.tarea_id = r.tarea_id AND d.efectivo_id = r.efectivo_id),
                    (SELECT max(k.created_at) FROM checkins k
                      WHERE k.tarea_id = r.tarea_id AND k.efectivo_id = r.efectivo_id
                        AND k.paso IN ('ok', 'apoyo'))
                  ) AS ultimo_reporte,
                  r.pregunta_at, r.alerta_at,
                  COALESCE(ti.checkin_minutos * 60.0, $1) AS intervalo
           FROM checkin_relojes r
           JOIN efectivos e ON e.id = r.efectivo_id
           JOIN tareas t ON t.id = r.tarea_id
           LEFT JOIN tipos_incidente ti ON ti.codigo = t.tipo_incidente
         )
         SELECT c.tarea_id, c.efectivo_id, c.usuario_id, c.codigo, c.ultimo_reporte, c.pregunta_at,
                (c.pregunta_at IS NULL OR c.pregunta_at <= c.ultimo_reporte) AS pregunta
         FROM c
         JOIN checkin_relojes r ON r.tarea_id = c.tarea_id AND r.efectivo_id = c.efectivo_id
         WHERE r.pregunta_at IS NOT DISTINCT FROM c.pregunta_at
           AND r.alerta_at IS NOT DISTINCT FROM c.alerta_at
           AND (
             ((c.pregunta_at IS NULL OR c.pregunta_at <= c.ultimo_reporte)
               AND c.ultimo_reporte + make_interval(secs => c.intervalo) <= now())
             OR (c.pregunta_at > c.ultimo_reporte
               AND (c.alerta_at IS NULL OR c.alerta_at < c.pregunta_at)
               AND c.pregunta_at + make_interval(secs => $2) <= now())
           )
         ORDER BY c.ultimo_reporte
         LIMIT $3
         FOR UPDATE OF r SKIP LOCKED",
    )
    .bind(default_secs)
    .bind(gracia_secs)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The question was sent now.
pub async fn mark_asked(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE checkin_relojes SET pregunta_at = now()
         WHERE tarea_id = $1 AND efectivo_id = $2",
    )
    .bind(tarea_id)
    .bind(efectivo_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The silence was alerted now.
pub async fn mark_alerted(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE checkin_relojes SET alerta_at = now()
         WHERE tarea_id = $1 AND efectivo_id = $2",
    )
    .bind(tarea_id)
    .bind(efectivo_id)
    .execute(db)
    .await?;
    Ok(())
}

/// One step of a check-in, with the officer's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckinRow {
    pub id: i64,
    pub tarea_id: i64,
    pub efectivo_id: i64,
    pub usuario_id: Option<i64>,
    pub usuario_nombre: Option<String>,
    pub paso: String,
    pub alerta_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

const ROW: &str = "k.id, k.tarea_id, k.efectivo_id, k.usuario_id,
    NULLIF(btrim(concat_ws(' ', u.nombre, u.apellido)), '') AS usuario_nombre,
    k.paso, k.alerta_id, k.created_at";

/// Appends a step.
pub async fn insert(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
    usuario_id: Option<i64>,
    paso: &str,
    alerta_id: Option<i64>,
) -> Result<CheckinRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH k AS (
            INSERT INTO checkins (tarea_id, efectivo_id, usuario_id, paso, alerta_id)
            VALUES ($1, $2, $3, $4, $5) RETURNING *)
         SELECT {ROW} FROM k LEFT JOIN usuarios u ON u.id = k.usuario_id"
    ))
    .bind(tarea_id)
    .bind(efectivo_id)
    .bind(usuario_id)
    .bind(paso)
    .bind(alerta_id)
    .fetch_one(db)
    .await
}

/// The task's check-in steps, oldest first.
pub async fn list<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<CheckinRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ROW} FROM checkins k LEFT JOIN usuarios u ON u.id = k.usuario_id
         WHERE k.tarea_id = $1 ORDER BY k.id"
    ))
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

// ---------------------------------------------------------------------------------------------
// Persisted alerts

/// An alert kept until a supervisor marks it seen.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertaRow {
    pub id: i64,
    pub kind: String,
    pub severity: String,
    pub tarea_id: Option<i64>,
    pub efectivo_id: Option<i64>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub visto_por: Option<i64>,
    pub visto_at: Option<DateTime<Utc>>,
}

const ALERTA: &str =
    "id, kind, severity, tarea_id, efectivo_id, payload, created_at, visto_por, visto_at";

/// Records an alert.
pub async fn insert_alerta(
    db: &mut PgConnection,
    kind: &str,
    severity: &str,
    tarea_id: Option<i64>,
    efectivo_id: Option<i64>,
    payload: &Value,
) -> Result<AlertaRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO alertas (kind, severity, tarea_id, efectivo_id, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING {ALERTA}"
    ))
    .bind(kind)
    .bind(severity)
    .bind(tarea_id)
    .bind(efectivo_id)
    .bind(payload)
    .fetch_one(db)
    .await
}

/// Alerts, newest first (only those nobody saw yet with `pendientes`).
pub async fn list_alertas<'e, E: PgExecutor<'e>>(
    exec: E,
    pendientes: bool,
    limit: i64,
) -> Result<Vec<AlertaRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ALERTA} FROM alertas WHERE (NOT $1 OR visto_at IS NULL)
         ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(pendientes)
    .bind(limit)
    .fetch_all(exec)
    .await
}

/// Marks the alert seen by `usuario_id` unless someone already did (the first one is kept).
/// Returns the alert as it now is, None when it does not exist.
pub async fn mark_seen(
    db: &mut PgConnection,
    id: i64,
    usuario_id: i64,
) -> Result<Option<(AlertaRow, bool)>, sqlx::Error> {
    let updated: Option<AlertaRow> = sqlx::query_as(&format!(
        "UPDATE alertas SET visto_por = $2, visto_at = now()
         WHERE id = $1 AND visto_at IS NULL RETURNING {ALERTA}"
    ))
    .bind(id)
    .bind(usuario_id)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(a) = updated {
        return Ok(Some((a, true)));
    }
    let existing: Option<AlertaRow> =
        sqlx::query_as(&format!("SELECT {ALERTA} FROM alertas WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *db)
            .await?;
    Ok(existing.map(|a| (a, false)))
}
