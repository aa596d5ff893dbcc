//! Data-subject rights: the queries behind the export (each section streamed from
//! one consistent snapshot), the erasure by anonymisation, and the data map read from the
//! schema's column comments. The streaming, ZIP and CSV live in `crate::gdpr`.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

/// Makes the transaction just begun (`pool.begin()`) the read-only, repeatable-read snapshot an
/// export reads every section from. Must be its first statement. (A second `BEGIN` here would
/// only draw a warning and leave the transaction READ COMMITTED.)
pub async fn begin_snapshot(db: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// `tarea.estado` DB label → wire value.
const ESTADO_WIRE: &str = "CASE t.estado WHEN 'PROGRAMMED' THEN 'programada' WHEN 'IN_PROGRESS' THEN 'en_curso'
    WHEN 'PAUSED' THEN 'pausada' WHEN 'COMPLETED' THEN 'finalizada' WHEN 'CANCELLED' THEN 'cancelada' END";

/// The person's account (never the password hash).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PerfilExport {
    pub id: i64,
    pub uuid: String,
    pub email: String,
    pub nombre: String,
    pub apellido: String,
    pub dni: String,
    pub telefono: Option<String>,
    pub telegram_id: Option<i64>,
    pub nivel: i16,
    pub verificado: bool,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub ultimo_acceso: Option<DateTime<Utc>>,
    pub intentos_fallidos: i32,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub bloqueado_hasta: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub tokens_valid_after: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub extra_data: Value,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
}

pub async fn perfil<'e, E: PgExecutor<'e>>(
    exec: E,
    user_id: i64,
) -> Result<Option<PerfilExport>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, uuid::text AS uuid, email, nombre, apellido, dni, telefono, telegram_id,
                (substr(nivel::text, 7))::int2 AS nivel, verificado, ultimo_acceso, intentos_fallidos,
                bloqueado_hasta, tokens_valid_after, extra_data, created_at, updated_at, deleted_at
         FROM usuarios WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(exec)
    .await
}

/// The person's officer record, with the last known position.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EfectivoExport {
    pub id: i64,
    pub uuid: String,
    pub codigo_interno: String,
    pub rango: Option<String>,
    pub unidad: Option<String>,
    pub especialidad: Option<String>,
    pub estado_disponibilidad: String,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub ultima_actualizacion_estado: DateTime<Utc>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub ubicacion_accuracy_m: Option<f64>,
    pub ubicacion_heading: Option<f64>,
    pub ubicacion_speed: Option<f64>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub ubicacion_updated_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
}

pub async fn efectivo<'e, E: PgExecutor<'e>>(
    exec: E,
    user_id: i64,
) -> Result<Option<EfectivoExport>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, uuid::text AS uuid, codigo_interno, rango, unidad, especialidad,
                lower(estado_disponibilidad::text) AS estado_disponibilidad, ultima_actualizacion_estado,
                ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng, ubicacion_accuracy_m,
                ubicacion_heading, ubicacion_speed, ubicacion_updated_at, metadata, created_at, deleted_at
         FROM efectivos WHERE usuario_id = $1",
    )
    .bind(user_id)
    .fetch_optional(exec)
    .await
}

/// One point of the location history.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UbicacionExport {
    pub id: i64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub recorded_at: DateTime<Utc>,
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: Option<f64>,
    pub heading: Option<f64>,
    pub speed: Option<f64>,
}

/// The location history of the person's officer record, oldest first (streamed).
pub fn ubicaciones(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<UbicacionExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT u.id, u.recorded_at, ST_Y(u.geom::geometry) AS lat, ST_X(u.geom::geometry) AS lng,
                u.accuracy_m, u.heading, u.speed
         FROM efectivo_ubicaciones u JOIN efectivos e ON e.id = u.efectivo_id
         WHERE e.usuario_id = $1 ORDER BY u.efectivo_id, u.recorded_at, u.id",
    )
    .bind(user_id)
    .fetch(db)
}

