//! Delivery records of the bot's pushes: what was sent to whom about which task, Telegram's
//! answer to the send, and the officer's answer to the buttons.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// A send's outcome, as the bot saw it.
#[derive(Debug, Clone)]
pub struct NewEntrega<'a> {
    pub tipo: &'a str,
    pub usuario_id: Option<i64>,
    pub chat_id: Option<i64>,
    pub tarea_id: Option<i64>,
    pub estado: &'a str,
    pub message_id: Option<i64>,
    pub motivo: Option<&'a str>,
}

/// Records one delivery. The officer and (for a call) the dispatch are resolved here, so the
/// record names the same `despachos` row the answer closes.
pub async fn insert(db: &PgPool, e: &NewEntrega<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO entregas (tipo, usuario_id, efectivo_id, chat_id, tarea_id, despacho_id,
                               estado, message_id, motivo)
         SELECT $1, $2, ef.id, $3, $4,
                (SELECT d.id FROM despachos d
                 WHERE $1 = 'despacho' AND d.tarea_id = $4 AND d.efectivo_id = ef.id
                 ORDER BY d.id DESC LIMIT 1),
                $5, $6, $7
         FROM (SELECT (SELECT id FROM efectivos WHERE usuario_id = $2 ORDER BY id LIMIT 1) AS id) ef
         RETURNING id",
    )
    .bind(e.tipo)
    .bind(e.usuario_id)
    .bind(e.chat_id)
    .bind(e.tarea_id)
    .bind(e.estado)
    .bind(e.message_id)
    .bind(e.motivo)
    .fetch_one(db)
    .await
}

/// Writes the officer's answer on the pushes of this kind about this task that are still
/// unanswered (in the answer's transaction: the record and the answer agree).
pub async fn answered(
    db: &mut PgConnection,
    tipo: &str,
    tarea_id: i64,
    efectivo_id: i64,
    respuesta: &str,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE entregas SET respuesta = $4, respondido_at = now()
         WHERE tipo = $1 AND tarea_id = $2 AND efectivo_id = $3 AND respuesta IS NULL",
    )
    .bind(tipo)
    .bind(tarea_id)
    .bind(efectivo_id)
    .bind(respuesta)
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// A delivery as the incident timeline shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct EntregaRow {
    pub id: i64,
    pub canal: String,
    pub tipo: String,
    pub usuario_id: Option<i64>,
    pub efectivo_id: Option<i64>,
    pub despacho_id: Option<i64>,
    pub estado: String,
    pub message_id: Option<i64>,
    pub motivo: Option<String>,
    pub enviado_at: DateTime<Utc>,
    pub respuesta: Option<String>,
    pub respondido_at: Option<DateTime<Utc>>,
}

/// The deliveries about a task, oldest first.
pub async fn of_task(db: &PgPool, tarea_id: i64) -> Result<Vec<EntregaRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, canal, tipo, usuario_id, efectivo_id, despacho_id, estado, message_id, motivo,
                enviado_at, respuesta, respondido_at
         FROM entregas WHERE tarea_id = $1 ORDER BY id",
    )
    .bind(tarea_id)
    .fetch_all(db)
    .await
}

/// The Telegram chat of each of these active users who linked one: `(usuario_id, chat_id)`.
pub async fn chats_by_user(db: &PgPool, users: &[i64]) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT id, telegram_id FROM usuarios
         WHERE id = ANY($1) AND telegram_id IS NOT NULL AND ",
        crate::active_user!()
    ))
    .bind(users)
    .fetch_all(db)
    .await
}
