//! The roster (`turnos`) and leave (`licencias`): shifts with their clock-in and clock-out, leave
//! requests and their resolution, and the two once-only watches of the clock-in job.
//!
//! "Who is on duty" as SQL lives here once ([`on_duty_sql`]) and is spliced into the dispatch
//! rule (`dispatch::eligible_sql`) when `DUTY_MODE=turnos`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgExecutor;

/// Whether and how the roster decides who may be called (`DUTY_MODE`, `DUTY_REQUIRES_CLOCK_IN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duty {
    /// Everyone available may be called (the roster is informative only).
    #[default]
    Libre,
    /// Only officers on a current shift (clocked in to it when `clock_in`) and not on approved
    /// leave now (its days read in `ZONA_HORARIA`).
    Turnos { clock_in: bool },
}

/// SQL condition on `efectivos e`: the officer is on duty now. Correlated scalar subqueries on
/// purpose (as the active-user check of the dispatch rule): the planner keeps the nearest-first
/// scan of the partial GiST index and checks each candidate through `turnos_efectivo_inicio_idx`
/// and `licencias_efectivo_idx`, instead of flattening them into joins that sort every officer.
/// A shift is current from its start (or an early clock-in) to its end; clocked out, it is over.
pub fn on_duty_sql(clock_in: bool) -> String {
    let shift = if clock_in {
        "tu.ingreso_at IS NOT NULL AND tu.egreso_at IS NULL AND tu.fin > now()
         AND tu.inicio < now() + interval '24 hours'"
    } else {
        "tu.egreso_at IS NULL AND tu.fin > now() AND tu.inicio <= now()"
    };
    format!(
        "COALESCE((SELECT true FROM turnos tu WHERE tu.efectivo_id = e.id
                   AND tu.cancelado_por_licencia IS NULL AND {shift} LIMIT 1), false)
         AND NOT COALESCE((SELECT true FROM licencias li WHERE li.efectivo_id = e.id
                   AND li.estado = 'aprobada' AND li.vigencia @> now() LIMIT 1), false)"
    )
}

/// A shift on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Turno {
    pub id: i64,
    pub efectivo_id: i64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub inicio: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub fin: DateTime<Utc>,
    /// Mobile or post (free text).
    pub unidad: Option<String>,
    /// Zone of the shift (not yet checked against a zones table).
    pub zona_id: Option<i64>,
    pub notas: Option<String>,
    /// planificado | en_curso | finalizado | cancelado_por_licencia
    pub estado: String,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ingreso_at: Option<DateTime<Utc>>,
    /// Clocked in more than TURNO_TOLERANCIA_MINUTOS after the planned start.
    pub ingreso_tarde: bool,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub egreso_at: Option<DateTime<Utc>>,
    /// The approved leave that cancelled this shift.
    pub cancelado_por_licencia: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "t.id, t.efectivo_id, t.inicio, t.fin, t.unidad, t.zona_id, t.notas,
    CASE WHEN t.cancelado_por_licencia IS NOT NULL THEN 'cancelado_por_licencia'
         WHEN t.egreso_at IS NOT NULL THEN 'finalizado'
         WHEN t.ingreso_at IS NOT NULL THEN 'en_curso'
         ELSE 'planificado' END AS estado,
    t.ingreso_at, t.ingreso_tarde, t.egreso_at, t.cancelado_por_licencia, t.created_at, t.updated_at";

/// What a write sets.
pub struct TurnoFields<'a> {
    pub efectivo_id: i64,
    pub inicio: DateTime<Utc>,
    pub fin: DateTime<Utc>,
    pub unidad: Option<&'a str>,
    pub zona_id: Option<i64>,
    pub notas: Option<&'a str>,
}

/// Inserts a shift; an overlap with another live shift of the officer violates
/// `turnos_sin_solapamiento`.
pub async fn insert<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &TurnoFields<'_>,
    by: i64,
) -> Result<Turno, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO turnos AS t (efectivo_id, inicio, fin, unidad, zona_id, notas, creado_por)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(f.efectivo_id)
    .bind(f.inicio)
    .bind(f.fin)
    .bind(f.unidad)
    .bind(f.zona_id)
    .bind(f.notas)
    .bind(by)
    .fetch_one(exec)
    .await
}