/// A task the person created, was delegated or was assigned to (`relacion` says which).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TareaExport {
    pub id: i64,
    pub uuid: String,
    pub codigo: String,
    pub titulo: String,
    pub descripcion: Option<String>,
    pub tipo: String,
    pub estado: String,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub inicio_programado: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub inicio_real: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub fin_real: Option<DateTime<Utc>>,
    pub delegado_usuario_id: i64,
    pub creado_por_usuario_id: Option<i64>,
    pub efectivos_asignados: Vec<i64>,
    pub ubicacion_lat: Option<f64>,
    pub ubicacion_lon: Option<f64>,
    pub ubicacion_descripcion: Option<String>,
    /// An incident's case number, type, address and reference (the caller, a third party,
    /// is not part of an officer's export).
    pub nro_incidente: Option<String>,
    pub tipo_incidente: Option<String>,
    pub direccion: Option<String>,
    pub referencia: Option<String>,
    /// creada, delegada, asignada (one or more).
    pub relacion: Vec<String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
}

pub fn tareas(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<TareaExport, sqlx::Error>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "WITH mine AS (SELECT id FROM efectivos WHERE usuario_id = $1)
             SELECT t.id, t.uuid::text AS uuid, t.codigo, t.titulo, t.descripcion, lower(t.tipo::text) AS tipo,
                    {ESTADO_WIRE} AS estado, t.inicio_programado, t.inicio_real, t.fin_real,
                    t.delegado_usuario_id, t.creado_por_usuario_id, t.efectivos_asignados, t.ubicacion_lat,
                    t.ubicacion_lon, t.ubicacion_descripcion, t.nro_incidente, t.tipo_incidente,
                    t.direccion, t.referencia,
                    array_remove(ARRAY[
                        CASE WHEN t.creado_por_usuario_id = $1 THEN 'creada' END,
                        CASE WHEN t.delegado_usuario_id = $1 THEN 'delegada' END,
                        CASE WHEN EXISTS (SELECT 1 FROM tarea_efectivos te JOIN mine m ON m.id = te.efectivo_id
                                          WHERE te.tarea_id = t.id)
                               OR t.efectivos_asignados && ARRAY(SELECT id FROM mine)
                             THEN 'asignada' END], NULL) AS relacion,
                    t.created_at, t.deleted_at
             FROM tareas t
             WHERE t.creado_por_usuario_id = $1 OR t.delegado_usuario_id = $1
                OR t.id IN (SELECT te.tarea_id FROM tarea_efectivos te JOIN mine m ON m.id = te.efectivo_id)
                OR t.efectivos_asignados && ARRAY(SELECT id FROM mine)
             ORDER BY t.id"
        )
    });
    sqlx::query_as(sql.as_str()).bind(user_id).fetch(db)
}

/// A step of a task's timeline written by the person.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct HistorialExport {
    pub id: i64,
    pub tarea_id: i64,
    pub estado_anterior: Option<String>,
    pub estado_nuevo: String,
    pub evento: Option<String>,
    pub nota: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

pub fn historial(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<HistorialExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT id, tarea_id, estado_anterior::text AS estado_anterior, estado_nuevo::text AS estado_nuevo,
                evento, nota, created_at
         FROM historial_estados WHERE usuario_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch(db)
}

/// A dispatch of the person's officer record, or one they answered.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DespachoExport {
    pub id: i64,
    pub tarea_id: i64,
    pub efectivo_id: i64,
    pub intento: i32,
    pub refuerzo: bool,
    pub estado: String,
    pub distancia_m: Option<f64>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub asignado_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub respondido_at: Option<DateTime<Utc>>,
    pub respondido_por: Option<i64>,
    pub motivo: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub llegada_at: Option<DateTime<Utc>>,
}

pub fn despachos(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<DespachoExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT d.id, d.tarea_id, d.efectivo_id, d.intento, d.refuerzo, lower(d.estado) AS estado, d.distancia_m,
                d.asignado_at, d.respondido_at, d.respondido_por, d.motivo, d.llegada_at
         FROM despachos d
         WHERE d.efectivo_id IN (SELECT id FROM efectivos WHERE usuario_id = $1) OR d.respondido_por = $1
         ORDER BY d.id",
    )
    .bind(user_id)
    .fetch(db)
}

/// An audit entry by or about the person. Entries another user made about them keep that
/// user's id but not their IP address or user agent (someone else's data).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditoriaExport {
    pub id: i64,
    pub event_type: String,
    pub user_id: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action_description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub old_values: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub new_values: Option<Value>,
    pub success: bool,
    pub response_status: Option<i32>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

