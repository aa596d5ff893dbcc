//! Who may be dispatched: the one rule shared by emergency dispatch, suggestions and the map's
//! "available" view, so an officer that cannot receive an emergency is never offered one.

/// SQL condition on `efectivos e`: available, located, position fresh (younger than
/// `$age_param` minutes), the officer's user active (verified, not deleted), and not the
/// caller (`$caller_param`, the user raising the emergency). Served by the partial GiST index
/// of available, located, live officers: the user check is a correlated scalar subquery on
/// purpose, so the planner keeps the KNN index scan and checks each candidate by primary key
/// (an `EXISTS` is flattened into a join that starts from `usuarios` and sorts every officer).
/// With `Duty::Turnos` the officer must also be on duty (`turnos::on_duty_sql`, checked the
/// same way, per candidate).
pub fn eligible_sql(age_param: usize, caller_param: usize, duty: Duty) -> String {
    let on_duty = match duty {
        Duty::Libre => String::new(),
        Duty::Turnos { clock_in } => format!(" AND {}", crate::turnos::on_duty_sql(clock_in)),
    };
    format!(
        "e.estado_disponibilidad = 'DISPONIBLE' AND e.deleted_at IS NULL AND e.geom IS NOT NULL
         AND e.ubicacion_updated_at > now() - make_interval(mins => ${age_param}::int)
         AND e.usuario_id IS DISTINCT FROM ${caller_param}::int8
         AND COALESCE((SELECT {active} FROM usuarios du WHERE du.id = e.usuario_id), false){on_duty}",
        active = crate::active_user!("du"),
    )
}

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::efectivos::point_sql;
use super::nearest::{NearestSql, Order, nearest_first_in};
pub use super::turnos::Duty;

/// Where an emergency is and who raised it: what re-dispatch and backup need. Loaded with the
/// task row locked, so two answers about one emergency are handled one after the other.
#[derive(Debug, sqlx::FromRow)]
pub struct Site {
    pub id: i64,
    pub codigo: String,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    pub radius_m: f64,
    pub creado_por: Option<i64>,
    pub delegado: Option<i64>,
    pub open: bool,
    /// What an officer's push says about the incident.
    pub nro_incidente: Option<String>,
    pub tipo_incidente: Option<String>,
    pub tipo_nombre: Option<String>,
    pub prioridad_incidente: Option<i16>,
    pub direccion: Option<String>,
    pub referencia: Option<String>,
}

pub async fn lock_site(db: &mut PgConnection, tarea_id: i64) -> Result<Option<Site>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT t.id, t.codigo, ST_X(t.geom::geometry) AS lng, ST_Y(t.geom::geometry) AS lat,
                COALESCE(CASE WHEN jsonb_typeof(extra_data->'radius_m') = 'number'
                              THEN (extra_data->>'radius_m')::float8 END, 5000) AS radius_m,
                t.creado_por_usuario_id AS creado_por, t.delegado_usuario_id AS delegado,
                (",
        crate::open_task!("t"),
        ") AS open, t.nro_incidente, t.tipo_incidente,
                (SELECT ti.etiqueta FROM tipos_incidente ti WHERE ti.codigo = t.tipo_incidente) AS tipo_nombre,
                t.prioridad_incidente, t.direccion, t.referencia
         FROM tareas t WHERE t.id = $1 AND t.deleted_at IS NULL FOR UPDATE OF t"
    ))
    .bind(tarea_id)
    .fetch_optional(db)
    .await
}

/// An officer just dispatched (pending acknowledgement).
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct Assigned {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub distance_m: f64,
    pub vence_at: DateTime<Utc>,
}