pub async fn update<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    f: &TurnoFields<'_>,
) -> Result<Option<Turno>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE turnos AS t SET efectivo_id = $2, inicio = $3, fin = $4, unidad = $5, zona_id = $6,
                notas = $7, updated_at = now()
         WHERE t.id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(f.efectivo_id)
    .bind(f.inicio)
    .bind(f.fin)
    .bind(f.unidad)
    .bind(f.zona_id)
    .bind(f.notas)
    .fetch_optional(exec)
    .await
}

pub async fn delete<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<Option<Turno>, sqlx::Error> {
    sqlx::query_as(&format!(
        "DELETE FROM turnos AS t WHERE t.id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(exec)
    .await
}

pub async fn get<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<Option<Turno>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM turnos t WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(exec)
        .await
}

/// The same, its row locked until the transaction ends (clock-in and clock-out).
pub async fn lock<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<Option<Turno>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM turnos t WHERE t.id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(exec)
    .await
}

/// A live shift of this officer overlapping `[inicio, fin)`, other than `except` (what a 409
/// shows).
pub async fn overlapping<'e, E: PgExecutor<'e>>(
    exec: E,
    efectivo_id: i64,
    inicio: DateTime<Utc>,
    fin: DateTime<Utc>,
    except: Option<i64>,
) -> Result<Option<Turno>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM turnos t
         WHERE t.efectivo_id = $1 AND t.cancelado_por_licencia IS NULL
           AND tstzrange(t.inicio, t.fin) && tstzrange($2, $3)
           AND ($4::int8 IS NULL OR t.id <> $4)
         ORDER BY t.inicio LIMIT 1"
    ))
    .bind(efectivo_id)
    .bind(inicio)
    .bind(fin)
    .bind(except)
    .fetch_optional(exec)
    .await
}

/// Filters of the list.
pub struct TurnoFilter<'a> {
    pub efectivo_id: Option<i64>,
    /// Shifts ending after this instant.
    pub desde: Option<DateTime<Utc>>,
    /// Shifts starting before this instant.
    pub hasta: Option<DateTime<Utc>>,
    pub unidad: Option<&'a str>,
    pub skip: i64,
    pub limit: i64,
}

pub async fn list<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &TurnoFilter<'_>,
) -> Result<Vec<Turno>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM turnos t
         WHERE ($1::int8 IS NULL OR t.efectivo_id = $1)
           AND ($2::timestamptz IS NULL OR t.fin > $2)
           AND ($3::timestamptz IS NULL OR t.inicio < $3)
           AND ($4::text IS NULL OR t.unidad = $4)
         ORDER BY t.inicio, t.id OFFSET $5 LIMIT $6"
    ))
    .bind(f.efectivo_id)
    .bind(f.desde)
    .bind(f.hasta)
    .bind(f.unidad)
    .bind(f.skip)
    .bind(f.limit)
    .fetch_all(exec)
    .await
}

/// An officer on a current shift (`GET /turnos/actual`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EnTurno {
    pub turno_id: i64,
    pub efectivo_id: i64,
    pub codigo_interno: String,
    pub nombre: String,
    /// The shift's unit, else the officer's.
    pub unidad: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub inicio: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub fin: DateTime<Utc>,
    /// Clocked in (and not out).
    pub fichado: bool,
    pub ingreso_tarde: bool,
}

/// Live shifts under way now (not cancelled, not clocked out), by unit then start.
pub async fn current<'e, E: PgExecutor<'e>>(exec: E) -> Result<Vec<EnTurno>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id AS turno_id, t.efectivo_id, e.codigo_interno, u.nombre,
                COALESCE(t.unidad, e.unidad) AS unidad, t.inicio, t.fin,
                t.ingreso_at IS NOT NULL AS fichado, t.ingreso_tarde
         FROM turnos t JOIN efectivos e ON e.id = t.efectivo_id JOIN usuarios u ON u.id = e.usuario_id
         WHERE t.cancelado_por_licencia IS NULL AND t.egreso_at IS NULL
           AND t.inicio <= now() AND t.fin > now() AND e.deleted_at IS NULL
         ORDER BY COALESCE(t.unidad, e.unidad) NULLS LAST, t.inicio, t.id",
    )
    .fetch_all(exec)
    .await
}

