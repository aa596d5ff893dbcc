//! Signing in and out (contract §3): the credential check with its lockout, the audit rows of
//! every outcome, and revoking a token. Issuing the token and carrying it (cookie, header) is
//! the adapter's step: a successful login answers who signed in and the user's token cut-off.

use chrono::{DateTime, Utc};
use gad_core::request_context::RequestContext;
use gad_core::validate::Validate;
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
use gad_store::usuarios::{self, LoginRow};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::password;

/// Login body: form (`username`, `password`, OAuth2 extras ignored) or JSON (`username` or `email`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

impl Validate for LoginBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .username
            .as_deref()
            .or(self.email.as_deref())
            .is_none_or(str::is_empty)
        {
            errors.push(FieldError::body(
                "username",
                "missing",
                "Field required",
                Value::Null,
            ));
        }
        if self.password.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::body(
                "password",
                "missing",
                "Field required",
                Value::Null,
            ));
        }
    }
}

/// What a login checks: the e-mail (as typed, trimmed) and the password.
pub struct Credentials {
    pub email: String,
    pub password: String,
}

impl LoginBody {
    /// The credentials of a validated body (`username` wins over `email` when both are sent).
    pub fn credentials(self) -> Credentials {
        let email = self
            .username
            .filter(|s| !s.is_empty())
            .or(self.email)
            .unwrap_or_default();
        Credentials {
            email: email.trim().to_string(),
            password: self.password.unwrap_or_default(),
        }
    }
}

/// Who signed in, for the token the adapter issues.
pub struct LoggedIn {
    pub user_id: i64,
    pub nivel: Nivel,
    /// The user's token cut-off: the new token must be issued after it.
    pub tokens_valid_after: Option<DateTime<Utc>>,
}

/// The e-mail as the audit trail names it (bounded: it is whatever the client sent).
fn unknown_email(email: &str) -> String {
    format!(
        "unknown e-mail {}",
        email.chars().take(254).collect::<String>()
    )
}

/// Checks e-mail and password. Wrong credentials → 401; the 5th consecutive failure locks the
/// account (or the unknown e-mail) for 30 minutes (423); an inactive or deleted user → 403.
/// Every outcome is audited; a legacy hash is replaced on success.
pub async fn login(
    ctx: &Ctx,
    origin: &RequestContext,
    creds: Credentials,
) -> ServiceResult<LoggedIn> {
    let Some(user) = usuarios::for_login(&ctx.db, &creds.email).await? else {
        return login_unknown(ctx, origin, creds).await;
    };
    // The attempt is claimed (and counted) before the password is checked: parallel guesses
    // cannot all be verified.
    let failures = match usuarios::claim_login_attempt(&ctx.db, user.id).await? {
        usuarios::Attempt::Allowed(n) => n,
        usuarios::Attempt::Locked(until) => {
            let entry = AuditEntry::new("login_locked", Some(user.id))
                .resource("usuario", user.id)
                .failed(423)
                .context(origin);
            audit::record(&ctx.db, &entry).await?;
            return Err(ServiceError::Locked { until });
        }
    };
    let (ok, needs_rehash) = password::verify(
        &ctx.hasher,
        creds.password.clone(),
        user.hashed_password.clone(),
    )
    .await?;
    if !ok {
        return wrong_password(ctx, origin, &user, failures).await;
    }
    if !user.verificado || user.deleted {
        let entry = AuditEntry::new("login_inactive", Some(user.id))
            .resource("usuario", user.id)
            .failed(403)
            .context(origin);
        audit::record(&ctx.db, &entry).await?;
        return Err(ServiceError::InactiveUser);
    }
    let new_hash = if needs_rehash {
        Some(password::hash(&ctx.hasher, creds.password).await?)
    } else {
        None
    };
    let nivel =
        Nivel::from_db(&user.nivel).ok_or_else(|| ServiceError::internal("unknown nivel label"))?;
    let mut tx = ctx.db.begin().await?;
    usuarios::record_successful_login(&mut *tx, user.id, new_hash.as_deref()).await?;
    let mut entry = AuditEntry::new("login_success", Some(user.id))
        .resource("usuario", user.id)
        .status(200)
        .context(origin);
    if new_hash.is_some() {
        entry = entry.describe("legacy bcrypt hash replaced by argon2id");
    }
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;
    Ok(LoggedIn {
        user_id: user.id,
        nivel,
        tokens_valid_after: user.tokens_valid_after,
    })
}

/// An unknown e-mail: counted and locked like an account (a 423 reveals nothing), and given the
/// same work as a real check, so timing does not reveal which e-mails exist. Always refuses.
async fn login_unknown(
    ctx: &Ctx,
    origin: &RequestContext,
    creds: Credentials,
) -> ServiceResult<LoggedIn> {
    let attempt = usuarios::claim_unknown_login(&ctx.db, &creds.email).await?;
    if let usuarios::Attempt::Locked(until) = attempt {
        let entry = AuditEntry::new("login_locked", None)
            .describe(unknown_email(&creds.email))
            .failed(423)
            .context(origin);
        audit::record(&ctx.db, &entry).await?;
        return Err(ServiceError::Locked { until });
    }
    let _ = password::verify(
        &ctx.hasher,
        creds.password,
        password::DUMMY_HASH.to_string(),
    )
    .await?;
    let entry = AuditEntry::new("login_failed", None)
        .describe(unknown_email(&creds.email))
        .failed(401)
        .context(origin);
    audit::record(&ctx.db, &entry).await?;
    Err(ServiceError::IncorrectLogin)
}

