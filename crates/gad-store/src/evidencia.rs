//! Notes and attachments of a task (append-only: the tables refuse UPDATE and DELETE), the
//! rows the task's timeline is built from, and the Telegram messages the bot sent about a task.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// The author's display name: "Nombre Apellido" of a user (alias `u`), NULL without one.
const AUTOR_NOMBRE: &str = "NULLIF(btrim(concat_ws(' ', u.nombre, u.apellido)), '')";

/// One note, with its author's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotaRow {
    pub id: i64,
    pub tarea_id: i64,
    pub autor_usuario_id: Option<i64>,
    pub autor_nombre: Option<String>,
    pub texto: String,
    pub origen: String,
    pub created_at: DateTime<Utc>,
}

/// Appends a note.
pub async fn insert_nota(
    db: &mut PgConnection,
    tarea_id: i64,
    autor: i64,
    texto: &str,
    origen: &str,
) -> Result<NotaRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH n AS (
            INSERT INTO tarea_notas (tarea_id, autor_usuario_id, texto, origen)
            VALUES ($1, $2, $3, $4) RETURNING *)
         SELECT n.id, n.tarea_id, n.autor_usuario_id, {AUTOR_NOMBRE} AS autor_nombre, n.texto,
                n.origen, n.created_at
         FROM n LEFT JOIN usuarios u ON u.id = n.autor_usuario_id"
    ))
    .bind(tarea_id)
    .bind(autor)
    .bind(texto)
    .bind(origen)
    .fetch_one(db)
    .await
}

/// The task's notes, oldest first.
pub async fn list_notas<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<NotaRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT n.id, n.tarea_id, n.autor_usuario_id, {AUTOR_NOMBRE} AS autor_nombre, n.texto,
                n.origen, n.created_at
         FROM tarea_notas n LEFT JOIN usuarios u ON u.id = n.autor_usuario_id
         WHERE n.tarea_id = $1 ORDER BY n.id"
    ))
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

/// One attachment's record, with its author's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdjuntoRow {
    pub id: i64,
    pub tarea_id: i64,
    pub autor_usuario_id: Option<i64>,
    pub autor_nombre: Option<String>,
    pub nombre: String,
    pub tipo: String,
    pub bytes: i64,
    pub sha256: String,
    pub clave: String,
    pub origen: String,
    pub created_at: DateTime<Utc>,
}

/// What an attachment's record holds (the bytes are already in the object store).
pub struct NewAdjunto<'a> {
    pub tarea_id: i64,
    pub autor: i64,
    pub nombre: &'a str,
    pub tipo: &'a str,
    pub bytes: i64,
    pub sha256: &'a str,
    pub clave: &'a str,
    pub origen: &'a str,
}

const ADJUNTO_COLUMNS: &str = "a.id, a.tarea_id, a.autor_usuario_id, NULLIF(btrim(concat_ws(' ', u.nombre, u.apellido)), '') AS autor_nombre,
    a.nombre, a.tipo, a.bytes, a.sha256, a.clave, a.origen, a.created_at";

pub async fn insert_adjunto(
    db: &mut PgConnection,
    n: &NewAdjunto<'_>,
) -> Result<AdjuntoRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH a AS (
            INSERT INTO tarea_adjuntos (tarea_id, autor_usuario_id, nombre, tipo, bytes, sha256, clave, origen)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *)
         SELECT {ADJUNTO_COLUMNS} FROM a LEFT JOIN usuarios u ON u.id = a.autor_usuario_id"
    ))
    .bind(n.tarea_id)
    .bind(n.autor)
    .bind(n.nombre)
    .bind(n.tipo)
    .bind(n.bytes)
    .bind(n.sha256)
    .bind(n.clave)
    .bind(n.origen)
    .fetch_one(db)
    .await
}

/// The task's attachments, oldest first.
pub async fn list_adjuntos<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<AdjuntoRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADJUNTO_COLUMNS} FROM tarea_adjuntos a LEFT JOIN usuarios u ON u.id = a.autor_usuario_id
         WHERE a.tarea_id = $1 ORDER BY a.id"
    ))
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

/// One attachment of this task.
pub async fn get_adjunto<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
    id: i64,
) -> Result<Option<AdjuntoRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADJUNTO_COLUMNS} FROM tarea_adjuntos a LEFT JOIN usuarios u ON u.id = a.autor_usuario_id
         WHERE a.tarea_id = $1 AND a.id = $2"
    ))
    .bind(tarea_id)
    .bind(id)
    .fetch_optional(exec)
    .await
}

/// An attachment as the audit trail knows it: its object key, the hash in its record and the
/// hash its audit row holds (None when no audit row names it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditedAdjunto {
    pub id: i64,
    pub clave: String,
    pub sha256: String,
    pub audited_sha256: Option<String>,
}

/// Every attachment with the SHA-256 its audit row recorded, for `gad audit verify --adjuntos`.
pub async fn audited_adjuntos<'e, E: PgExecutor<'e>>(
    exec: E,
) -> Result<Vec<AuditedAdjunto>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.clave, a.sha256,
                (SELECT l.new_values->>'sha256' FROM audit_logs l
                 WHERE l.event_type = 'task_attachment_added' AND l.resource_type = 'tarea_adjunto'
                   AND l.resource_id = a.id::text
                 ORDER BY l.chain_seq NULLS LAST, l.id LIMIT 1) AS audited_sha256
         FROM tarea_adjuntos a ORDER BY a.id",
    )
    .fetch_all(exec)
    .await
}

