//! Users (contract §5): list and read, create/update/delete by administrators, the caller's own
//! profile, and unlocking an account locked by failed logins. Whatever ends a user's sessions
//! ends their Telegram link too (`crate::telegram_link`), in the same transaction.
//!
//! Level rules: list/get others = 2, create/update/delete/unlock = 3, own profile = 1. Server-set
//! fields never come from the body; nobody raises their own level. Every write and its audit row
//! commit together. Ending the live sessions a change invalidates is the caller's step after
//! commit (the sockets belong to the adapter); the outputs say when it is due.

use crate::audit;
use chrono::{DateTime, Utc};
use gad_core::request_context::RequestContext;
use gad_core::text::Email;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::AuditEntry;
use gad_store::usuarios;
/// The user row these use cases answer (its wire form is `to_json`).
pub use gad_store::usuarios::Usuario;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::password;
use crate::stats::USER_NOT_FOUND;
use crate::telegram_link::{self, UnlinkReason};

fn not_found() -> ServiceError {
    ServiceError::NotFound(USER_NOT_FOUND.into())
}

/// The wire object as the audit trail and the responses hold it.
pub fn to_json(u: &Usuario) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

fn check_password(errors: &mut Vec<FieldError>, field: &str, p: &str) {
    rules::len(errors, field, p, 8, 128);
}

// ---------------------------------------------------------------------------------------------
// Read

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Filter by level (1–3).
    #[param(minimum = 1, maximum = 3)]
    pub nivel: Option<i64>,
    /// Name or e-mail contains (case-insensitive).
    pub q: Option<String>,
    /// Include soft-deleted users (level 3 only).
    pub include_deleted: Option<bool>,
}

impl Validate for ListQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
        if let Some(n) = self.nivel
            && Nivel::from_i64(n).is_none()
        {
            errors.push(FieldError::query(
                "nivel",
                "enum",
                Nivel::allowed_message(),
                json!(n),
            ));
        }
    }
}

/// Users, newest first (level 2+); deleted ones only with `include_deleted` (level 3).
pub async fn list(ctx: &Ctx, me: &Actor, q: &ListQuery) -> ServiceResult<Vec<Usuario>> {
    require(me, Nivel::Supervisor)?;
    let include_deleted = q.include_deleted.unwrap_or(false);
    if include_deleted && !me.is_admin() {
        return Err(ServiceError::InsufficientLevel);
    }
    let nivel = q.nivel.and_then(Nivel::from_i64).map(|n| n.as_db());
    let pattern =
        q.q.as_deref()
            .map(|s| format!("%{}%", gad_store::escape_like(s)));
    let rows = usuarios::list(
        &ctx.db,
        usuarios::ListFilter {
            include_deleted,
            nivel,
            pattern,
            skip: q.skip.unwrap_or(0),
            limit: q.limit.unwrap_or(100),
        },
    )
    .await?;
    Ok(rows)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetUserQuery {
    /// Also find a soft-deleted user (level 3 only), as `include_deleted` on the list.
    pub include_deleted: Option<bool>,
}

impl Validate for GetUserQuery {}

/// One user: self, or anyone for level 2+ (others get 404). A deleted user is 404 unless
/// `include_deleted` (level 3).
pub async fn get(ctx: &Ctx, me: &Actor, user_id: i64, q: &GetUserQuery) -> ServiceResult<Usuario> {
    let include_deleted = q.include_deleted.unwrap_or(false);
    if include_deleted && !me.is_admin() {
        return Err(ServiceError::InsufficientLevel);
    }
    if user_id != me.id && !me.is_supervisor() {
        return Err(not_found());
    }
    usuarios::by_id(&ctx.db, user_id, include_deleted)
        .await?
        .ok_or_else(not_found)
}

/// The caller's own profile (a vanished caller is a credentials failure).
pub async fn get_me(ctx: &Ctx, me: &Actor) -> ServiceResult<Usuario> {
    usuarios::by_id(&ctx.db, me.id, false)
        .await?
        .ok_or(ServiceError::InvalidCredentials)
}

// ---------------------------------------------------------------------------------------------
// Create

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateUser {
    pub email: Email,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(min_length = 1, max_length = 100)]
    pub nombre: String,
    #[schema(min_length = 1, max_length = 100)]
    pub apellido: String,
    #[schema(min_length = 1, max_length = 20)]
    pub dni: String,
    #[schema(max_length = 20)]
    pub telefono: Option<String>,
    pub telegram_id: Option<i64>,
    pub nivel: Option<Nivel>,
    pub verificado: Option<bool>,
}

