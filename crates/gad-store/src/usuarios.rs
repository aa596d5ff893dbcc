//! Queries on the usuarios aggregate.

use chrono::{DateTime, Utc};
use gad_core::Nivel;
use serde::Serialize;
use sqlx::PgExecutor;

/// The Usuario wire object (contract §5). Never carries a password hash.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Usuario {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub email: String,
    pub nombre: String,
    pub apellido: String,
    pub dni: String,
    pub telefono: Option<String>,
    pub telegram_id: Option<i64>,
    /// Whether a Telegram account is linked (the bot answers this user).
    pub telegram_vinculado: bool,
    /// Level 1–3.
    pub nivel: i16,
    pub verificado: bool,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub ultimo_acceso: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Columns of `Usuario`, with the level converted from the enum label to 1–3.
pub const USUARIO_COLUMNS: &str = "id, uuid, email, nombre, apellido, dni, telefono, telegram_id,
    (telegram_id IS NOT NULL) AS telegram_vinculado, (substr(nivel::text, 7))::int2 AS nivel, verificado, ultimo_acceso, created_at, updated_at, deleted_at";

pub async fn by_id<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    include_deleted: bool,
) -> Result<Option<Usuario>, sqlx::Error> {
    let sql = format!(
        "SELECT {USUARIO_COLUMNS} FROM usuarios WHERE id = $1 AND ($2 OR deleted_at IS NULL)"
    );
    sqlx::query_as::<_, Usuario>(&sql)
        .bind(id)
        .bind(include_deleted)
        .fetch_optional(exec)
        .await
}

/// What login needs about a user.
#[derive(Debug, sqlx::FromRow)]
pub struct LoginRow {
    pub id: i64,
    pub nivel: String,
    pub hashed_password: String,
    pub verificado: bool,
    pub deleted: bool,
    pub bloqueado_hasta: Option<DateTime<Utc>>,
    pub tokens_valid_after: Option<DateTime<Utc>>,
}

/// The same by id (the second step of a login with a second factor).
pub async fn for_login_by_id<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Option<LoginRow>, sqlx::Error> {
    sqlx::query_as::<_, LoginRow>(
        "SELECT id, nivel::text AS nivel, hashed_password, verificado, (deleted_at IS NOT NULL) AS deleted, bloqueado_hasta,
                tokens_valid_after
         FROM usuarios WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(exec)
    .await
}

pub async fn for_login<'e, E: PgExecutor<'e>>(
    exec: E,
    email: &str,
) -> Result<Option<LoginRow>, sqlx::Error> {
    sqlx::query_as::<_, LoginRow>(
        "SELECT id, nivel::text AS nivel, hashed_password, verificado, (deleted_at IS NOT NULL) AS deleted, bloqueado_hasta,
                tokens_valid_after
         FROM usuarios WHERE lower(email) = lower($1)",
    )
    .bind(email)
    .fetch_optional(exec)
    .await
}

/// Failures in a row that lock an account (or an unknown e-mail) for `LOCK_MINUTES`.
pub const MAX_FAILURES: i32 = 5;

/// The outcome of claiming a password check.
pub enum Attempt {
    /// This request may verify a password; it is attempt `n` of the window (n ≤ 5). The
    /// attempt is already counted as a failure; a success resets the count.
    Allowed(i32),
    /// Locked until then: no password is verified.
    Locked(DateTime<Utc>),
}

/// Claims one password check for an account, atomically (one `UPDATE … RETURNING`), before
/// the password is verified: however many guesses arrive at once, at most `MAX_FAILURES`
/// are ever verified per window, and the claim that reaches the limit sets the lock. A lock
/// that has expired starts a new window.
pub async fn claim_login_attempt<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Attempt, sqlx::Error> {
    let row: Option<(Option<i32>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "WITH claimed AS (
            UPDATE usuarios SET
                intentos_fallidos = CASE WHEN bloqueado_hasta IS NOT NULL AND bloqueado_hasta <= now() THEN 1
                                         ELSE intentos_fallidos + 1 END,
                bloqueado_hasta = CASE
                    WHEN bloqueado_hasta IS NOT NULL AND bloqueado_hasta <= now() THEN NULL
                    WHEN intentos_fallidos + 1 >= $2 THEN now() + interval '30 minutes'
                    ELSE bloqueado_hasta END
            WHERE id = $1 AND (bloqueado_hasta IS NULL OR bloqueado_hasta <= now())
            RETURNING intentos_fallidos)
         SELECT c.intentos_fallidos, NULL::timestamptz FROM claimed c
         UNION ALL
         SELECT NULL, u.bloqueado_hasta FROM usuarios u
         WHERE u.id = $1 AND NOT EXISTS (SELECT 1 FROM claimed)",
    )
    .bind(id)
    .bind(MAX_FAILURES)
    .fetch_optional(exec)
    .await?;
    Ok(attempt(row))
}

