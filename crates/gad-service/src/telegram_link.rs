//! A Telegram link is a credential: whoever holds the linked account acts as the officer in the
//! bot. So minting a link code needs the password again, codes are stored only as their
//! SHA-256, redeeming a code in the bot only asks "¿Vincular esta cuenta?" and the link is made by
//! [Sí], and whatever ends a user's sessions — a password change, deactivation, deletion, a level
//! change, "log out everywhere" — ends the link too. Every link made or removed is audited (the
//! Telegram id sealed with the person's key) and a link the server removes is announced to the
//! chat that lost it: a notice queued in the same transaction, which the bot takes and sends.

use chrono::{Duration, Utc};
use gad_core::request_context::RequestContext;
use gad_core::validate::Validate;
use gad_core::{Actor, FieldError};
use gad_store::audit::AuditEntry;
use gad_store::{Conn, DbError, telegram as store, usuarios};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::audit;
use crate::ctx::Ctx;
use crate::error::ServiceResult;
use crate::wire::TelegramLinkCode;

/// How long a link code can be redeemed.
pub const CODE_MINUTES: i64 = 10;
/// A notice the bot could not take within this long is dropped unsent (the chat may belong to
/// someone else by then).
pub const NOTICE_MAX_AGE_HOURS: i64 = 24;

/// Why the server removed a link: the code queued for the bot, which words the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkReason {
    PasswordChanged,
    Deactivated,
    Deleted,
    LevelChanged,
    LoggedOutEverywhere,
    /// An administrator cleared or replaced `telegram_id`.
    Administrator,
    /// The user linked another Telegram account.
    OtherAccount,
}

impl UnlinkReason {
    pub const ALL: [UnlinkReason; 7] = [
        UnlinkReason::PasswordChanged,
        UnlinkReason::Deactivated,
        UnlinkReason::Deleted,
        UnlinkReason::LevelChanged,
        UnlinkReason::LoggedOutEverywhere,
        UnlinkReason::Administrator,
        UnlinkReason::OtherAccount,
    ];

    pub fn code(self) -> &'static str {
        match self {
            UnlinkReason::PasswordChanged => "password_changed",
            UnlinkReason::Deactivated => "deactivated",
            UnlinkReason::Deleted => "deleted",
            UnlinkReason::LevelChanged => "level_changed",
            UnlinkReason::LoggedOutEverywhere => "logged_out_everywhere",
            UnlinkReason::Administrator => "administrator",
            UnlinkReason::OtherAccount => "other_account",
        }
    }

    pub fn from_code(code: &str) -> Option<UnlinkReason> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The body of `POST /users/me/telegram-link`: the password again, because the code it answers
/// is a credential that outlives the token that asked for it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LinkCodeRequest {
    /// The caller's password. A wrong one counts toward the login lockout.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub current_password: Option<String>,
}

impl Validate for LinkCodeRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.current_password.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::body(
                "current_password",
                "missing",
                "Field required",
                Value::Null,
            ));
        }
    }
}

/// Only the SHA-256 of a code is stored (as with WebSocket tickets); codes are read off a
/// screen, so case and surrounding spaces do not matter.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
}

/// A one-time 8-character code (valid `CODE_MINUTES`) that links a Telegram account through the
/// bot, after the caller's password is confirmed (400 if wrong, 423 once locked).
pub async fn issue_code(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    body: &LinkCodeRequest,
) -> ServiceResult<TelegramLinkCode> {
    let password = body.current_password.as_deref().unwrap_or_default();
    crate::auth::confirm_password(ctx, me, origin, password).await?;
    // No 0/O or 1/I: the code is read off a screen and typed.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let code: String = {
        let mut rng = rand::thread_rng();
        (0..8)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    };
    let expires_at = Utc::now() + Duration::minutes(CODE_MINUTES);
    let mut tx = ctx.db.begin().await?;
    usuarios::insert_telegram_link_code(&mut *tx, &code_hash(&code), me.id, expires_at).await?;
    let entry = AuditEntry::new("telegram_link_code_issued", Some(me.id))
        .resource("usuario", me.id)
        .describe("Telegram link code issued after the password was confirmed")
        .status(201)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(TelegramLinkCode { code, expires_at })
}

/// What redeeming a code in the bot found: on `Pending`, the bot asks for confirmation.
pub use gad_store::telegram::Claim as Redeemed;

/// Claims a code for the Telegram account that sent it, for `store::CLAIM_SECONDS`: nothing is
/// linked until the officer confirms.
pub async fn redeem(ctx: &Ctx, code: &str, telegram_id: i64) -> ServiceResult<Redeemed> {
    Ok(store::claim_link_code(&ctx.db, &code_hash(code), telegram_id).await?)
}

/// What confirming did.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmed {
    Linked {
        user_id: i64,
        nombre: String,
    },
    /// No claim of this account is waiting (never made, answered, expired or voided).
    NothingPending,
    /// The code's user is no longer active (nothing linked).
    Inactive,
}

fn tg_values(telegram_id: Option<i64>) -> Value {
    json!({ "telegram_id": telegram_id })
}

