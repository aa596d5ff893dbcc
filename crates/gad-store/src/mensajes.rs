//! Messages between the desk and the officers, and their per-recipient delivery records.
//! `mensaje_destinatarios` is the bot's durable send queue ([`claim_due`]).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

/// Who a message goes to, already validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Seleccion {
    Efectivos(Vec<i64>),
    Unidad(String),
    /// Officers whose current shift names the zone, or whose last position lies inside it.
    Zona(i64),
    EnTurno,
    /// Officers assigned to the incident, or dispatched to it (pending or accepted).
    Tarea(i64),
    Todos,
}

/// A new message.
pub struct NuevoMensaje<'a> {
    pub autor_usuario_id: Option<i64>,
    pub destino: &'a Value,
    pub texto: &'a str,
    pub prioridad: &'a str,
    pub requiere_confirmacion: bool,
    pub convocatoria: bool,
    pub en_respuesta_a: Option<i64>,
}

/// A message as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MensajeRow {
    pub id: i64,
    pub autor_usuario_id: Option<i64>,
    pub destino: Value,
    pub texto: String,
    pub prioridad: String,
    pub requiere_confirmacion: bool,
    pub convocatoria: bool,
    pub en_respuesta_a: Option<i64>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "m.id, m.autor_usuario_id, m.destino, m.texto, m.prioridad,
    m.requiere_confirmacion, m.convocatoria, m.en_respuesta_a, m.created_at";

pub async fn insert(
    db: &mut PgConnection,
    m: &NuevoMensaje<'_>,
) -> Result<MensajeRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO mensajes AS m (autor_usuario_id, destino, texto, prioridad,
             requiere_confirmacion, convocatoria, en_respuesta_a)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(m.autor_usuario_id)
    .bind(m.destino)
    .bind(m.texto)
    .bind(m.prioridad)
    .bind(m.requiere_confirmacion)
    .bind(m.convocatoria)
    .bind(m.en_respuesta_a)
    .fetch_one(db)
    .await
}

/// The console alarm of an urgent message to the desk (`alertas`, kind `mensaje_urgente`),
/// written with the message so there is no urgent message without its alarm. Names the
/// author's officer record when the author is an officer.
pub async fn insert_alerta_urgente(
    db: &mut PgConnection,
    m: &MensajeRow,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO alertas (kind, severity, efectivo_id, payload)
         VALUES ('mensaje_urgente', 'warning',
             (SELECT e.id FROM efectivos e WHERE e.usuario_id = $2 AND e.deleted_at IS NULL
              ORDER BY e.id LIMIT 1),
             jsonb_build_object('mensaje_id', $1::int8, 'autor_usuario_id', $2::int8,
                 'texto', left($3, 200)))
         RETURNING id",
    )
    .bind(m.id)
    .bind(m.autor_usuario_id)
    .bind(&m.texto)
    .fetch_one(db)
    .await
}

