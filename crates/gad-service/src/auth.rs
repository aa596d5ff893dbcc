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
use crate::device::{Device, DeviceKey};
use crate::error::{ServiceError, ServiceResult};
use crate::{password, totp};

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

/// The second step of a login with a second factor.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TotpLoginBody {
    /// The `challenge` the password step answered.
    #[schema(min_length = 1, max_length = 128)]
    pub challenge: String,
    /// A current 6-digit code, or an unused recovery code.
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
}

impl Validate for TotpLoginBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        for (field, value, max) in [
            ("challenge", &self.challenge, 128),
            ("code", &self.code, 32),
        ] {
            let len = value.chars().count();
            if len == 0 || len > max {
                errors.push(FieldError::body(
                    field,
                    "string_length",
                    format!("{field} must be 1 to {max} characters"),
                    Value::Null,
                ));
            }
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
    /// The device cookie this browser keeps for this account (the one it presented, renewed,
    /// or a new one).
    pub device_cookie: String,
    /// The user's level requires a second factor they have not enrolled: the session only
    /// reaches their profile, the enrolment and logout until they do.
    pub totp_enrolment_required: bool,
}

/// What a correct password leads to.
pub enum LoginOutcome {
    /// Signed in: the adapter issues the token.
    Session(LoggedIn),
    /// The user has a second factor: the code is asked next, with this challenge (valid five
    /// minutes, used once).
    TotpRequired { challenge: String },
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
/// A client presenting `device_cookie`, a valid device cookie of this account, is counted and
/// locked on its own: the account's lock (caused by other clients) does not apply to it.
/// A user with a second factor gets a challenge instead of a session.
/// Every outcome is audited; a legacy hash is replaced on success.
pub async fn login(
    ctx: &Ctx,
    origin: &RequestContext,
    creds: Credentials,
    device_cookie: Option<&str>,
) -> ServiceResult<LoginOutcome> {
    let Some(user) = usuarios::for_login(&ctx.db, &creds.email).await? else {
        return login_unknown(ctx, origin, creds).await;
    };
    let key = DeviceKey::derive(&ctx.config.jwt_secret);
    let device = device_cookie
        .and_then(|c| key.verify(c))
        .filter(|d| d.usuario_id == user.id);
    // The attempt is claimed (and counted) before the password is checked: parallel guesses
    // cannot all be verified.
    let failures = claim_attempt(ctx, origin, &user, device).await?;
    let (ok, needs_rehash) = password::verify(
        &ctx.hasher,
        creds.password.clone(),
        user.hashed_password.clone(),
    )
    .await?;
    if !ok {
        return Err(
            wrong_credential(ctx, origin, &user, failures, device.is_some(), "password").await,
        );
    }
    ensure_active(ctx, origin, &user).await?;
    if gad_store::totp::is_enrolled(&ctx.db, user.id).await? {
        // The attempt stays counted until the code is right: wrong codes count as failures.
        let (challenge, hash) = totp::new_challenge();
        let mut tx = ctx.db.begin().await?;
        gad_store::totp::create_challenge(&mut *tx, &hash, user.id, device.map(|d| d.id)).await?;
        let entry = AuditEntry::new("login_totp_required", Some(user.id))
            .resource("usuario", user.id)
            .describe("password accepted; second factor asked")
            .status(200)
            .context(origin);
        audit::record(&mut *tx, &entry).await?;
        tx.commit().await?;
        return Ok(LoginOutcome::TotpRequired { challenge });
    }
    let new_hash = if needs_rehash {
        Some(password::hash(&ctx.hasher, creds.password).await?)
    } else {
        None
    };
    let done = Success {
        device,
        new_hash,
        second_factor: None,
    };
    signed_in(ctx, origin, &user, &key, done)
        .await
        .map(LoginOutcome::Session)
}

/// The second step of a login with a second factor: the challenge the password step answered
/// and a current code (or a recovery code). A code is accepted once; wrong codes count toward
/// the same lockout as wrong passwords; an unknown, used or expired challenge → 401.
pub async fn login_totp(
    ctx: &Ctx,
    origin: &RequestContext,
    challenge: &str,
    code: &str,
) -> ServiceResult<LoggedIn> {
    let hash = totp::challenge_hash(challenge);
    let Some(ch) = gad_store::totp::live_challenge(&ctx.db, &hash).await? else {
        return Err(ServiceError::InvalidCredentials);
    };
    let Some(user) = usuarios::for_login_by_id(&ctx.db, ch.usuario_id).await? else {
        return Err(ServiceError::InvalidCredentials);
    };
    let key = DeviceKey::derive(&ctx.config.jwt_secret);
    let device = ch.device_id.map(|id| Device {
        usuario_id: user.id,
        id,
    });
    let failures = claim_attempt(ctx, origin, &user, device).await?;
    let Some(how) = totp::check_login_code(ctx, user.id, code).await? else {
        let what = "second factor code";
        return Err(wrong_credential(ctx, origin, &user, failures, device.is_some(), what).await);
    };
    ensure_active(ctx, origin, &user).await?;
    if !gad_store::totp::use_challenge(&ctx.db, &hash).await? {
        return Err(ServiceError::InvalidCredentials);
    }
    let done = Success {
        device,
        new_hash: None,
        second_factor: Some(how),
    };
    signed_in(ctx, origin, &user, &key, done).await
}

/// Claims one check of a credential on the counter that applies to this client: its device
/// cookie's, or the account's. Locked → 423 (audited).
async fn claim_attempt(
    ctx: &Ctx,
    origin: &RequestContext,
    user: &LoginRow,
    device: Option<Device>,
) -> ServiceResult<i32> {
    let claim = match device {
        Some(d) => usuarios::claim_device_login(&ctx.db, d.id, user.id).await?,
        None => usuarios::claim_login_attempt(&ctx.db, user.id).await?,
    };
    match claim {
        usuarios::Attempt::Allowed(n) => Ok(n),
        usuarios::Attempt::Locked(until) => {
            let entry = AuditEntry::new("login_locked", Some(user.id))
                .resource("usuario", user.id)
                .describe(if device.is_some() {
                    "device cookie locked"
                } else {
                    "account locked for clients without a device cookie"
                })
                .failed(423)
                .context(origin);
            audit::record(&ctx.db, &entry).await?;
            Err(ServiceError::Locked { until })
        }
    }
}

/// An inactive or deleted user gets no session (403, audited).
async fn ensure_active(ctx: &Ctx, origin: &RequestContext, user: &LoginRow) -> ServiceResult<()> {
    if user.verificado && !user.deleted {
        return Ok(());
    }
    let entry = AuditEntry::new("login_inactive", Some(user.id))
        .resource("usuario", user.id)
        .failed(403)
        .context(origin);
    audit::record(&ctx.db, &entry).await?;
    Err(ServiceError::InactiveUser)
}

/// How a login succeeded.
struct Success {
    device: Option<Device>,
    /// The argon2id hash replacing a legacy one.
    new_hash: Option<String>,
    /// "totp" or "recovery code" when a second factor was checked.
    second_factor: Option<&'static str>,
}

/// Records a successful login (counters, last access, audit) and answers who signed in.
async fn signed_in(
    ctx: &Ctx,
    origin: &RequestContext,
    user: &LoginRow,
    key: &DeviceKey,
    done: Success,
) -> ServiceResult<LoggedIn> {
    let nivel =
        Nivel::from_db(&user.nivel).ok_or_else(|| ServiceError::internal("unknown nivel label"))?;
    let Success {
        device,
        new_hash,
        second_factor,
    } = done;
    let mut tx = ctx.db.begin().await?;
    // A login from a known device leaves the account's lock (caused by others) in place.
    usuarios::record_successful_login(&mut *tx, user.id, new_hash.as_deref(), device.is_none())
        .await?;
    if let Some(d) = device {
        usuarios::clear_device_failures(&mut *tx, d.id).await?;
    }
    let mut notes = Vec::new();
    if device.is_some() {
        notes.push("with a device cookie".to_string());
    }
    if let Some(how) = second_factor {
        notes.push(format!("second factor: {how}"));
    }
    if new_hash.is_some() {
        notes.push("legacy bcrypt hash replaced by argon2id".to_string());
    }
    let mut entry = AuditEntry::new("login_success", Some(user.id))
        .resource("usuario", user.id)
        .status(200)
        .context(origin);
    if !notes.is_empty() {
        entry = entry.describe(notes.join("; "));
    }
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;
    let device = device.unwrap_or(Device {
        usuario_id: user.id,
        id: Uuid::new_v4(),
    });
    Ok(LoggedIn {
        user_id: user.id,
        nivel,
        tokens_valid_after: user.tokens_valid_after,
        device_cookie: key.issue(device),
        totp_enrolment_required: second_factor.is_none() && enrolment_required(ctx, nivel),
    })
}

/// True when `TOTP_REQUIRED_LEVEL` covers this level (whether the user enrolled is the caller's
/// part).
fn enrolment_required(ctx: &Ctx, nivel: Nivel) -> bool {
    ctx.config
        .totp_required_level
        .is_some_and(|required| nivel.as_i16() >= required)
}

/// An unknown e-mail: counted and locked like an account (a 423 reveals nothing), and given the
/// same work as a real check, so timing does not reveal which e-mails exist. Always refuses.
async fn login_unknown(
    ctx: &Ctx,
    origin: &RequestContext,
    creds: Credentials,
) -> ServiceResult<LoginOutcome> {
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

/// A wrong password or code: audited as a failure, or as the lock when this failure reaches the
/// limit. Answers the refusal to return.
async fn wrong_credential(
    ctx: &Ctx,
    origin: &RequestContext,
    user: &LoginRow,
    failures: i32,
    with_device: bool,
    what: &str,
) -> ServiceError {
    let client = if with_device {
        " with a device cookie"
    } else {
        ""
    };
    let mut entry = AuditEntry::new("login_failed", Some(user.id))
        .resource("usuario", user.id)
        .describe(format!("wrong {what}{client} ({failures} consecutive)"))
        .failed(401)
        .context(origin);
    if failures >= usuarios::MAX_FAILURES {
        let (locked, event) = if with_device {
            ("device cookie", "device_locked")
        } else {
            ("account", "account_locked")
        };
        entry = entry.describe(format!(
            "{locked} locked for 30 minutes after {failures} failures"
        ));
        entry.event_type = event.into();
        entry.severity = "critical";
    }
    if let Err(e) = audit::record(&ctx.db, &entry).await {
        return e.into();
    }
    if what == "password" {
        ServiceError::IncorrectLogin
    } else {
        ServiceError::InvalidCredentials
    }
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
    session(ctx, user_id, jti, issued_at).await.map(|s| s.actor)
}

/// A token's session: who it speaks for, and whether that user still owes the second factor
/// their level requires (`TOTP_REQUIRED_LEVEL`), read afresh like the rest.
pub struct Session {
    pub actor: Actor,
    pub totp_enrolment_required: bool,
}

/// As `session_actor`, with the enrolment the user owes.
pub async fn session(ctx: &Ctx, user_id: i64, jti: Uuid, issued_at: i64) -> ServiceResult<Session> {
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
    Ok(Session {
        actor: Actor {
            id: user_id,
            nivel,
            efectivo_id: row.efectivo_id,
        },
        totp_enrolment_required: !row.totp_enrolled && enrolment_required(ctx, nivel),
    })
}
