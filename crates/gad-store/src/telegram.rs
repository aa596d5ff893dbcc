//! Telegram linking. The one-time codes are created by
//! `POST /api/v1/users/me/telegram-link` and stored as their SHA-256 only; only the bot redeems
//! them, because only the bot knows which Telegram account is talking (no public endpoint trusts
//! a `telegram_id` it is sent). Redeeming claims a code for a Telegram account for
//! `CLAIM_SECONDS`; the link is made when the officer confirms in the chat. The audit rows and
//! the transaction around these steps are the service layer's.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// How long a claimed code waits for the officer's [Sí] / [No].
pub const CLAIM_SECONDS: i64 = 120;

/// What claiming a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The code is now this Telegram account's, for `CLAIM_SECONDS`, waiting for confirmation.
    Pending {
        user_id: i64,
        nombre: String,
        apellido: String,
    },
    /// Unknown, already used, expired, or waiting for another Telegram account's answer.
    InvalidCode,
    /// The code's user is deleted or not verified (the code is left as it was).
    Inactive,
}

/// Claims the live code whose hash is `code_hash` for `telegram_id`, in one transaction: a
/// claim of this account on another code is dropped, so the account confirms one thing.
pub async fn claim_link_code(
    db: &PgPool,
    code_hash: &str,
    telegram_id: i64,
) -> Result<Claim, sqlx::Error> {
    let mut tx = db.begin().await?;
    let row: Option<(i64, String, String, bool)> = sqlx::query_as(concat!(
        "SELECT c.user_id, u.nombre, u.apellido, ",
        crate::active_user!("u"),
        " AS active
         FROM telegram_link_codes c JOIN usuarios u ON u.id = c.user_id
         WHERE c.code = $1 AND c.used_at IS NULL AND c.expires_at > now()
           AND (c.pending_until IS NULL OR c.pending_until <= now() OR c.pending_telegram_id = $2)
         FOR UPDATE OF c"
    ))
    .bind(code_hash)
    .bind(telegram_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, nombre, apellido, active)) = row else {
        return Ok(Claim::InvalidCode);
    };
    if !active {
        return Ok(Claim::Inactive);
    }
    sqlx::query(
        "UPDATE telegram_link_codes SET pending_telegram_id = NULL, pending_until = NULL
         WHERE pending_telegram_id = $2 AND used_at IS NULL AND code <> $1",
    )
    .bind(code_hash)
    .bind(telegram_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE telegram_link_codes
         SET pending_telegram_id = $2, pending_until = now() + make_interval(secs => $3)
         WHERE code = $1",
    )
    .bind(code_hash)
    .bind(telegram_id)
    .bind(CLAIM_SECONDS as f64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Claim::Pending {
        user_id,
        nombre,
        apellido,
    })
}

/// Spends the code `telegram_id` claimed and that still waits for an answer; its user, if any.
pub async fn take_claim(
    db: &mut PgConnection,
    telegram_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE telegram_link_codes SET used_at = now(), pending_until = NULL
         WHERE code = (SELECT code FROM telegram_link_codes
                       WHERE pending_telegram_id = $1 AND pending_until > now() AND used_at IS NULL
                       ORDER BY pending_until DESC LIMIT 1 FOR UPDATE)
         RETURNING user_id",
    )
    .bind(telegram_id)
    .fetch_optional(db)
    .await
}

/// The user `user_id` as linking needs it, locked: (nombre, the Telegram account linked now);
/// `None` when the user is not active.
pub async fn lock_active_user(
    db: &mut PgConnection,
    user_id: i64,
) -> Result<Option<(String, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT nombre, telegram_id FROM usuarios WHERE id = $1 AND ",
        crate::active_user!(),
        " FOR UPDATE"
    ))
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Links `telegram_id` to `user_id`; the users it was linked to before (their link moves here).
pub async fn set_link(
    db: &mut PgConnection,
    user_id: i64,
    telegram_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let previous: Vec<i64> = sqlx::query_scalar(
        "UPDATE usuarios SET telegram_id = NULL, updated_at = now()
         WHERE telegram_id = $1 AND id <> $2 RETURNING id",
    )
    .bind(telegram_id)
    .bind(user_id)
    .fetch_all(&mut *db)
    .await?;
    sqlx::query("UPDATE usuarios SET telegram_id = $1, updated_at = now() WHERE id = $2")
        .bind(telegram_id)
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    Ok(previous)
}