/// Records the clock-in (the row is locked by the caller; `tarde` computed by the use case).
pub async fn clock_in<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    by: i64,
    tarde: bool,
) -> Result<Turno, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE turnos AS t SET ingreso_at = now(), ingreso_por = $2, ingreso_tarde = $3,
                updated_at = now()
         WHERE t.id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(by)
    .bind(tarde)
    .fetch_one(exec)
    .await
}

pub async fn clock_out<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    by: i64,
) -> Result<Turno, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE turnos AS t SET egreso_at = now(), egreso_por = $2, updated_at = now()
         WHERE t.id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(by)
    .fetch_one(exec)
    .await
}

/// The officer's shift under way or next (not cancelled, not clocked out, ending in the future):
/// what the bot's `/turno` shows.
pub async fn current_or_next<'e, E: PgExecutor<'e>>(
    exec: E,
    efectivo_id: i64,
) -> Result<Option<Turno>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM turnos t
         WHERE t.efectivo_id = $1 AND t.cancelado_por_licencia IS NULL AND t.egreso_at IS NULL
           AND t.fin > now()
         ORDER BY t.inicio LIMIT 1"
    ))
    .bind(efectivo_id)
    .fetch_optional(exec)
    .await
}

/// A shift the clock-in job just claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Vigilado {
    pub turno_id: i64,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub codigo_interno: String,
    pub unidad: Option<String>,
    pub inicio: DateTime<Utc>,
    pub fin: DateTime<Utc>,
}

/// Shifts started more than `after_secs` ago with no clock-in, not yet alerted: marked alerted
/// in the same statement, rows of other instances skipped, so each is returned exactly once
/// across instances.
pub async fn claim_missed_clock_in<'e, E: PgExecutor<'e>>(
    exec: E,
    after_secs: i64,
    limit: i64,
) -> Result<Vec<Vigilado>, sqlx::Error> {
    sqlx::query_as(
        "WITH due AS (
            SELECT id FROM turnos
            WHERE ingreso_at IS NULL AND alerta_ausencia_at IS NULL AND cancelado_por_licencia IS NULL
              AND inicio <= now() - make_interval(secs => $1::float8) AND fin > now()
            ORDER BY inicio LIMIT $2 FOR UPDATE SKIP LOCKED
         )
         UPDATE turnos t SET alerta_ausencia_at = now() FROM due, efectivos e
         WHERE t.id = due.id AND e.id = t.efectivo_id
         RETURNING t.id AS turno_id, t.efectivo_id, e.usuario_id, e.codigo_interno,
                   COALESCE(t.unidad, e.unidad) AS unidad, t.inicio, t.fin",
    )
    .bind(after_secs as f64)
    .bind(limit)
    .fetch_all(exec)
    .await
}

/// Officers still clocked in `after_secs` after their shift ended, not yet reminded: claimed
/// once across instances (as [`claim_missed_clock_in`]).
pub async fn claim_overdue_clock_out<'e, E: PgExecutor<'e>>(
    exec: E,
    after_secs: i64,
    limit: i64,
) -> Result<Vec<Vigilado>, sqlx::Error> {
    sqlx::query_as(
        "WITH due AS (
            SELECT id FROM turnos
            WHERE ingreso_at IS NOT NULL AND egreso_at IS NULL AND recordatorio_egreso_at IS NULL
              AND fin <= now() - make_interval(secs => $1::float8)
            ORDER BY fin LIMIT $2 FOR UPDATE SKIP LOCKED
         )
         UPDATE turnos t SET recordatorio_egreso_at = now() FROM due, efectivos e
         WHERE t.id = due.id AND e.id = t.efectivo_id
         RETURNING t.id AS turno_id, t.efectivo_id, e.usuario_id, e.codigo_interno,
                   COALESCE(t.unidad, e.unidad) AS unidad, t.inicio, t.fin",
    )
    .bind(after_secs as f64)
    .bind(limit)
    .fetch_all(exec)
    .await
}