pub fn auditoria(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<AuditoriaExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT a.id, a.event_type, a.user_id,
                CASE WHEN a.user_id = $1 THEN host(a.ip_address) END AS ip_address,
                CASE WHEN a.user_id = $1 THEN a.user_agent END AS user_agent,
                a.resource_type, a.resource_id, a.action_description, a.old_values, a.new_values,
                a.success, a.response_status, a.created_at
         FROM audit_logs a
         WHERE a.user_id = $1
            OR (a.resource_type = 'usuario' AND a.resource_id = $1::text)
            OR (a.resource_type = 'efectivo' AND a.resource_id IN
                    (SELECT id::text FROM efectivos WHERE usuario_id = $1))
         ORDER BY a.chain_seq NULLS LAST, a.id",
    )
    .bind(user_id)
    .fetch(db)
}

/// A revoked token (its id and lifetime; a token itself is never stored).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TokenRevocadoExport {
    pub jti: String,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub expires_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

pub fn tokens_revocados(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<TokenRevocadoExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT jti::text AS jti, expires_at, created_at FROM revoked_tokens WHERE user_id = $1
         ORDER BY created_at, jti",
    )
    .bind(user_id)
    .fetch(db)
}

/// A one-time credential's metadata (Telegram link code or WebSocket ticket) — never the
/// code or ticket itself.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CredencialExport {
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub expires_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub used_at: Option<DateTime<Utc>>,
}

pub fn telegram_codigos(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<CredencialExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT created_at, expires_at, used_at FROM telegram_link_codes WHERE user_id = $1
         ORDER BY created_at",
    )
    .bind(user_id)
    .fetch(db)
}

pub fn tickets_ws(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<CredencialExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT created_at, expires_at, NULL::timestamptz AS used_at FROM ws_tickets WHERE user_id = $1
         ORDER BY created_at",
    )
    .bind(user_id)
    .fetch(db)
}

/// An emergency request key the person sent (the stored response is operational data).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct IdempotenciaExport {
    pub key: String,
    pub response_status: Option<i32>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

pub fn claves_idempotencia(
    db: &mut PgConnection,
    user_id: i64,
) -> BoxStream<'_, Result<IdempotenciaExport, sqlx::Error>> {
    sqlx::query_as(
        "SELECT key, response_status, created_at FROM idempotency_keys WHERE user_id = $1
         ORDER BY created_at, key",
    )
    .bind(user_id)
    .fetch(db)
}

// ---------------------------------------------------------------------------------------------
// Erasure

/// The person's state before erasure, locked for the erasing transaction.
#[derive(Debug, sqlx::FromRow)]
pub struct EraseTarget {
    pub id: i64,
    pub uuid: uuid::Uuid,
    /// Already anonymised (`extra_data.anonimizado_en` set).
    pub anonimizado: bool,
    pub efectivo_id: Option<i64>,
}