/// The same claim for an e-mail that matches no account (counted in `login_failures`).
pub async fn claim_unknown_login<'e, E: PgExecutor<'e>>(
    exec: E,
    email: &str,
) -> Result<Attempt, sqlx::Error> {
    let row: Option<(Option<i32>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "WITH claimed AS (
            INSERT INTO login_failures AS f (email, intentos) VALUES (lower($1), 1)
            ON CONFLICT (email) DO UPDATE SET
                intentos = CASE WHEN f.bloqueado_hasta IS NOT NULL AND f.bloqueado_hasta <= now() THEN 1
                                ELSE f.intentos + 1 END,
                bloqueado_hasta = CASE
                    WHEN f.bloqueado_hasta IS NOT NULL AND f.bloqueado_hasta <= now() THEN NULL
                    WHEN f.intentos + 1 >= $2 THEN now() + interval '30 minutes'
                    ELSE f.bloqueado_hasta END,
                updated_at = now()
            WHERE f.bloqueado_hasta IS NULL OR f.bloqueado_hasta <= now()
            RETURNING intentos)
         SELECT c.intentos, NULL::timestamptz FROM claimed c
         UNION ALL
         SELECT NULL, f.bloqueado_hasta FROM login_failures f
         WHERE f.email = lower($1) AND NOT EXISTS (SELECT 1 FROM claimed)",
    )
    .bind(email)
    .bind(MAX_FAILURES)
    .fetch_optional(exec)
    .await?;
    Ok(attempt(row))
}

/// The same claim for a client that presents a valid device cookie of this account (counted in
/// `login_device_failures`, per cookie): its failures lock that cookie, not the account.
pub async fn claim_device_login<'e, E: PgExecutor<'e>>(
    exec: E,
    device_id: uuid::Uuid,
    usuario_id: i64,
) -> Result<Attempt, sqlx::Error> {
    let row: Option<(Option<i32>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "WITH claimed AS (
            INSERT INTO login_device_failures AS f (device_id, usuario_id, intentos) VALUES ($1, $2, 1)
            ON CONFLICT (device_id) DO UPDATE SET
                intentos = CASE WHEN f.bloqueado_hasta IS NOT NULL AND f.bloqueado_hasta <= now() THEN 1
                                ELSE f.intentos + 1 END,
                bloqueado_hasta = CASE
                    WHEN f.bloqueado_hasta IS NOT NULL AND f.bloqueado_hasta <= now() THEN NULL
                    WHEN f.intentos + 1 >= $3 THEN now() + interval '30 minutes'
                    ELSE f.bloqueado_hasta END,
                updated_at = now()
            WHERE f.bloqueado_hasta IS NULL OR f.bloqueado_hasta <= now()
            RETURNING intentos)
         SELECT c.intentos, NULL::timestamptz FROM claimed c
         UNION ALL
         SELECT NULL, f.bloqueado_hasta FROM login_device_failures f
         WHERE f.device_id = $1 AND NOT EXISTS (SELECT 1 FROM claimed)",
    )
    .bind(device_id)
    .bind(usuario_id)
    .bind(MAX_FAILURES)
    .fetch_optional(exec)
    .await?;
    Ok(attempt(row))
}

/// A device cookie's counter after a correct password: gone (the next failure starts afresh).
pub async fn clear_device_failures<'e, E: PgExecutor<'e>>(
    exec: E,
    device_id: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_device_failures WHERE device_id = $1")
        .bind(device_id)
        .execute(exec)
        .await?;
    Ok(())
}

fn attempt(row: Option<(Option<i32>, Option<DateTime<Utc>>)>) -> Attempt {
    match row {
        Some((Some(n), _)) => Attempt::Allowed(n),
        Some((None, Some(until))) => Attempt::Locked(until),
        // Locked with no recorded end (cannot happen) or the row vanished: refuse safely.
        _ => Attempt::Locked(Utc::now() + chrono::Duration::minutes(30)),
    }
}