/// Dispatches the `n` nearest eligible officers not yet dispatched to this emergency (same
/// rule, same `FOR UPDATE SKIP LOCKED` as the first dispatch): each becomes `en_tarea`, is
/// linked to the task and gets a pending `despachos` row due in `ack_secs`.
#[allow(clippy::too_many_arguments)]
pub async fn assign_nearest(
    db: &mut PgConnection,
    site: &Site,
    n: i64,
    intento: i32,
    refuerzo: bool,
    max_age_minutes: i64,
    ack_secs: i64,
    duty: Duty,
) -> Result<Vec<Assigned>, sqlx::Error> {
    let (Some(lng), Some(lat)) = (site.lng, site.lat) else {
        return Ok(Vec::new());
    };
    let pt = point_sql(1, 2);
    let eligible = eligible_sql(4, 5, duty);
    let sql = NearestSql::new(|order: Order| {
        let nearest = order.key("e.geom", &pt);
        format!(
        "WITH pick AS (
            SELECT e.id, e.usuario_id, ST_Distance(e.geom, {pt}) AS distance_m
            FROM efectivos e
            WHERE {eligible} AND ST_DWithin(e.geom, {pt}, $3::float8)
              AND NOT EXISTS (SELECT 1 FROM despachos d WHERE d.tarea_id = $6 AND d.efectivo_id = e.id)
            ORDER BY {nearest}
            LIMIT $7
            FOR UPDATE OF e SKIP LOCKED
        ),
        busy AS (
            UPDATE efectivos e SET estado_disponibilidad = 'EN_TAREA', ultima_actualizacion_estado = now()
            FROM pick p WHERE e.id = p.id RETURNING e.id
        ),
        link AS (
            INSERT INTO tarea_efectivos (tarea_id, efectivo_id)
            SELECT $6, p.id FROM pick p ON CONFLICT DO NOTHING RETURNING 1
        ),
        arr AS (
            UPDATE tareas SET efectivos_asignados = efectivos_asignados || ARRAY(SELECT id FROM pick)
            WHERE id = $6 AND EXISTS (SELECT 1 FROM pick) RETURNING 1
        ),
        desp AS (
            INSERT INTO despachos (tarea_id, efectivo_id, intento, refuerzo, distancia_m, vence_at)
            SELECT $6, p.id, $8, $9, p.distance_m, now() + make_interval(secs => $10::float8)
            FROM pick p RETURNING efectivo_id, vence_at
        )
        SELECT p.id AS efectivo_id, p.usuario_id, p.distance_m, d.vence_at
        FROM pick p JOIN desp d ON d.efectivo_id = p.id ORDER BY p.distance_m"
        )
    });
    nearest_first_in(db, &sql, |q| {
        q.bind(lng)
            .bind(lat)
            .bind(site.radius_m)
            .bind(max_age_minutes)
            .bind(site.creado_por)
            .bind(site.id)
            .bind(n)
            .bind(intento)
            .bind(refuerzo)
            .bind(ack_secs as f64)
    })
    .await
}

/// A dispatch that has just been answered (or has expired).
#[derive(Debug, sqlx::FromRow)]
pub struct Closed {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub intento: i32,
    pub refuerzo: bool,
    pub asignado_at: DateTime<Utc>,
}

/// Closes a pending dispatch as `ACEPTADO`, `RECHAZADO` or `VENCIDO`. `None` when it is not
/// pending (already answered, expired, or never dispatched): the caller answers 409.
pub async fn close_pending(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
    estado: &str,
    by: Option<i64>,
    motivo: Option<&str>,
) -> Result<Option<Closed>, sqlx::Error> {
    // A timeout closes only a dispatch whose deadline has passed (an answer may have come in).
    sqlx::query_as(
        "UPDATE despachos d SET estado = $3, respondido_at = now(), respondido_por = $4, motivo = $5
         FROM efectivos e
         WHERE d.tarea_id = $1 AND d.efectivo_id = $2 AND d.estado = 'PENDIENTE' AND e.id = d.efectivo_id
           AND ($3 <> 'VENCIDO' OR d.vence_at <= now())
         RETURNING d.efectivo_id, e.usuario_id, d.intento, d.refuerzo, d.asignado_at",
    )
    .bind(tarea_id)
    .bind(efectivo_id)
    .bind(estado)
    .bind(by)
    .bind(motivo)
    .fetch_optional(db)
    .await
}