impl Validate for CreateUser {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_password(errors, "password", &self.password);
        rules::len(errors, "nombre", &self.nombre, 1, 100);
        rules::len(errors, "apellido", &self.apellido, 1, 100);
        rules::len(errors, "dni", &self.dni, 1, 20);
        rules::opt_len(errors, "telefono", &self.telefono, 0, 20);
    }
}

/// Creates a user (level 3; nobody grants a level above what they may grant). Duplicate email,
/// dni or telegram_id → conflict naming the field.
pub async fn create(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    body: &CreateUser,
) -> ServiceResult<Usuario> {
    require(me, Nivel::Administrador)?;
    let nivel = body.nivel.unwrap_or(Nivel::Efectivo);
    if !gad_core::permissions::can_grant_level(me.nivel, nivel) {
        return Err(ServiceError::InsufficientLevel);
    }
    let hash = password::hash(&ctx.hasher, body.password.clone()).await?;
    let mut tx = ctx.db.begin().await?;
    let user = usuarios::insert(
        &mut *tx,
        usuarios::NewUsuario {
            email: body.email.as_str(),
            dni: body.dni.trim(),
            nombre: &body.nombre,
            apellido: &body.apellido,
            telefono: body.telefono.as_deref(),
            telegram_id: body.telegram_id,
            nivel,
            hashed_password: &hash,
            verificado: body.verificado.unwrap_or(false),
        },
    )
    .await?;
    let entry = AuditEntry::new("user_created", Some(me.id))
        .resource("usuario", user.id)
        .values(None, Some(to_json(&user)))
        .status(201)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(user)
}

// ---------------------------------------------------------------------------------------------
// Own profile

/// Fields a user may change on their own profile. Anything else in the body (nivel, email…)
/// is ignored: nobody raises their own level.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateMe {
    #[schema(max_length = 20)]
    pub telefono: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub nombre: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub apellido: Option<String>,
    pub current_password: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

impl Validate for UpdateMe {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::opt_len(errors, "telefono", &self.telefono, 0, 20);
        rules::opt_len(errors, "nombre", &self.nombre, 1, 100);
        rules::opt_len(errors, "apellido", &self.apellido, 1, 100);
        if let Some(p) = &self.password {
            check_password(errors, "password", p);
            if self.current_password.is_none() {
                errors.push(FieldError::body(
                    "current_password",
                    "missing",
                    "Field required",
                    Value::Null,
                ));
            }
        }
    }
}

/// The outcome of an own-profile update.
pub struct UpdatedMe {
    pub user: Usuario,
    /// The password changed: every other session is over, and the caller's session continues
    /// only with a token issued after `tokens_valid_after`.
    pub password_changed: bool,
    /// The user's token cut-off after the change (set only when the password changed).
    pub tokens_valid_after: Option<DateTime<Utc>>,
}

/// Checks the current password for a change (`auth::confirm_password`: a wrong one counts
/// toward the login lockout). Answers the new password's hash.
async fn new_own_hash(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    current: &str,
    new: &str,
) -> ServiceResult<String> {
    crate::auth::confirm_password(ctx, me, origin, current).await?;
    password::hash(&ctx.hasher, new.to_string()).await
}