/// The live efectivos among `ids` (to name the unknown ones).
pub async fn live_efectivos(db: &mut PgConnection, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM efectivos WHERE id = ANY($1) AND deleted_at IS NULL")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// Queues the message for every live officer of the selection (active users only). An officer
/// without a linked Telegram chat is recorded `fallido` ("sin vincular") at once. `on_duty`:
/// the on-duty condition (`turnos::on_duty_sql`) the officers must also meet, when one applies.
pub async fn queue(
    db: &mut PgConnection,
    mensaje_id: i64,
    sel: &Seleccion,
    on_duty: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let cond = match sel {
        Seleccion::Efectivos(_) => "e.id = ANY($2)".to_string(),
        Seleccion::Unidad(_) => "e.unidad = $2".to_string(),
        Seleccion::Zona(_) => "(EXISTS (SELECT 1 FROM turnos tu WHERE tu.efectivo_id = e.id
                AND tu.zona_id = $2 AND tu.cancelado_por_licencia IS NULL
                AND tu.egreso_at IS NULL AND tu.inicio <= now() AND tu.fin > now())
             OR (e.geom IS NOT NULL AND EXISTS (SELECT 1 FROM zonas z
                WHERE z.id = $2 AND ST_Covers(z.geom, e.geom::geometry))))"
            .to_string(),
        Seleccion::EnTurno | Seleccion::Todos => "true".to_string(),
        Seleccion::Tarea(_) => "(EXISTS (SELECT 1 FROM tarea_efectivos te
                WHERE te.tarea_id = $2 AND te.efectivo_id = e.id)
             OR EXISTS (SELECT 1 FROM tareas t WHERE t.id = $2 AND e.id = ANY(t.efectivos_asignados))
             OR EXISTS (SELECT 1 FROM despachos d WHERE d.tarea_id = $2 AND d.efectivo_id = e.id
                AND d.estado IN ('PENDIENTE', 'ACEPTADO')))"
            .to_string(),
    };
    let duty = on_duty.map(|d| format!(" AND {d}")).unwrap_or_default();
    let sql = format!(
        "INSERT INTO mensaje_destinatarios (mensaje_id, efectivo_id, usuario_id, chat_id, estado,
             motivo_fallo)
         SELECT $1, e.id, u.id, u.telegram_id,
             CASE WHEN u.telegram_id IS NULL THEN 'fallido' ELSE 'pendiente' END,
             CASE WHEN u.telegram_id IS NULL THEN 'sin vincular' END
         FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE e.deleted_at IS NULL AND {} AND {cond}{duty}
         ORDER BY e.id",
        crate::active_user!("u")
    );
    let q = sqlx::query(&sql).bind(mensaje_id);
    let q = match sel {
        Seleccion::Efectivos(ids) => q.bind(ids.clone()),
        Seleccion::Unidad(u) => q.bind(u.clone()),
        Seleccion::Zona(id) | Seleccion::Tarea(id) => q.bind(*id),
        Seleccion::EnTurno | Seleccion::Todos => q.bind(Option::<i64>::None),
    };
    Ok(q.execute(db).await?.rows_affected())
}

pub async fn zona_exists(db: &mut PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM zonas WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
}

pub async fn tarea_exists(db: &mut PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tareas WHERE id = $1 AND deleted_at IS NULL)")
        .bind(id)
        .fetch_one(db)
        .await
}

/// One recipient's delivery record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DestinatarioRow {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub estado: String,
    pub message_id: Option<i64>,
    pub enviado_at: Option<DateTime<Utc>>,
    pub confirmado_at: Option<DateTime<Utc>>,
    pub motivo_fallo: Option<String>,
}

pub async fn by_id(db: &PgPool, id: i64) -> Result<Option<MensajeRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM mensajes m WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn destinatarios<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    mensaje_id: i64,
) -> Result<Vec<DestinatarioRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT efectivo_id, usuario_id, estado, message_id, enviado_at, confirmado_at, motivo_fallo
         FROM mensaje_destinatarios WHERE mensaje_id = $1 ORDER BY efectivo_id",
    )
    .bind(mensaje_id)
    .fetch_all(db)
    .await
}

/// Whether `usuario_id` is a recipient of the message.
pub async fn is_recipient(
    db: &PgPool,
    mensaje_id: i64,
    usuario_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mensaje_destinatarios WHERE mensaje_id = $1 AND usuario_id = $2)",
    )
    .bind(mensaje_id)
    .bind(usuario_id)
    .fetch_one(db)
    .await
}