/// The accepted officer is on the way.
pub async fn set_unit_status(
    db: &mut PgConnection,
    efectivo_id: i64,
    estado: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE efectivos SET estado_disponibilidad = $2::estado_disponibilidad,
                ultima_actualizacion_estado = now()
         WHERE id = $1",
    )
    .bind(efectivo_id)
    .bind(estado)
    .execute(db)
    .await?;
    Ok(())
}

/// Takes a declined (or silent) officer off the emergency: unlinked, and `disponible` again.
pub async fn release(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH unlink AS (DELETE FROM tarea_efectivos WHERE tarea_id = $1 AND efectivo_id = $2 RETURNING 1),
              arr AS (UPDATE tareas SET efectivos_asignados = array_remove(efectivos_asignados, $2)
                      WHERE id = $1 RETURNING 1)
         UPDATE efectivos SET estado_disponibilidad = 'DISPONIBLE', ultima_actualizacion_estado = now()
         WHERE id = $2 AND estado_disponibilidad IN ('EN_TAREA', 'EN_CAMINO')",
    )
    .bind(tarea_id)
    .bind(efectivo_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Primary attempts made for this emergency (backups not counted).
pub async fn primary_attempts(db: &mut PgConnection, tarea_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM despachos WHERE tarea_id = $1 AND NOT refuerzo")
        .bind(tarea_id)
        .fetch_one(db)
        .await
}

/// The task's delegate follows the primary unit: the new officer sees and answers it.
pub async fn hand_over(
    db: &mut PgConnection,
    tarea_id: i64,
    usuario_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tareas SET delegado_usuario_id = $2,
                extra_data = extra_data - 'sin_asignar'
         WHERE id = $1",
    )
    .bind(tarea_id)
    .bind(usuario_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Nobody left to call: the emergency stays open, flagged "sin asignar" for the supervisors.
pub async fn mark_unassigned(db: &mut PgConnection, tarea_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tareas SET extra_data = extra_data || '{\"sin_asignar\": true}'::jsonb WHERE id = $1",
    )
    .bind(tarea_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A step of the emergency's timeline (the task's state does not change).
pub async fn timeline(
    db: &mut PgConnection,
    tarea_id: i64,
    usuario_id: Option<i64>,
    evento: &str,
    nota: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota, evento)
         SELECT id, estado, estado, $2, $4, $3 FROM tareas WHERE id = $1",
    )
    .bind(tarea_id)
    .bind(usuario_id)
    .bind(evento)
    .bind(nota)
    .execute(db)
    .await?;
    Ok(())
}

/// Emergencies with a dispatch past its deadline, their task rows locked for this escalation
/// pass (`FOR UPDATE SKIP LOCKED`): an emergency another instance (or an answer) is handling
/// is skipped, so each silence is escalated exactly once. Locks are taken task first, then
/// dispatch rows, in every path (no deadlock between the job and an answer).
pub async fn lock_due_tasks(db: &mut PgConnection, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        concat!(
            "SELECT t.id FROM tareas t
         WHERE t.id IN (SELECT tarea_id FROM despachos WHERE estado = 'PENDIENTE' AND vence_at <= now())
           AND t.deleted_at IS NULL AND ",
            crate::open_task!("t"),
            "
         ORDER BY t.id LIMIT $1 FOR UPDATE OF t SKIP LOCKED"
        ),
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The officers whose dispatch to this task is pending and past its deadline.
pub async fn due_officers(db: &mut PgConnection, tarea_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT efectivo_id FROM despachos
         WHERE tarea_id = $1 AND estado = 'PENDIENTE' AND vence_at <= now() ORDER BY id",
    )
    .bind(tarea_id)
    .fetch_all(db)
    .await
}

/// The officers with a pending dispatch on this task.
pub async fn pending_officers(
    db: &mut PgConnection,
    tarea_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT efectivo_id FROM despachos WHERE tarea_id = $1 AND estado = 'PENDIENTE' ORDER BY id",
    )
    .bind(tarea_id)
    .fetch_all(db)
    .await
}