// ---- Leave ----

/// A leave request on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Licencia {
    pub id: i64,
    pub efectivo_id: i64,
    /// vacaciones | enfermedad | estudio | otra
    pub tipo: String,
    #[schema(value_type = String, format = Date)]
    pub desde: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub hasta: NaiveDate,
    pub motivo: Option<String>,
    /// pendiente | aprobada | rechazada
    pub estado: String,
    pub resuelto_por: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resuelto_at: Option<DateTime<Utc>>,
    pub motivo_resolucion: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

const LIC_COLUMNS: &str = "l.id, l.efectivo_id, l.tipo, l.desde, l.hasta, l.motivo, l.estado,
    l.resuelto_por, l.resuelto_at, l.motivo_resolucion, l.created_at";

pub async fn insert_licencia<'e, E: PgExecutor<'e>>(
    exec: E,
    efectivo_id: i64,
    tipo: &str,
    desde: NaiveDate,
    hasta: NaiveDate,
    motivo: Option<&str>,
    zona_horaria: &str,
) -> Result<Licencia, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO licencias AS l (efectivo_id, tipo, desde, hasta, motivo, vigencia)
         VALUES ($1, $2, $3, $4, $5,
                 tstzrange($3::timestamp AT TIME ZONE $6, ($4 + 1)::timestamp AT TIME ZONE $6))
         RETURNING {LIC_COLUMNS}"
    ))
    .bind(efectivo_id)
    .bind(tipo)
    .bind(desde)
    .bind(hasta)
    .bind(motivo)
    .bind(zona_horaria)
    .fetch_one(exec)
    .await
}

pub struct LicenciaFilter<'a> {
    pub efectivo_id: Option<i64>,
    pub estado: Option<&'a str>,
    pub skip: i64,
    pub limit: i64,
}

pub async fn list_licencias<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &LicenciaFilter<'_>,
) -> Result<Vec<Licencia>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LIC_COLUMNS} FROM licencias l
         WHERE ($1::int8 IS NULL OR l.efectivo_id = $1) AND ($2::text IS NULL OR l.estado = $2)
         ORDER BY l.desde DESC, l.id DESC OFFSET $3 LIMIT $4"
    ))
    .bind(f.efectivo_id)
    .bind(f.estado)
    .bind(f.skip)
    .bind(f.limit)
    .fetch_all(exec)
    .await
}

pub async fn lock_licencia<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Option<Licencia>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LIC_COLUMNS} FROM licencias l WHERE l.id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(exec)
    .await
}

pub async fn resolve_licencia<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    estado: &str,
    by: i64,
    motivo: &str,
) -> Result<Licencia, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE licencias AS l SET estado = $2, resuelto_por = $3, resuelto_at = now(),
                motivo_resolucion = $4
         WHERE l.id = $1 RETURNING {LIC_COLUMNS}"
    ))
    .bind(id)
    .bind(estado)
    .bind(by)
    .bind(motivo)
    .fetch_one(exec)
    .await
}

/// Marks the officer's shifts that touch the leave's days (`vigencia`) and were not clocked in as
/// `cancelado_por_licencia`; returns their ids.
pub async fn cancel_covered<'e, E: PgExecutor<'e>>(
    exec: E,
    l: &Licencia,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE turnos SET cancelado_por_licencia = $1, updated_at = now()
         WHERE efectivo_id = $2 AND cancelado_por_licencia IS NULL AND ingreso_at IS NULL
           AND tstzrange(inicio, fin) && (SELECT vigencia FROM licencias WHERE id = $1)
         RETURNING id",
    )
    .bind(l.id)
    .bind(l.efectivo_id)
    .fetch_all(exec)
    .await
}