/// Updates telefono, nombre, apellido of the caller; a password change needs the current
/// password (400 if wrong, 423 after too many wrong ones).
pub async fn update_me(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    body: &UpdateMe,
) -> ServiceResult<UpdatedMe> {
    let new_hash = match (&body.password, &body.current_password) {
        (Some(new), Some(current)) => Some(new_own_hash(ctx, me, origin, current, new).await?),
        _ => None,
    };
    let mut tx = ctx.db.begin().await?;
    let old = usuarios::by_id(&mut *tx, me.id, false)
        .await?
        .ok_or(ServiceError::InvalidCredentials)?;
    if new_hash.is_some() {
        // A new password ends every other session, and the Telegram link with them.
        telegram_link::end_link(
            ctx,
            &mut tx,
            me.id,
            me.id,
            UnlinkReason::PasswordChanged,
            origin,
        )
        .await?;
    }
    let user = usuarios::update(
        &mut *tx,
        me.id,
        usuarios::UsuarioChanges {
            telefono: body.telefono.as_deref(),
            nombre: body.nombre.as_deref(),
            apellido: body.apellido.as_deref(),
            hashed_password: new_hash.as_deref(),
            ..Default::default()
        },
    )
    .await?
    .ok_or(ServiceError::InvalidCredentials)?;
    let mut entry = AuditEntry::new("user_updated", Some(me.id))
        .resource("usuario", me.id)
        .values(Some(to_json(&old)), Some(to_json(&user)))
        .status(200)
        .context(origin);
    if new_hash.is_some() {
        entry = entry.describe("own profile updated; password changed; other sessions ended");
    }
    audit::record(ctx, &mut tx, &entry).await?;
    let tokens_valid_after = if new_hash.is_some() {
        usuarios::tokens_valid_after(&mut *tx, me.id).await?
    } else {
        None
    };
    tx.commit().await?;
    Ok(UpdatedMe {
        user,
        password_changed: new_hash.is_some(),
        tokens_valid_after,
    })
}

// ---------------------------------------------------------------------------------------------
// Administration

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateUser {
    pub email: Option<Email>,
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub nombre: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub apellido: Option<String>,
    #[schema(min_length = 1, max_length = 20)]
    pub dni: Option<String>,
    #[schema(max_length = 20)]
    pub telefono: Option<String>,
    /// `null` removes the Telegram link (audited, and the chat is told); absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub telegram_id: Option<Option<i64>>,
    pub nivel: Option<Nivel>,
    pub verificado: Option<bool>,
}

/// A field that may be sent as `null` on purpose: `Some(None)` (absent stays `None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Why an administrator's update ends the user's Telegram link, if it does: everything that
/// ends their sessions, or `telegram_id` cleared or replaced.
fn unlink_reason(old: &Usuario, body: &UpdateUser) -> Option<UnlinkReason> {
    if body.verificado == Some(false) {
        Some(UnlinkReason::Deactivated)
    } else if body.nivel.is_some_and(|n| n.as_i16() != old.nivel) {
        Some(UnlinkReason::LevelChanged)
    } else if body.password.is_some() {
        Some(UnlinkReason::PasswordChanged)
    } else if old.telegram_id.is_some() && body.telegram_id.is_some_and(|t| t != old.telegram_id) {
        Some(UnlinkReason::Administrator)
    } else {
        None
    }
}

impl Validate for UpdateUser {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(p) = &self.password {
            check_password(errors, "password", p);
        }
        rules::opt_len(errors, "nombre", &self.nombre, 1, 100);
        rules::opt_len(errors, "apellido", &self.apellido, 1, 100);
        rules::opt_len(errors, "dni", &self.dni, 1, 20);
        rules::opt_len(errors, "telefono", &self.telefono, 0, 20);
    }
}

/// The outcome of an administrator's update.
pub struct UpdatedUser {
    pub user: Usuario,
    /// A new password, a deactivation or a level change: the user's live sessions must end now.
    pub end_sessions: bool,
}