/// Is this officer dispatched to (pending or accepted on) this task?
pub async fn is_dispatched(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM despachos WHERE tarea_id = $1 AND efectivo_id = $2
                        AND estado IN ('PENDIENTE', 'ACEPTADO'))
             OR EXISTS (SELECT 1 FROM tarea_efectivos WHERE tarea_id = $1 AND efectivo_id = $2)",
    )
    .bind(tarea_id)
    .bind(efectivo_id)
    .fetch_one(db)
    .await
}

/// Arrival: an accepted officer within `radius_m` of the incident is on scene. Returns the
/// tasks (and acceptance times) where this officer just arrived.
pub async fn arrive_near(
    db: &mut PgConnection,
    efectivo_id: i64,
    radius_m: f64,
) -> Result<Vec<(i64, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE despachos d SET llegada_at = now()
         FROM tareas t, efectivos e
         WHERE d.efectivo_id = $1 AND d.estado = 'ACEPTADO' AND d.llegada_at IS NULL
           AND t.id = d.tarea_id AND t.geom IS NOT NULL AND e.id = d.efectivo_id AND e.geom IS NOT NULL
           AND ST_DWithin(e.geom, t.geom, $2)
         RETURNING d.tarea_id, COALESCE(d.respondido_at, d.asignado_at)",
    )
    .bind(efectivo_id)
    .bind(radius_m)
    .fetch_all(db)
    .await
}

/// Arrival reported by the officer (`en_escena`): every accepted dispatch of theirs not yet
/// arrived. Returns (tarea_id, accepted_at).
pub async fn arrive_all(
    db: &mut PgConnection,
    efectivo_id: i64,
) -> Result<Vec<(i64, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE despachos SET llegada_at = now()
         WHERE efectivo_id = $1 AND estado = 'ACEPTADO' AND llegada_at IS NULL
         RETURNING tarea_id, COALESCE(respondido_at, asignado_at)",
    )
    .bind(efectivo_id)
    .fetch_all(db)
    .await
}

/// Backup officers this emergency has called so far, whatever became of them (a declined one
/// counts: the bound is on people called, not on people coming).
pub async fn backup_called(db: &mut PgConnection, tarea_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM despachos WHERE tarea_id = $1 AND refuerzo")
        .bind(tarea_id)
        .fetch_one(db)
        .await
}

/// Seconds until this user may ask backup for this task again, when they already asked within
/// the last `window_secs` (their backup request is in the timeline as `refuerzo` rows). The
/// caller holds the task row's lock, so two requests for one task are counted one after the other.
pub async fn backup_retry_after(
    db: &mut PgConnection,
    tarea_id: i64,
    usuario_id: i64,
    window_secs: i64,
) -> Result<Option<f64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM max(created_at) + make_interval(secs => $3::float8) - now())::float8
         FROM historial_estados
         WHERE tarea_id = $1 AND usuario_id = $2 AND evento = 'refuerzo'
           AND created_at > now() - make_interval(secs => $3::float8)",
    )
    .bind(tarea_id)
    .bind(usuario_id)
    .bind(window_secs as f64)
    .fetch_one(db)
    .await
}

/// Has this officer accepted the dispatch to this task (on the way or on scene)?
pub async fn has_accepted(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM despachos WHERE tarea_id = $1 AND efectivo_id = $2
                        AND estado = 'ACEPTADO')",
    )
    .bind(tarea_id)
    .bind(efectivo_id)
    .fetch_one(db)
    .await
}

/// Was this officer ever called to this task (whatever became of the call), or linked to it?
/// Read without locking: it decides only whether the task is visible to them at all.
pub async fn was_called(
    db: &mut PgConnection,
    tarea_id: i64,
    efectivo_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM despachos WHERE tarea_id = $1 AND efectivo_id = $2)
             OR EXISTS (SELECT 1 FROM tarea_efectivos WHERE tarea_id = $1 AND efectivo_id = $2)",
    )
    .bind(tarea_id)
    .bind(efectivo_id)
    .fetch_one(db)
    .await
}