pub async fn lock_for_erase(
    db: &mut PgConnection,
    user_id: i64,
) -> Result<Option<EraseTarget>, sqlx::Error> {
    let target: Option<EraseTarget> = sqlx::query_as(
        "SELECT u.id, u.uuid, (u.extra_data ? 'anonimizado_en') AS anonimizado,
                (SELECT e.id FROM efectivos e WHERE e.usuario_id = u.id) AS efectivo_id
         FROM usuarios u WHERE u.id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_optional(&mut *db)
    .await?;
    // The officer row too, in its own statement: a dispatch picking this officer right now holds
    // it (we wait for its commit, and the next statement — `open_emergencies` — sees it); a
    // dispatch starting later skips it (`SKIP LOCKED`) until the erasure is committed.
    if let Some(ef) = target.as_ref().and_then(|t| t.efectivo_id) {
        sqlx::query("SELECT id FROM efectivos WHERE id = $1 FOR UPDATE")
            .bind(ef)
            .execute(&mut *db)
            .await?;
    }
    Ok(target)
}

/// Open emergencies the person is on: delegated to them, or their officer is dispatched
/// (pending or accepted) or linked to it. Run after [`lock_for_erase`] (a new statement, so a
/// dispatch that committed while we waited for the officer's lock is seen).
pub async fn open_emergencies(
    db: &mut PgConnection,
    user_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "WITH mine AS (SELECT id FROM efectivos WHERE usuario_id = $1)
         SELECT t.id FROM tareas t
         WHERE t.deleted_at IS NULL AND t.es_emergencia AND ",
        crate::open_task!("t"),
        "
           AND (t.delegado_usuario_id = $1
                OR EXISTS (SELECT 1 FROM despachos d JOIN mine m ON m.id = d.efectivo_id
                           WHERE d.tarea_id = t.id AND d.estado IN ('PENDIENTE', 'ACEPTADO'))
                OR EXISTS (SELECT 1 FROM tarea_efectivos te JOIN mine m ON m.id = te.efectivo_id
                           WHERE te.tarea_id = t.id))
         ORDER BY t.id"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// What erasure removed or replaced.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct EraseCounts {
    pub ubicaciones_borradas: u64,
    /// Every token issued until now is refused from now on.
    pub tokens_revocados: bool,
    pub codigos_telegram_borrados: u64,
    pub tickets_ws_borrados: u64,
    /// The person's emergency request keys (and the answers stored with them).
    pub claves_idempotencia_borradas: u64,
    /// Rows of tasks, state history and dispatches whose text or data no longer holds the
    /// person's values (name, e-mail, DNI, phone, Telegram id, internal code, own reasons).
    pub textos_depurados: u64,
    /// The person's audit key was destroyed: their values inside audit rows are unreadable.
    pub clave_auditoria_destruida: bool,
}

/// What replaces a person's value inside kept text.
pub const ERASED: &str = crate::audit::ERASED;

/// Values shorter than this are not searched for in free text (they would match ordinary words).
const MIN_IDENTIFIER_CHARS: usize = 3;

/// A PostgreSQL regular expression matching any of `values` as a whole word (with the `gi`
/// flags: every occurrence, any case), longest first; capture 1 is the character before it,
/// kept by the replacement `\1[borrado]`. None when no value is long enough to look for.
pub fn identifiers_pattern(values: &[String]) -> Option<String> {
    let mut v: Vec<String> = values
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| s.chars().count() >= MIN_IDENTIFIER_CHARS)
        .collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
    v.dedup_by(|a, b| a.to_lowercase() == b.to_lowercase());
    if v.is_empty() {
        return None;
    }
    let alternatives: Vec<String> = v
        .iter()
        .map(|s| {
            // A backslash before an ASCII non-alphanumeric makes it literal in an ARE.
            let mut out = String::with_capacity(s.len() * 2);
            for c in s.chars() {
                if c.is_ascii() && !c.is_ascii_alphanumeric() {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        })
        .collect();
    Some(format!(
        "(^|[^[:alnum:]_])({})(?=[^[:alnum:]_]|$)",
        alternatives.join("|")
    ))
}

/// The person's identifying values, read before they are replaced.
#[derive(Debug, sqlx::FromRow)]
struct Identity {
    nombre: String,
    apellido: String,
    email: String,
    dni: String,
    telefono: Option<String>,
    telegram_id: Option<i64>,
    codigo_interno: Option<String>,
}

impl Identity {
    /// Values that name this person and nobody else: the full name, e-mail, DNI, phone,
    /// Telegram id and internal code. Cleared wherever the text is about the person.
    fn unambiguous(&self) -> Vec<String> {
        let (n, a) = (self.nombre.trim(), self.apellido.trim());
        let mut v = vec![
            format!("{n} {a}"),
            format!("{a} {n}"),
            format!("{a}, {n}"),
            self.email.clone(),
            self.dni.clone(),
        ];
        v.extend(self.telefono.clone());
        v.extend(self.telegram_id.map(|t| t.to_string()));
        v.extend(self.codigo_interno.clone());
        v
    }

    /// Plus the first name and the surname on their own, which other people may share: cleared
    /// only from text the person wrote or that was written on their behalf.
    fn all(&self) -> Vec<String> {
        let mut v = self.unambiguous();
        v.push(self.nombre.clone());
        v.push(self.apellido.clone());
        v
    }
}

/// The tasks whose text may be about the person: created by, delegated to or assigned to them,
/// dispatched to or answered by them, carrying their Telegram id, or with a step they wrote.
/// $1 is the user id, $4 their Telegram id (or NULL).
const LINKED_TASKS: &str = "
    WITH mine AS (SELECT id FROM efectivos WHERE usuario_id = $1)
    SELECT t.id FROM tareas t
    WHERE t.creado_por_usuario_id = $1 OR t.delegado_usuario_id = $1
       OR t.efectivos_asignados && ARRAY(SELECT id FROM mine)
       OR ($4::int8 IS NOT NULL AND t.extra_data ->> 'telegram_id' = $4::int8::text)
    UNION SELECT te.tarea_id FROM tarea_efectivos te JOIN mine m ON m.id = te.efectivo_id
    UNION SELECT d.tarea_id FROM despachos d JOIN mine m ON m.id = d.efectivo_id
    UNION SELECT d.tarea_id FROM despachos d WHERE d.respondido_por = $1
    UNION SELECT h.tarea_id FROM historial_estados h WHERE h.usuario_id = $1";

/// Clears the person from the free text and data kept with operational records: their own
/// reasons for declining a dispatch (and the copy in the task's timeline), their values in the
/// titles and descriptions of the tasks, the state-history notes and the dispatch reasons about
/// them (first name and surname alone only where they wrote it or it was written for them: a
/// task they created, as the bot does), and their Telegram id in the task data. Other people's
/// values in the same rows stay. Answers the rows changed.
async fn clear_free_text(
    db: &mut PgConnection,
    user_id: i64,
    who: &Identity,
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    // Their reasons: what an officer says when declining is about themselves.
    let reasons: Vec<(i64, String)> = sqlx::query_as(
        "UPDATE despachos d SET motivo = $2 FROM despachos o
         WHERE d.id = o.id AND d.respondido_por = $1 AND d.motivo IS NOT NULL AND d.motivo <> $2
         RETURNING d.tarea_id, o.motivo",
    )
    .bind(user_id)
    .bind(ERASED)
    .fetch_all(&mut *db)
    .await?;
    changed += reasons.len() as u64;
    // The timeline step the answer wrote quotes the reason: "efectivo N: rechazado (reason)".
    for (tarea_id, reason) in &reasons {
        changed += sqlx::query(
            "UPDATE historial_estados SET nota = replace(nota, '(' || $3 || ')', '(' || $4 || ')')
             WHERE tarea_id = $2 AND usuario_id = $1 AND strpos(nota, '(' || $3 || ')') > 0",
        )
        .bind(user_id)
        .bind(tarea_id)
        .bind(reason)
        .bind(ERASED)
        .execute(&mut *db)
        .await?
        .rows_affected();
    }
    let replacement = format!("\\1{ERASED}");
    let (Some(all), Some(unambiguous)) = (
        identifiers_pattern(&who.all()),
        identifiers_pattern(&who.unambiguous()),
    ) else {
        return Ok(changed);
    };
    // Tasks: every value of the person in those they created, the unambiguous ones elsewhere.
    changed += sqlx::query(&format!(
        "UPDATE tareas t
         SET titulo = regexp_replace(t.titulo, p.pat, $2, 'gi'),
             descripcion = regexp_replace(t.descripcion, p.pat, $2, 'gi')
         FROM (SELECT l.id,
                      CASE WHEN x.creado_por_usuario_id = $1 THEN $3 ELSE $5 END AS pat
               FROM ({LINKED_TASKS}) l JOIN tareas x ON x.id = l.id) p
         WHERE t.id = p.id AND (t.titulo ~* p.pat OR t.descripcion ~* p.pat)"
    ))
    .bind(user_id)
    .bind(&replacement)
    .bind(&all)
    .bind(who.telegram_id)
    .bind(&unambiguous)
    .execute(&mut *db)
    .await?
    .rows_affected();
    // State history: every value in the notes they wrote, the unambiguous ones in the other
    // notes of those tasks.
    changed += sqlx::query(&format!(
        "UPDATE historial_estados h
         SET nota = regexp_replace(h.nota, CASE WHEN h.usuario_id = $1 THEN $3 ELSE $5 END, $2, 'gi')
         WHERE h.nota IS NOT NULL
           AND (h.usuario_id = $1 OR h.tarea_id IN ({LINKED_TASKS}))
           AND h.nota ~* (CASE WHEN h.usuario_id = $1 THEN $3 ELSE $5 END)"
    ))
    .bind(user_id)
    .bind(&replacement)
    .bind(&all)
    .bind(who.telegram_id)
    .bind(&unambiguous)
    .execute(&mut *db)
    .await?
    .rows_affected();
    // Dispatch reasons others gave about them.
    changed += sqlx::query(&format!(
        "UPDATE despachos d SET motivo = regexp_replace(d.motivo, $3, $2, 'gi')
         WHERE d.motivo IS NOT NULL AND d.motivo ~* $3
           AND (d.efectivo_id IN (SELECT id FROM efectivos WHERE usuario_id = $1)
                OR d.tarea_id IN ({LINKED_TASKS}))"
    ))
    .bind(user_id)
    .bind(&replacement)
    .bind(&unambiguous)
    .bind(who.telegram_id)
    .execute(&mut *db)
    .await?
    .rows_affected();
    // Their Telegram id in the task data: the one the bot writes into the emergencies they
    // raise, or their current id given by someone else.
    changed += sqlx::query(
        "UPDATE tareas SET extra_data = extra_data - 'telegram_id'
         WHERE extra_data ? 'telegram_id'
           AND (creado_por_usuario_id = $1
                OR ($2::int8 IS NOT NULL AND extra_data ->> 'telegram_id' = $2::int8::text))",
    )
    .bind(user_id)
    .bind(who.telegram_id)
    .execute(&mut *db)
    .await?
    .rows_affected();
    // The person as the caller of an incident (their phone, e-mail or id number in the
    // caller's fields, wherever the incident is): the caller is cleared, the incident and its
    // address stay; their values in the reference and closing summary of linked incidents go.
    changed += sqlx::query(
        "UPDATE tareas SET denunciante_nombre = NULL, denunciante_telefono = NULL
         WHERE denunciante_nombre ~* $1 OR denunciante_telefono ~* $1",
    )
    .bind(&unambiguous)
    .execute(&mut *db)
    .await?
    .rows_affected();
    changed += sqlx::query(&format!(
        "UPDATE tareas t
         SET referencia = regexp_replace(t.referencia, $3, $2, 'gi'),
             resumen_cierre = regexp_replace(t.resumen_cierre, $3, $2, 'gi')
         WHERE t.id IN ({LINKED_TASKS}) AND (t.referencia ~* $3 OR t.resumen_cierre ~* $3)"
    ))
    .bind(user_id)
    .bind(&replacement)
    .bind(&unambiguous)
    .bind(who.telegram_id)
    .execute(&mut *db)
    .await?
    .rows_affected();
    Ok(changed)
}

/// Replaces every personal field with a pseudonym derived from the user's uuid, clears the
/// person from the free text of operational records ([`clear_free_text`]), deletes the
/// location history, the one-time credentials and the emergency request keys, destroys the
/// person's audit key (their values inside audit rows become unreadable) and cuts every token
/// (tokens_valid_after, the user is deactivated and soft-deleted). Tasks, dispatches, history
/// and audit rows are kept: they point at the same (now pseudonymous) user id.
pub async fn anonymise(
    db: &mut PgConnection,
    target: &EraseTarget,
    reason: &str,
    by: i64,
) -> Result<EraseCounts, sqlx::Error> {
    let who: Identity = sqlx::query_as(
        "SELECT u.nombre, u.apellido, u.email, u.dni, u.telefono, u.telegram_id, e.codigo_interno
         FROM usuarios u LEFT JOIN efectivos e ON e.usuario_id = u.id WHERE u.id = $1",
    )
    .bind(target.id)
    .fetch_one(&mut *db)
    .await?;
    let mut counts = EraseCounts {
        textos_depurados: clear_free_text(db, target.id, &who).await?,
        ..Default::default()
    };
    let pseudo = format!("anon-{}", target.uuid.simple());
    sqlx::query(
        "UPDATE usuarios SET
            email = $2 || '@anonimizado.invalid', dni = $2, nombre = 'Anonimizado', apellido = 'Anonimizado',
            telefono = NULL, telegram_id = NULL, hashed_password = '!', verificado = false,
            ultimo_acceso = NULL, intentos_fallidos = 0, bloqueado_hasta = NULL,
            tokens_valid_after = now(), deleted_at = COALESCE(deleted_at, now()),
            extra_data = jsonb_build_object('anonimizado_en', now(), 'anonimizado_por', $3::int8,
                                            'motivo', $4::text)
         WHERE id = $1",
    )
    .bind(target.id)
    .bind(&pseudo)
    .bind(by)
    .bind(reason)
    .execute(&mut *db)
    .await?;
    if let Some(ef) = target.efectivo_id {
        sqlx::query(
            "UPDATE efectivos SET codigo_interno = $2, rango = NULL, unidad = NULL, especialidad = NULL,
                    geom = NULL, ubicacion_accuracy_m = NULL,
                    ubicacion_heading = NULL, ubicacion_speed = NULL, ubicacion_updated_at = NULL,
                    metadata = '{}', estado_disponibilidad = 'FUERA_SERVICIO',
                    ultima_actualizacion_estado = now(), deleted_at = COALESCE(deleted_at, now())
             WHERE id = $1",
        )
        .bind(ef)
        .bind(&pseudo)
        .execute(&mut *db)
        .await?;
        counts.ubicaciones_borradas =
            sqlx::query("DELETE FROM efectivo_ubicaciones WHERE efectivo_id = $1")
                .bind(ef)
                .execute(&mut *db)
                .await?
                .rows_affected();
    }
    counts.codigos_telegram_borrados =
        sqlx::query("DELETE FROM telegram_link_codes WHERE user_id = $1")
            .bind(target.id)
            .execute(&mut *db)
            .await?
            .rows_affected();
    // Notices for a chat of theirs that the bot has not sent yet.
    sqlx::query("DELETE FROM telegram_notices WHERE usuario_id = $1 OR telegram_id = $2")
        .bind(target.id)
        .bind(who.telegram_id)
        .execute(&mut *db)
        .await?;
    // The delivery records of the bot's pushes stay (what the desk was told happened); the chat
    // they went to does not.
    sqlx::query("UPDATE entregas SET chat_id = NULL WHERE usuario_id = $1 OR chat_id = $2")
        .bind(target.id)
        .bind(who.telegram_id)
        .execute(&mut *db)
        .await?;
    counts.tickets_ws_borrados = sqlx::query("DELETE FROM ws_tickets WHERE user_id = $1")
        .bind(target.id)
        .execute(&mut *db)
        .await?
        .rows_affected();
    // A bot emergency's key is built from the person's chat (their Telegram id).
    counts.claves_idempotencia_borradas =
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1")
            .bind(target.id)
            .execute(&mut *db)
            .await?
            .rows_affected();
    // The second factor is a credential of the account that no longer exists as such.
    crate::totp::reset(&mut *db, target.id).await?;
    sqlx::query("DELETE FROM login_device_failures WHERE usuario_id = $1")
        .bind(target.id)
        .execute(&mut *db)
        .await?;
    // A jurisdiction is a role of the account that no longer exists as such; the officer's
    // cuadrante watch goes with the officer.
    sqlx::query("DELETE FROM usuario_zonas WHERE usuario_id = $1")
        .bind(target.id)
        .execute(&mut *db)
        .await?;
    if let Some(ef) = target.efectivo_id {
        sqlx::query("DELETE FROM zona_vigilancias WHERE efectivo_id = $1")
            .bind(ef)
            .execute(&mut *db)
            .await?;
    }
    counts.clave_auditoria_destruida = crate::person_keys::destroy(db, target.id).await?;
    // Every token issued until now is refused (`tokens_valid_after` above).
    counts.tokens_revocados = true;
    Ok(counts)
}

// ---------------------------------------------------------------------------------------------
// Data map

/// One column of the schema with its comment (the data map's source).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ColumnInfo {
    pub tabla: String,
    pub columna: String,
    pub tipo: String,
    pub comentario: Option<String>,
}

/// Every column of every base table in `public` (PostGIS's own table and partitions excluded),
/// with its comment.
pub async fn schema_columns<'e, E: PgExecutor<'e>>(
    exec: E,
) -> Result<Vec<ColumnInfo>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.table_name::text AS tabla, c.column_name::text AS columna,
                CASE WHEN c.data_type = 'USER-DEFINED' THEN c.udt_name ELSE c.data_type END::text AS tipo,
                col_description(format('public.%I', c.table_name)::regclass, c.ordinal_position::int) AS comentario
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.table_name NOT IN ('spatial_ref_sys', '_sqlx_migrations')
           -- A day partition of the position history is described by its parent.
           AND NOT (SELECT k.relispartition FROM pg_class k
                    WHERE k.oid = format('public.%I', c.table_name)::regclass)
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(exec)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_pattern_escapes_orders_longest_first_and_skips_short_values() {
        let p = identifiers_pattern(&[
            "Ana".into(),
            "ana.p+x@correo.gad".into(),
            "Ana Pérez".into(),
            "ab".into(),
            "ANA".into(),
        ])
        .unwrap();
        assert_eq!(
            p,
            "(^|[^[:alnum:]_])(ana\\.p\\+x\\@correo\\.gad|Ana\\ Pérez|Ana)(?=[^[:alnum:]_]|$)"
        );
        assert_eq!(identifiers_pattern(&["ab".into(), " ".into()]), None);
    }
}