/// Removes the Telegram link of `user_id` and voids the user's codes not yet redeemed; the
/// Telegram account it had, if any.
pub async fn clear_link(db: &mut PgConnection, user_id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("DELETE FROM telegram_link_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    let old: Option<Option<i64>> = sqlx::query_scalar(
        "WITH old AS (SELECT id, telegram_id FROM usuarios WHERE id = $1 FOR UPDATE)
         UPDATE usuarios u SET telegram_id = NULL, updated_at = now()
         FROM old WHERE u.id = old.id AND old.telegram_id IS NOT NULL
         RETURNING old.telegram_id",
    )
    .bind(user_id)
    .fetch_optional(&mut *db)
    .await?;
    Ok(old.flatten())
}

/// The user linked to `telegram_id`, if any (locked, whatever their state).
pub async fn user_of(db: &mut PgConnection, telegram_id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM usuarios WHERE telegram_id = $1 FOR UPDATE")
        .bind(telegram_id)
        .fetch_optional(db)
        .await
}

/// Declines the code `telegram_id` claimed: it is spent, nothing is linked. Its user, if any.
pub async fn decline_claim(db: &PgPool, telegram_id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE telegram_link_codes SET used_at = now(), pending_until = NULL
         WHERE pending_telegram_id = $1 AND pending_until > now() AND used_at IS NULL
         RETURNING user_id",
    )
    .bind(telegram_id)
    .fetch_optional(db)
    .await
}

/// Queues what the bot must tell the chat `telegram_id` about its link (`motivo`: a code).
pub async fn queue_notice(
    db: &mut PgConnection,
    telegram_id: i64,
    usuario_id: i64,
    motivo: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO telegram_notices (telegram_id, usuario_id, motivo) VALUES ($1, $2, $3)",
    )
    .bind(telegram_id)
    .bind(usuario_id)
    .bind(motivo)
    .execute(db)
    .await?;
    Ok(())
}

/// A queued notice, taken (deleted) by the bot that will send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedNotice {
    pub id: i64,
    pub telegram_id: i64,
    pub motivo: String,
    pub created_at: DateTime<Utc>,
}

/// Takes up to `limit` queued notices, oldest first; rows another bot is taking are skipped.
pub async fn take_notices(db: &PgPool, limit: i64) -> Result<Vec<QueuedNotice>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM telegram_notices WHERE id IN (
            SELECT id FROM telegram_notices ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, telegram_id, motivo, created_at",
    )
    .bind(limit)
    .fetch_all(db)
    .await
    .map(|mut rows: Vec<QueuedNotice>| {
        rows.sort_by_key(|n| n.id);
        rows
    })
}

/// The active user a Telegram account is linked to (loaded afresh for every update, so a
/// deactivation or deletion takes effect at once).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkedUser {
    pub id: i64,
    pub nivel: String,
    pub nombre: String,
    pub efectivo_id: Option<i64>,
}

pub async fn linked_user(db: &PgPool, telegram_id: i64) -> Result<Option<LinkedUser>, sqlx::Error> {
    sqlx::query_as(
        concat!(
            "SELECT u.id, u.nivel::text AS nivel, u.nombre,
                (SELECT e.id FROM efectivos e WHERE e.usuario_id = u.id AND e.deleted_at IS NULL) AS efectivo_id
         FROM usuarios u
         WHERE u.telegram_id = $1 AND ",
            crate::active_user!("u")
        ),
    )
    .bind(telegram_id)
    .fetch_optional(db)
    .await
}

/// The Telegram chats of these users (linked, live and verified ones only).
pub async fn chats_of(db: &PgPool, users: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT telegram_id FROM usuarios
         WHERE id = ANY($1) AND telegram_id IS NOT NULL AND ",
        crate::active_user!()
    ))
    .bind(users)
    .fetch_all(db)
    .await
}