/// Messages `usuario_id` sent or received, and (`centro`) every message to the desk; newest first.
pub async fn list(
    db: &PgPool,
    usuario_id: i64,
    centro: bool,
    skip: i64,
    limit: i64,
) -> Result<Vec<MensajeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM mensajes m
         WHERE m.autor_usuario_id = $1
            OR EXISTS (SELECT 1 FROM mensaje_destinatarios md
                       WHERE md.mensaje_id = m.id AND md.usuario_id = $1)
            OR ($2 AND m.destino ? 'centro')
         ORDER BY m.id DESC OFFSET $3 LIMIT $4"
    ))
    .bind(usuario_id)
    .bind(centro)
    .bind(skip)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// A recipient row claimed for sending.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Envio {
    pub id: i64,
    pub mensaje_id: i64,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub autor_usuario_id: Option<i64>,
    /// The chat as linked now (NULL: unlinked since the message was queued).
    pub chat_id: Option<i64>,
    pub texto: String,
    pub prioridad: String,
    pub requiere_confirmacion: bool,
    pub intentos: i32,
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` due pending rows (urgent first, then oldest), leasing them for
/// `lease_s` seconds: another bot skips them (SKIP LOCKED now, the lease afterwards), and a bot
/// that dies mid-send leaves them to be claimed again once the lease runs out.
pub async fn claim_due(db: &PgPool, limit: i64, lease_s: i64) -> Result<Vec<Envio>, sqlx::Error> {
    sqlx::query_as(concat!(
        "WITH due AS (
            SELECT md.id FROM mensaje_destinatarios md JOIN mensajes m ON m.id = md.mensaje_id
            WHERE md.estado = 'pendiente' AND md.proximo_intento_at <= now()
            ORDER BY (m.prioridad = 'urgente') DESC, md.proximo_intento_at, md.id
            LIMIT $1 FOR UPDATE OF md SKIP LOCKED),
         leased AS (
            UPDATE mensaje_destinatarios md
            SET proximo_intento_at = now() + make_interval(secs => $2), intentos = md.intentos + 1
            FROM due WHERE md.id = due.id
            RETURNING md.id, md.mensaje_id, md.efectivo_id, md.usuario_id, md.intentos)
         SELECT l.id, l.mensaje_id, l.efectivo_id, l.usuario_id, m.autor_usuario_id,
             CASE WHEN ",
        crate::active_user!("u"),
        " THEN u.telegram_id END AS chat_id,
             m.texto, m.prioridad, m.requiere_confirmacion, l.intentos, m.created_at
         FROM leased l JOIN mensajes m ON m.id = l.mensaje_id JOIN usuarios u ON u.id = l.usuario_id
         ORDER BY (m.prioridad = 'urgente') DESC, l.id"
    ))
    .bind(limit)
    .bind(lease_s as f64)
    .fetch_all(db)
    .await
}

/// Sent: Telegram's message id and the chat. Only a pending row moves (never back from
/// `confirmado`).
pub async fn mark_sent(
    db: &PgPool,
    id: i64,
    chat_id: i64,
    message_id: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE mensaje_destinatarios SET estado = 'enviado', chat_id = $2, message_id = $3,
             enviado_at = now(), motivo_fallo = NULL
         WHERE id = $1 AND estado = 'pendiente' RETURNING enviado_at",
    )
    .bind(id)
    .bind(chat_id)
    .bind(message_id)
    .fetch_optional(db)
    .await
}

pub async fn mark_failed(db: &PgPool, id: i64, motivo: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE mensaje_destinatarios SET estado = 'fallido', motivo_fallo = $2
         WHERE id = $1 AND estado = 'pendiente'",
    )
    .bind(id)
    .bind(motivo)
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

/// Back to the queue, due in `after_ms` (a 429's `retry_after`, a chat's pace, a backoff).
pub async fn retry_later(
    db: &PgPool,
    id: i64,
    after_ms: i64,
    motivo: Option<&str>,
    count_attempt: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mensaje_destinatarios
         SET proximo_intento_at = now() + make_interval(secs => $2), motivo_fallo = $3,
             intentos = CASE WHEN $4 THEN intentos ELSE greatest(intentos - 1, 0) END
         WHERE id = $1 AND estado = 'pendiente'",
    )
    .bind(id)
    .bind(after_ms as f64 / 1000.0)
    .bind(motivo)
    .bind(count_attempt)
    .execute(db)
    .await?;
    Ok(())
}

/// "Recibido": the recipient `usuario_id` confirms the message. Returns the efectivo and the
/// time, once (a second press changes nothing).
pub async fn confirm(
    db: &PgPool,
    mensaje_id: i64,
    usuario_id: i64,
) -> Result<Option<(i64, DateTime<Utc>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE mensaje_destinatarios md SET estado = 'confirmado', confirmado_at = now()
         FROM mensajes m
         WHERE m.id = md.mensaje_id AND md.mensaje_id = $1 AND md.usuario_id = $2
           AND md.estado = 'enviado'
         RETURNING md.efectivo_id, md.confirmado_at, m.autor_usuario_id",
    )
    .bind(mensaje_id)
    .bind(usuario_id)
    .fetch_optional(db)
    .await
}

/// The message a Telegram message (chat, id) delivered, for a reply to it.
pub async fn by_telegram(
    db: &mut PgConnection,
    chat_id: i64,
    message_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT mensaje_id FROM mensaje_destinatarios WHERE chat_id = $1 AND message_id = $2
         ORDER BY id DESC LIMIT 1",
    )
    .bind(chat_id)
    .bind(message_id)
    .fetch_optional(db)
    .await
}

/// Recipients per (message, state) of these messages.
pub async fn totales(db: &PgPool, ids: &[i64]) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT mensaje_id, estado, count(*) FROM mensaje_destinatarios
         WHERE mensaje_id = ANY($1) GROUP BY 1, 2",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}