// ---------------------------------------------------------------------------------------------
// Timeline sources

/// A history row with its author's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoriaRow {
    pub id: i64,
    pub estado_anterior: Option<String>,
    pub estado_nuevo: String,
    pub usuario_id: Option<i64>,
    pub usuario_nombre: Option<String>,
    pub nota: Option<String>,
    pub evento: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn historia<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<HistoriaRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT h.id, h.estado_anterior::text AS estado_anterior, h.estado_nuevo::text AS estado_nuevo,
                h.usuario_id, {AUTOR_NOMBRE} AS usuario_nombre, h.nota, h.evento, h.created_at
         FROM historial_estados h LEFT JOIN usuarios u ON u.id = h.usuario_id
         WHERE h.tarea_id = $1 ORDER BY h.id"
    ))
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

/// A dispatch with the called officer's user and who answered.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DespachoRow {
    pub id: i64,
    pub efectivo_id: i64,
    pub efectivo_usuario_id: Option<i64>,
    pub efectivo_nombre: Option<String>,
    pub intento: i32,
    pub refuerzo: bool,
    pub estado: String,
    pub distancia_m: Option<f64>,
    pub asignado_at: DateTime<Utc>,
    pub respondido_at: Option<DateTime<Utc>>,
    pub respondido_por: Option<i64>,
    pub respondido_por_nombre: Option<String>,
    pub motivo: Option<String>,
    pub llegada_at: Option<DateTime<Utc>>,
}

pub async fn despachos<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<DespachoRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.efectivo_id, e.usuario_id AS efectivo_usuario_id,
                NULLIF(btrim(concat_ws(' ', u.nombre, u.apellido)), '') AS efectivo_nombre,
                d.intento, d.refuerzo, d.estado, d.distancia_m, d.asignado_at, d.respondido_at,
                d.respondido_por,
                NULLIF(btrim(concat_ws(' ', r.nombre, r.apellido)), '') AS respondido_por_nombre,
                d.motivo, d.llegada_at
         FROM despachos d
         JOIN efectivos e ON e.id = d.efectivo_id
         LEFT JOIN usuarios u ON u.id = e.usuario_id
         LEFT JOIN usuarios r ON r.id = d.respondido_por
         WHERE d.tarea_id = $1 ORDER BY d.id",
    )
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

// ---------------------------------------------------------------------------------------------
// Visibility beyond the task's own rule

/// Is this officer on the task's dispatch (called and not declined/expired) or assigned to it?
/// One statement, read without locking.
pub async fn officer_on_task<'e, E: PgExecutor<'e>>(
    exec: E,
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
    .fetch_one(exec)
    .await
}

/// The officer's current incident: the most recent live, open task they are dispatched to
/// (pending or accepted) or assigned to, emergencies first.
pub async fn current_task_of<'e, E: PgExecutor<'e>>(
    exec: E,
    efectivo_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT t.id FROM tareas t
         WHERE t.deleted_at IS NULL AND ",
        crate::open_task!("t"),
        " AND (EXISTS (SELECT 1 FROM despachos d WHERE d.tarea_id = t.id AND d.efectivo_id = $1
                         AND d.estado IN ('PENDIENTE', 'ACEPTADO'))
                OR t.efectivos_asignados @> ARRAY[$1::int8])
         ORDER BY t.es_emergencia DESC, t.created_at DESC, t.id DESC LIMIT 1"
    ))
    .bind(efectivo_id)
    .fetch_optional(exec)
    .await
}

/// The users of the officers on the task (assigned, or dispatched and not declined/expired).
pub async fn task_officer_users<'e, E: PgExecutor<'e>>(
    exec: E,
    tarea_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT e.usuario_id FROM efectivos e
         WHERE e.usuario_id IS NOT NULL AND e.deleted_at IS NULL AND e.id IN (
            SELECT efectivo_id FROM tarea_efectivos WHERE tarea_id = $1
            UNION SELECT efectivo_id FROM despachos WHERE tarea_id = $1 AND estado IN ('PENDIENTE', 'ACEPTADO'))",
    )
    .bind(tarea_id)
    .fetch_all(exec)
    .await
}

// ---------------------------------------------------------------------------------------------
// Telegram messages about a task

/// Remembers that the bot sent `message_id` in `chat_id` about this task.
pub async fn remember_message<'e, E: PgExecutor<'e>>(
    exec: E,
    chat_id: i64,
    message_id: i64,
    tarea_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO telegram_mensajes_tarea (chat_id, message_id, tarea_id) VALUES ($1, $2, $3)
         ON CONFLICT (chat_id, message_id) DO UPDATE SET tarea_id = EXCLUDED.tarea_id, sent_at = now()",
    )
    .bind(chat_id)
    .bind(message_id)
    .bind(tarea_id)
    .execute(exec)
    .await?;
    Ok(())
}

/// The task a bot message was about.
pub async fn task_of_message<'e, E: PgExecutor<'e>>(
    exec: E,
    chat_id: i64,
    message_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT tarea_id FROM telegram_mensajes_tarea WHERE chat_id = $1 AND message_id = $2",
    )
    .bind(chat_id)
    .bind(message_id)
    .fetch_optional(exec)
    .await
}