/// Partial update of any field of a user (level 3; password re-hashed). Nobody raises their
/// own level or grants one above what they may grant.
pub async fn update(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    user_id: i64,
    body: &UpdateUser,
) -> ServiceResult<UpdatedUser> {
    require(me, Nivel::Administrador)?;
    if let Some(n) = body.nivel {
        let allowed = if user_id == me.id {
            gad_core::permissions::can_change_own_level(me.nivel, n)
        } else {
            gad_core::permissions::can_grant_level(me.nivel, n)
        };
        if !allowed {
            return Err(ServiceError::InsufficientLevel);
        }
    }
    let new_hash = match &body.password {
        Some(p) => Some(password::hash(&ctx.hasher, p.clone()).await?),
        None => None,
    };
    let mut tx = ctx.db.begin().await?;
    let old = usuarios::by_id(&mut *tx, user_id, false)
        .await?
        .ok_or_else(not_found)?;
    if let Some(reason) = unlink_reason(&old, body) {
        telegram_link::end_link(ctx, &mut tx, me.id, user_id, reason, origin).await?;
    }
    let user = usuarios::update(
        &mut *tx,
        user_id,
        usuarios::UsuarioChanges {
            email: body.email.as_ref().map(Email::as_str),
            hashed_password: new_hash.as_deref(),
            nombre: body.nombre.as_deref(),
            apellido: body.apellido.as_deref(),
            dni: body.dni.as_deref().map(str::trim),
            telefono: body.telefono.as_deref(),
            telegram_id: body.telegram_id,
            nivel: body.nivel,
            verificado: body.verificado,
        },
    )
    .await?
    .ok_or_else(not_found)?;
    let entry = AuditEntry::new("user_updated", Some(me.id))
        .resource("usuario", user_id)
        .values(Some(to_json(&old)), Some(to_json(&user)))
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    let end_sessions = body.password.is_some()
        || body.verificado == Some(false)
        || body.nivel.is_some_and(|n| n.as_i16() != old.nivel);
    Ok(UpdatedUser { user, end_sessions })
}

/// Soft delete (level 3): every token of the user stops working at once; the caller ends the
/// user's live sessions after this returns.
pub async fn delete(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    user_id: i64,
) -> ServiceResult<Usuario> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    // A deleted user's link ends (an unknown user's rolls back with the 404).
    telegram_link::end_link(ctx, &mut tx, me.id, user_id, UnlinkReason::Deleted, origin).await?;
    let user = usuarios::soft_delete(&mut *tx, user_id)
        .await?
        .ok_or_else(not_found)?;
    let entry = AuditEntry::new("user_deleted", Some(me.id))
        .resource("usuario", user_id)
        .values(None, Some(to_json(&user)))
        .severity("warning")
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(user)
}

/// The answer of an unlock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Desbloqueo {
    pub user_id: i64,
    /// Whether a lockout was in force when the request arrived.
    pub estaba_bloqueado: bool,
    /// Consecutive failed logins before the reset.
    pub intentos_fallidos: i32,
}

/// Clears the lockout that five failed logins set (`bloqueado_hasta`, `intentos_fallidos`) so
/// the user can sign in at once (level 3). Idempotent; unknown or deleted user → 404.
pub async fn unlock(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    user_id: i64,
) -> ServiceResult<Desbloqueo> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    let row = usuarios::unlock(&mut tx, user_id).await?;
    let Some((estaba_bloqueado, intentos_fallidos)) = row else {
        return Err(not_found());
    };
    let entry = AuditEntry::new("user_unlocked", Some(me.id))
        .resource("usuario", user_id)
        .describe(format!(
            "lockout cleared (locked: {estaba_bloqueado}, failed logins: {intentos_fallidos})"
        ))
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Desbloqueo {
        user_id,
        estaba_bloqueado,
        intentos_fallidos,
    })
}