/// Whether a live officer exists, and (in a transaction) serialises roster writes for them
/// until it ends: an advisory lock, not a row lock, so dispatch (`FOR UPDATE SKIP LOCKED` on
/// `efectivos`) never skips an officer because their roster is being edited.
pub async fn lock_officer_roster(
    db: &mut sqlx::PgConnection,
    efectivo_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('gad:turnos:' || $1::text, 0))")
        .bind(efectivo_id)
        .execute(&mut *db)
        .await?;
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM efectivos WHERE id = $1 AND deleted_at IS NULL)",
    )
    .bind(efectivo_id)
    .fetch_one(&mut *db)
    .await
}

// ---- The day's roster ----

/// A shift touching a day, with its officer (`GET /turnos/planilla`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TurnoDelDia {
    pub turno_id: i64,
    pub efectivo_id: i64,
    pub codigo_interno: String,
    pub nombre: String,
    /// The shift's unit, else the officer's.
    pub unidad: Option<String>,
    pub inicio: DateTime<Utc>,
    pub fin: DateTime<Utc>,
    pub ingreso_at: Option<DateTime<Utc>>,
    pub ingreso_tarde: bool,
    pub egreso_at: Option<DateTime<Utc>>,
    pub cancelado_por_licencia: Option<i64>,
}

/// Shifts of live officers overlapping `[desde, hasta)`, by officer then start.
pub async fn shifts_between<'e, E: PgExecutor<'e>>(
    exec: E,
    desde: DateTime<Utc>,
    hasta: DateTime<Utc>,
) -> Result<Vec<TurnoDelDia>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id AS turno_id, t.efectivo_id, e.codigo_interno,
                concat_ws(' ', u.nombre, u.apellido) AS nombre,
                COALESCE(t.unidad, e.unidad) AS unidad, t.inicio, t.fin, t.ingreso_at,
                t.ingreso_tarde, t.egreso_at, t.cancelado_por_licencia
         FROM turnos t JOIN efectivos e ON e.id = t.efectivo_id JOIN usuarios u ON u.id = e.usuario_id
         WHERE tstzrange(t.inicio, t.fin) && tstzrange($1, $2) AND e.deleted_at IS NULL
         ORDER BY t.efectivo_id, t.inicio, t.id",
    )
    .bind(desde)
    .bind(hasta)
    .fetch_all(exec)
    .await
}

/// An approved leave touching a day, with its officer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LicenciaDelDia {
    pub licencia_id: i64,
    pub efectivo_id: i64,
    pub codigo_interno: String,
    pub nombre: String,
    pub unidad: Option<String>,
    pub tipo: String,
}

/// Approved leaves of live officers whose days overlap `[desde, hasta)`.
pub async fn leaves_between<'e, E: PgExecutor<'e>>(
    exec: E,
    desde: DateTime<Utc>,
    hasta: DateTime<Utc>,
) -> Result<Vec<LicenciaDelDia>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.id AS licencia_id, l.efectivo_id, e.codigo_interno,
                concat_ws(' ', u.nombre, u.apellido) AS nombre, e.unidad, l.tipo
         FROM licencias l JOIN efectivos e ON e.id = l.efectivo_id JOIN usuarios u ON u.id = e.usuario_id
         WHERE l.estado = 'aprobada' AND l.vigencia && tstzrange($1, $2) AND e.deleted_at IS NULL
         ORDER BY l.efectivo_id, l.id",
    )
    .bind(desde)
    .bind(hasta)
    .fetch_all(exec)
    .await
}

/// Of these users, the ones a push may reach in `DUTY_MODE=turnos`: users without an officer
/// record (supervisors, administrators), and officers on duty now by the one rule
/// ([`on_duty_sql`]).
pub async fn reachable_users<'e, E: PgExecutor<'e>>(
    exec: E,
    users: &[i64],
    clock_in: bool,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT u.id FROM unnest($1::int8[]) AS u(id)
         WHERE NOT EXISTS (SELECT 1 FROM efectivos e WHERE e.usuario_id = u.id AND e.deleted_at IS NULL)
            OR EXISTS (SELECT 1 FROM efectivos e WHERE e.usuario_id = u.id AND e.deleted_at IS NULL
                       AND {})",
        on_duty_sql(clock_in)
    ))
    .bind(users)
    .fetch_all(exec)
    .await
}