/// Clears a lockout (administrator); returns (was locked, failed logins) as they were, read
/// from the locked row so the answer is exact. `None`: no such live user.
pub async fn unlock(
    db: &mut sqlx::PgConnection,
    id: i64,
) -> Result<Option<(bool, i32)>, sqlx::Error> {
    sqlx::query_as(
        "WITH old AS (
            SELECT id, coalesce(bloqueado_hasta > now(), false) AS locked, intentos_fallidos
            FROM usuarios WHERE id = $1 AND deleted_at IS NULL FOR UPDATE)
         UPDATE usuarios u SET bloqueado_hasta = NULL, intentos_fallidos = 0
         FROM old WHERE u.id = old.id
         RETURNING old.locked, old.intentos_fallidos",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// When this user's tokens were last cut off (password change, deletion).
pub async fn tokens_valid_after<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT tokens_valid_after FROM usuarios WHERE id = $1")
        .bind(id)
        .fetch_one(exec)
        .await
}

/// Clears the failure count after a correct password (without counting it as a login).
pub async fn reset_failures<'e, E: PgExecutor<'e>>(exec: E, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE usuarios SET intentos_fallidos = 0, bloqueado_hasta = NULL WHERE id = $1")
        .bind(id)
        .execute(exec)
        .await?;
    Ok(())
}

/// Records a login. `reset_lock`: clear the account's failure count and lock (a login from an
/// unknown client; one with a device cookie leaves the lock other clients caused in place).
pub async fn record_successful_login<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    new_hash: Option<&str>,
    reset_lock: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE usuarios SET
                intentos_fallidos = CASE WHEN $3 THEN 0 ELSE intentos_fallidos END,
                bloqueado_hasta = CASE WHEN $3 THEN NULL ELSE bloqueado_hasta END,
                ultimo_acceso = now(),
                hashed_password = COALESCE($2, hashed_password)
         WHERE id = $1",
    )
    .bind(id)
    .bind(new_hash)
    .bind(reset_lock)
    .execute(exec)
    .await?;
    Ok(())
}

pub fn nivel_label(n: Nivel) -> &'static str {
    n.as_db()
}

/// Filters of the users list (`GET /users`); `pattern` is an ILIKE pattern already escaped.
pub struct ListFilter<'a> {
    pub include_deleted: bool,
    pub nivel: Option<&'a str>,
    pub pattern: Option<String>,
    pub skip: i64,
    pub limit: i64,
}

/// Users, newest first.
pub async fn list<'e, E: PgExecutor<'e>>(
    exec: E,
    f: ListFilter<'_>,
) -> Result<Vec<Usuario>, sqlx::Error> {
    let sql = format!(
        "SELECT {USUARIO_COLUMNS} FROM usuarios
         WHERE ($1 OR deleted_at IS NULL) AND ($2::nivel_usuario IS NULL OR nivel = $2::nivel_usuario)
           AND ($3::text IS NULL OR nombre ILIKE $3 OR apellido ILIKE $3 OR email ILIKE $3)
         ORDER BY created_at DESC, id DESC OFFSET $4 LIMIT $5"
    );
    sqlx::query_as(&sql)
        .bind(f.include_deleted)
        .bind(f.nivel)
        .bind(f.pattern)
        .bind(f.skip)
        .bind(f.limit)
        .fetch_all(exec)
        .await
}

/// A new user's fields (the password already hashed).
pub struct NewUsuario<'a> {
    pub email: &'a str,
    pub dni: &'a str,
    pub nombre: &'a str,
    pub apellido: &'a str,
    pub telefono: Option<&'a str>,
    pub telegram_id: Option<i64>,
    pub nivel: Nivel,
    pub hashed_password: &'a str,
    pub verificado: bool,
}

