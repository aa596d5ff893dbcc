//! Single-use WebSocket tickets (`ws_tickets`). Only the SHA-256 of a ticket is stored.

use sqlx::PgExecutor;

/// The user a ticket was issued to, as it stands now.
#[derive(sqlx::FromRow)]
pub struct TicketUser {
    pub id: i64,
    pub nivel: String,
    pub active: bool,
    pub efectivo_id: Option<i64>,
}

pub async fn insert<'e, E: PgExecutor<'e>>(
    exec: E,
    ticket_hash: &str,
    user_id: i64,
    ttl_seconds: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ws_tickets (ticket, user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(ticket_hash)
    .bind(user_id)
    .bind(ttl_seconds)
    .execute(exec)
    .await?;
    Ok(())
}

/// Consumes a ticket: the row is deleted by the first instance that sees it. `None` when
/// unknown, already used or expired.
pub async fn consume<'e, E: PgExecutor<'e>>(
    exec: E,
    ticket_hash: &str,
) -> Result<Option<TicketUser>, sqlx::Error> {
    sqlx::query_as(
        concat!(
            "WITH t AS (DELETE FROM ws_tickets WHERE ticket = $1 RETURNING user_id, expires_at)
         SELECT u.id, u.nivel::text AS nivel, ",
            crate::active_user!("u"),
            " AS active,
                (SELECT e.id FROM efectivos e WHERE e.usuario_id = u.id AND e.deleted_at IS NULL) AS efectivo_id
         FROM t JOIN usuarios u ON u.id = t.user_id
         WHERE t.expires_at > now()"
        ),
    )
    .bind(ticket_hash)
    .fetch_optional(exec)
    .await
}

/// Deletes tickets expired for more than a minute.
pub async fn purge_expired<'e, E: PgExecutor<'e>>(exec: E) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM ws_tickets WHERE expires_at < now() - interval '1 minute'")
        .execute(exec)
        .await?;
    Ok(r.rows_affected())
}
