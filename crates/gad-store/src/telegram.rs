//! Telegram linking. The one-time codes are created by
//! `POST /api/v1/users/me/telegram-link`; only the bot redeems them, because only the bot knows
//! which Telegram account is talking (no public endpoint trusts a `telegram_id` it is sent).

use sqlx::PgPool;

use crate::audit::{self, AuditEntry, RequestContext};

/// What redeeming a code did.
#[derive(Debug, Clone, PartialEq)]
pub enum Redeemed {
    /// The user is now linked to the Telegram account.
    Linked { user_id: i64, nombre: String },
    /// Unknown, already used or expired code.
    InvalidCode,
    /// The code's user is deleted or not verified (the code is left unused).
    Inactive,
}

/// Redeems `code` for `telegram_id` in one transaction: the code is marked used (single use,
/// not expired), the Telegram account moves to its user (a previous link of this account to
/// another user is dropped) and an audit row is written.
pub async fn redeem_link_code(
    db: &PgPool,
    code: &str,
    telegram_id: i64,
    ctx: &RequestContext,
) -> Result<Redeemed, sqlx::Error> {
    let code = code.trim().to_uppercase();
    let mut tx = db.begin().await?;
    let user_id: Option<i64> = sqlx::query_scalar(
        "UPDATE telegram_link_codes SET used_at = now()
         WHERE code = $1 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id",
    )
    .bind(&code)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user_id) = user_id else {
        return Ok(Redeemed::InvalidCode);
    };
    let nombre: Option<String> = sqlx::query_scalar(concat!(
        "SELECT nombre FROM usuarios WHERE id = $1 AND ",
        crate::active_user!(),
        " FOR UPDATE"
    ))
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(nombre) = nombre else {
        tx.rollback().await?;
        return Ok(Redeemed::Inactive);
    };
    sqlx::query("UPDATE usuarios SET telegram_id = NULL WHERE telegram_id = $1 AND id <> $2")
        .bind(telegram_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE usuarios SET telegram_id = $1, updated_at = now() WHERE id = $2")
        .bind(telegram_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("telegram_linked", Some(user_id))
            .resource("usuario", user_id)
            .describe("Telegram account linked with a one-time code")
            .status(200)
            .context(ctx),
    )
    .await?;
    tx.commit().await?;
    Ok(Redeemed::Linked { user_id, nombre })
}

/// Drops the link of `telegram_id`; returns the user it belonged to, if any.
pub async fn unlink(
    db: &PgPool,
    telegram_id: i64,
    ctx: &RequestContext,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let user_id: Option<i64> = sqlx::query_scalar(
        "UPDATE usuarios SET telegram_id = NULL, updated_at = now() WHERE telegram_id = $1 RETURNING id",
    )
    .bind(telegram_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = user_id {
        audit::record(
            &mut *tx,
            &AuditEntry::new("telegram_unlinked", Some(id))
                .resource("usuario", id)
                .describe("Telegram account unlinked from the bot")
                .status(200)
                .context(ctx),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(user_id)
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