pub async fn insert<'e, E: PgExecutor<'e>>(
    exec: E,
    u: NewUsuario<'_>,
) -> Result<Usuario, sqlx::Error> {
    let sql = format!(
        "INSERT INTO usuarios (email, dni, nombre, apellido, telefono, telegram_id, nivel, hashed_password, verificado)
         VALUES (lower($1), $2, $3, $4, $5, $6, $7::nivel_usuario, $8, $9) RETURNING {USUARIO_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(u.email)
        .bind(u.dni)
        .bind(u.nombre)
        .bind(u.apellido)
        .bind(u.telefono)
        .bind(u.telegram_id)
        .bind(u.nivel.as_db())
        .bind(u.hashed_password)
        .bind(u.verificado)
        .fetch_one(exec)
        .await
}

/// A partial update: `None` keeps the stored value (`telegram_id: Some(None)` clears the link).
/// A new password hash also ends every token issued before now (`tokens_valid_after`).
#[derive(Default)]
pub struct UsuarioChanges<'a> {
    pub email: Option<&'a str>,
    pub hashed_password: Option<&'a str>,
    pub nombre: Option<&'a str>,
    pub apellido: Option<&'a str>,
    pub dni: Option<&'a str>,
    pub telefono: Option<&'a str>,
    pub telegram_id: Option<Option<i64>>,
    pub nivel: Option<Nivel>,
    pub verificado: Option<bool>,
}

/// Applies `c` to a live user; `None` when the user is unknown or deleted.
pub async fn update<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    c: UsuarioChanges<'_>,
) -> Result<Option<Usuario>, sqlx::Error> {
    let sql = format!(
        "UPDATE usuarios SET email = COALESCE(lower($2), email), hashed_password = COALESCE($3, hashed_password),
                nombre = COALESCE($4, nombre), apellido = COALESCE($5, apellido), dni = COALESCE($6, dni),
                telefono = COALESCE($7, telefono), telegram_id = CASE WHEN $11 THEN $8 ELSE telegram_id END,
                nivel = COALESCE($9::nivel_usuario, nivel), verificado = COALESCE($10, verificado),
                tokens_valid_after = CASE WHEN $3 IS NOT NULL THEN now() ELSE tokens_valid_after END
         WHERE id = $1 AND deleted_at IS NULL RETURNING {USUARIO_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(c.email)
        .bind(c.hashed_password)
        .bind(c.nombre)
        .bind(c.apellido)
        .bind(c.dni)
        .bind(c.telefono)
        .bind(c.telegram_id.flatten())
        .bind(c.nivel.map(|n| n.as_db()))
        .bind(c.verificado)
        .bind(c.telegram_id.is_some())
        .fetch_optional(exec)
        .await
}

/// Soft delete; every token of the user stops working at once. `None` when already gone.
pub async fn soft_delete<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Option<Usuario>, sqlx::Error> {
    let sql = format!(
        "UPDATE usuarios SET deleted_at = now(), tokens_valid_after = now()
         WHERE id = $1 AND deleted_at IS NULL RETURNING {USUARIO_COLUMNS}"
    );
    sqlx::query_as(&sql).bind(id).fetch_optional(exec).await
}

/// The stored password hash (for re-authentication on a password change).
pub async fn password_hash<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT hashed_password FROM usuarios WHERE id = $1")
        .bind(id)
        .fetch_optional(exec)
        .await
}

/// Ends every token of the user issued until now ("log out everywhere"); answers the new
/// cut-off, `None` when the user is gone.
pub async fn cut_off_tokens<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE usuarios SET tokens_valid_after = now() WHERE id = $1 AND deleted_at IS NULL
         RETURNING tokens_valid_after",
    )
    .bind(id)
    .fetch_optional(exec)
    .await
}

/// Stores a one-time Telegram link code (only its hash: `code_hash`).
pub async fn insert_telegram_link_code<'e, E: PgExecutor<'e>>(
    exec: E,
    code_hash: &str,
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO telegram_link_codes (code, user_id, expires_at) VALUES ($1, $2, $3)")
        .bind(code_hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(exec)
        .await?;
    Ok(())
}

/// What authenticating a token needs to know about its user, read fresh on every request so
/// that logout, demotion and deletion apply at once on every instance.
#[derive(sqlx::FromRow)]
pub struct AuthState {
    pub nivel: String,
    pub verificado: bool,
    pub deleted: bool,
    pub tokens_valid_after: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub efectivo_id: Option<i64>,
    /// A confirmed second factor.
    pub totp_enrolled: bool,
}

pub async fn auth_state<'e, E: PgExecutor<'e>>(
    exec: E,
    user_id: i64,
    jti: uuid::Uuid,
) -> Result<Option<AuthState>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.nivel::text AS nivel, u.verificado, (u.deleted_at IS NOT NULL) AS deleted,
                u.tokens_valid_after,
                EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = $2) AS revoked,
                (SELECT e.id FROM efectivos e WHERE e.usuario_id = u.id AND e.deleted_at IS NULL) AS efectivo_id,
                EXISTS (SELECT 1 FROM usuario_totp t WHERE t.usuario_id = u.id AND t.confirmed_at IS NOT NULL) AS totp_enrolled
         FROM usuarios u WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(jti)
    .fetch_optional(exec)
    .await
}