/// [Sí]: links the Telegram account to the user whose code it claimed, in one transaction. A
/// previous link of the account to another user is dropped; a previous account of the user is
/// told it was replaced. Audited as `telegram_linked`.
pub async fn confirm(
    ctx: &Ctx,
    telegram_id: i64,
    origin: &RequestContext,
) -> ServiceResult<Confirmed> {
    let mut tx = ctx.db.begin().await?;
    let Some(user_id) = store::take_claim(&mut tx, telegram_id).await? else {
        return Ok(Confirmed::NothingPending);
    };
    let Some((nombre, previous_account)) = store::lock_active_user(&mut tx, user_id).await? else {
        tx.rollback().await?;
        return Ok(Confirmed::Inactive);
    };
    for other in store::set_link(&mut tx, user_id, telegram_id).await? {
        let entry = AuditEntry::new("telegram_unlinked", Some(user_id))
            .resource("usuario", other)
            .values(Some(tg_values(Some(telegram_id))), Some(tg_values(None)))
            .describe("the Telegram account was linked to another user")
            .status(200)
            .context(origin);
        audit::record(ctx, &mut tx, &entry).await?;
    }
    let replaced = previous_account.filter(|old| *old != telegram_id);
    if let Some(old) = replaced {
        store::queue_notice(&mut tx, old, user_id, UnlinkReason::OtherAccount.code()).await?;
    }
    let entry = AuditEntry::new("telegram_linked", Some(user_id))
        .resource("usuario", user_id)
        .values(
            Some(tg_values(previous_account)),
            Some(tg_values(Some(telegram_id))),
        )
        .describe("Telegram account linked with a one-time code, confirmed in the chat")
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Confirmed::Linked { user_id, nombre })
}

/// [No]: the claimed code is spent and nothing is linked. False when nothing was waiting.
pub async fn decline(ctx: &Ctx, telegram_id: i64, origin: &RequestContext) -> ServiceResult<bool> {
    let Some(user_id) = store::decline_claim(&ctx.db, telegram_id).await? else {
        return Ok(false);
    };
    let mut tx = ctx.db.begin().await?;
    let entry = AuditEntry::new("telegram_link_declined", Some(user_id))
        .resource("usuario", user_id)
        .describe("a Telegram account declined the link; the code is spent")
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// `/desvincular` in the bot: drops the Telegram account's link; the user it belonged to.
pub async fn unlink_account(
    ctx: &Ctx,
    telegram_id: i64,
    origin: &RequestContext,
) -> ServiceResult<Option<i64>> {
    let mut tx = ctx.db.begin().await?;
    let Some(user_id) = store::user_of(&mut tx, telegram_id).await? else {
        return Ok(None);
    };
    let old = store::clear_link(&mut tx, user_id).await?;
    let entry = AuditEntry::new("telegram_unlinked", Some(user_id))
        .resource("usuario", user_id)
        .values(Some(tg_values(old)), Some(tg_values(None)))
        .describe("Telegram account unlinked from the bot")
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Some(user_id))
}

/// Ends the user's Telegram link inside the caller's transaction (the change that ends their
/// sessions): the link is cleared, codes not yet redeemed are void, the unlink is audited and
/// the chat's notice is queued for the bot. Answers the Telegram account that was linked.
pub async fn end_link(
    ctx: &Ctx,
    db: &mut Conn,
    actor_id: i64,
    user_id: i64,
    reason: UnlinkReason,
    origin: &RequestContext,
) -> Result<Option<i64>, DbError> {
    let Some(old) = store::clear_link(db, user_id).await? else {
        return Ok(None);
    };
    store::queue_notice(db, old, user_id, reason.code()).await?;
    let entry = AuditEntry::new("telegram_unlinked", Some(actor_id))
        .resource("usuario", user_id)
        .values(Some(tg_values(Some(old))), Some(tg_values(None)))
        .describe(format!("Telegram link ended: {}", reason.code()))
        .status(200)
        .context(origin);
    audit::record(ctx, db, &entry).await?;
    Ok(Some(old))
}

/// A chat to tell that its link was removed.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkNotice {
    pub telegram_id: i64,
    /// `None`: a code this version does not know (a newer server wrote it).
    pub reason: Option<UnlinkReason>,
}

/// Takes up to `limit` queued notices (each is handed to one bot only); those older than
/// `NOTICE_MAX_AGE_HOURS` are dropped unsent.
pub async fn take_notices(ctx: &Ctx, limit: i64) -> ServiceResult<Vec<LinkNotice>> {
    let oldest = Utc::now() - Duration::hours(NOTICE_MAX_AGE_HOURS);
    Ok(store::take_notices(&ctx.db, limit)
        .await?
        .into_iter()
        .filter(|n| n.created_at > oldest)
        .map(|n| LinkNotice {
            telegram_id: n.telegram_id,
            reason: UnlinkReason::from_code(&n.motivo),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip() {
        for r in UnlinkReason::ALL {
            assert_eq!(UnlinkReason::from_code(r.code()), Some(r));
        }
        assert_eq!(UnlinkReason::from_code("nope"), None);
    }

    #[test]
    fn codes_are_hashed_whatever_the_case_and_spaces() {
        assert_eq!(code_hash(" abcd2345 "), code_hash("ABCD2345"));
        assert_eq!(code_hash("ABCD2345").len(), 64);
    }
}