/// A wrong password: audited as a failure, or as the lock when this failure reaches the limit.
/// Always refuses.
async fn wrong_password(
    ctx: &Ctx,
    origin: &RequestContext,
    user: &LoginRow,
    failures: i32,
) -> ServiceResult<LoggedIn> {
    let mut entry = AuditEntry::new("login_failed", Some(user.id))
        .resource("usuario", user.id)
        .describe(format!("wrong password ({failures} consecutive)"))
        .failed(401)
        .context(origin);
    if failures >= usuarios::MAX_FAILURES {
        entry = entry.describe(format!(
            "account locked for 30 minutes after {failures} failures"
        ));
        entry.event_type = "account_locked".into();
        entry.severity = "critical";
    }
    audit::record(&ctx.db, &entry).await?;
    Err(ServiceError::IncorrectLogin)
}

/// Revokes the presented token (`jti`, valid until `exp`) on every instance. The caller ends
/// the session's live sockets after this returns.
pub async fn logout(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    jti: Uuid,
    exp: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut tx = ctx.db.begin().await?;
    gad_store::tokens::revoke(&mut *tx, jti, me.id, exp).await?;
    // Expired revocations are useless: prune a few on each logout so the table stays small.
    gad_store::tokens::prune_expired(&mut *tx, 100).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("logout", Some(me.id))
            .resource("usuario", me.id)
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Re-authentication of a signed-in user before a sensitive step (a password change, minting a
/// Telegram link code): the password is a guess like a login's, so it is claimed against the
/// same lockout before it is verified (parallel guesses cannot all be checked), a wrong one is
/// counted and audited (400), a locked account is refused (423), and a right one resets the count.
pub async fn confirm_password(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    password: &str,
) -> ServiceResult<()> {
    let failures = match usuarios::claim_login_attempt(&ctx.db, me.id).await? {
        usuarios::Attempt::Allowed(n) => n,
        usuarios::Attempt::Locked(until) => return Err(ServiceError::Locked { until }),
    };
    let stored = usuarios::password_hash(&ctx.db, me.id)
        .await?
        .ok_or(ServiceError::InvalidCredentials)?;
    let (ok, _) = password::verify(&ctx.hasher, password.to_string(), stored).await?;
    if !ok {
        let mut entry = AuditEntry::new("password_confirmation_failed", Some(me.id))
            .resource("usuario", me.id)
            .describe(format!("wrong current password ({failures} consecutive)"))
            .failed(400)
            .context(origin);
        if failures >= usuarios::MAX_FAILURES {
            entry = entry.describe(format!(
                "account locked for 30 minutes after {failures} failures"
            ));
            entry.event_type = "account_locked".into();
            entry.severity = "critical";
        }
        audit::record(&ctx.db, &entry).await?;
        return Err(ServiceError::BadRequest(
            "Current password is incorrect".into(),
        ));
    }
    usuarios::reset_failures(&ctx.db, me.id).await?;
    Ok(())
}

/// "Log out everywhere": every token of the user issued until now stops working on every
/// instance, and the Telegram link ends with them (a link is a credential too). The caller ends
/// the user's live sockets after this returns.
pub async fn logout_everywhere(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
) -> ServiceResult<()> {
    let mut tx = ctx.db.begin().await?;
    usuarios::cut_off_tokens(&mut *tx, me.id)
        .await?
        .ok_or(ServiceError::InvalidCredentials)?;
    crate::telegram_link::end_link(
        ctx,
        &mut tx,
        me.id,
        me.id,
        crate::telegram_link::UnlinkReason::LoggedOutEverywhere,
        origin,
    )
    .await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("logout_everywhere", Some(me.id))
            .resource("usuario", me.id)
            .describe("every session ended by the user")
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who a signed token speaks for, read afresh on every request so that a demotion, deletion or
/// logout takes effect at once on every instance: the user `user_id` of a token `jti` issued at
/// `issued_at` (Unix seconds). A revoked token, one issued before the user's cut-off or for a
/// vanished user is a credentials failure; a deleted or unverified user is inactive.
pub async fn session_actor(
    ctx: &Ctx,
    user_id: i64,
    jti: Uuid,
    issued_at: i64,
) -> ServiceResult<Actor> {
    let row = usuarios::auth_state(&ctx.db, user_id, jti)
        .await?
        .ok_or(ServiceError::InvalidCredentials)?;
    if row.revoked {
        return Err(ServiceError::InvalidCredentials);
    }
    if let Some(after) = row.tokens_valid_after
        && issued_at <= after.timestamp()
    {
        return Err(ServiceError::InvalidCredentials);
    }
    if row.deleted || !row.verificado {
        return Err(ServiceError::InactiveUser);
    }
    let nivel = Nivel::from_db(&row.nivel).ok_or(ServiceError::InvalidCredentials)?;
    Ok(Actor {
        id: user_id,
        nivel,
        efectivo_id: row.efectivo_id,
    })
}
