//! Queries on the second factor: a user's TOTP secret (sealed by the service), its recovery
//! codes (hashed) and the login challenges between password and code (hashed).

use sqlx::PgExecutor;

/// A user's factor as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct TotpRow {
    pub secret_sealed: Vec<u8>,
    pub confirmed: bool,
}

/// The user's factor, confirmed or not.
pub async fn get<'e, E: PgExecutor<'e>>(
    exec: E,
    usuario_id: i64,
) -> Result<Option<TotpRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT secret_sealed, confirmed_at IS NOT NULL AS confirmed
         FROM usuario_totp WHERE usuario_id = $1",
    )
    .bind(usuario_id)
    .fetch_optional(exec)
    .await
}

/// True when the user has a confirmed factor (login asks for a code).
pub async fn is_enrolled<'e, E: PgExecutor<'e>>(
    exec: E,
    usuario_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM usuario_totp WHERE usuario_id = $1 AND confirmed_at IS NOT NULL)",
    )
    .bind(usuario_id)
    .fetch_one(exec)
    .await
}

/// Starts (or restarts) an enrolment with a new secret. A confirmed factor is not replaced:
/// `false` then (resetting it is an administrator's act).
pub async fn start_enrolment<'e, E: PgExecutor<'e>>(
    exec: E,
    usuario_id: i64,
    secret_sealed: &[u8],
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO usuario_totp (usuario_id, secret_sealed) VALUES ($1, $2)
         ON CONFLICT (usuario_id) DO UPDATE
            SET secret_sealed = EXCLUDED.secret_sealed, last_step = NULL, created_at = now()
            WHERE usuario_totp.confirmed_at IS NULL",
    )
    .bind(usuario_id)
    .bind(secret_sealed)
    .execute(exec)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Accepts the code of time step `step` unless one of that step or a later one was already
/// accepted (a code is used once). `false`: a replay.
pub async fn accept_step<'e, E: PgExecutor<'e>>(
    exec: E,
    usuario_id: i64,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE usuario_totp SET last_step = $2
         WHERE usuario_id = $1 AND (last_step IS NULL OR last_step < $2)",
    )
    .bind(usuario_id)
    .bind(step)
    .execute(exec)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Confirms a pending enrolment and stores its recovery codes (hashes), replacing any older.
/// `false`: nothing pending.
pub async fn confirm(
    db: &mut sqlx::PgConnection,
    usuario_id: i64,
    recovery_hashes: &[String],
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE usuario_totp SET confirmed_at = now()
         WHERE usuario_id = $1 AND confirmed_at IS NULL",
    )
    .bind(usuario_id)
    .execute(&mut *db)
    .await?
    .rows_affected();
    if n != 1 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM totp_recovery_codes WHERE usuario_id = $1")
        .bind(usuario_id)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "INSERT INTO totp_recovery_codes (usuario_id, code_hash) SELECT $1, unnest($2::text[])",
    )
    .bind(usuario_id)
    .bind(recovery_hashes)
    .execute(&mut *db)
    .await?;
    Ok(true)
}

/// Uses one recovery code (by hash); `false` when unknown or already used.
pub async fn use_recovery_code<'e, E: PgExecutor<'e>>(
    exec: E,
    usuario_id: i64,
    code_hash: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE totp_recovery_codes SET used_at = now()
         WHERE usuario_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(usuario_id)
    .bind(code_hash)
    .execute(exec)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Removes a user's factor, recovery codes and open challenges; `true` when there was a factor.
pub async fn reset(db: &mut sqlx::PgConnection, usuario_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM totp_recovery_codes WHERE usuario_id = $1")
        .bind(usuario_id)
        .execute(&mut *db)
        .await?;
    sqlx::query("DELETE FROM totp_challenges WHERE usuario_id = $1")
        .bind(usuario_id)
        .execute(&mut *db)
        .await?;
    let n = sqlx::query("DELETE FROM usuario_totp WHERE usuario_id = $1")
        .bind(usuario_id)
        .execute(&mut *db)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Records a login challenge (hashed) valid for 5 minutes.
pub async fn create_challenge<'e, E: PgExecutor<'e>>(
    exec: E,
    challenge_hash: &str,
    usuario_id: i64,
    device_id: Option<uuid::Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO totp_challenges (challenge_hash, usuario_id, device_id, expires_at)
         VALUES ($1, $2, $3, now() + interval '5 minutes')",
    )
    .bind(challenge_hash)
    .bind(usuario_id)
    .bind(device_id)
    .execute(exec)
    .await?;
    Ok(())
}

/// A live challenge (unused, unexpired): whose it is and the device cookie it came with.
#[derive(Debug, sqlx::FromRow)]
pub struct Challenge {
    pub usuario_id: i64,
    pub device_id: Option<uuid::Uuid>,
}

pub async fn live_challenge<'e, E: PgExecutor<'e>>(
    exec: E,
    challenge_hash: &str,
) -> Result<Option<Challenge>, sqlx::Error> {
    sqlx::query_as(
        "SELECT usuario_id, device_id FROM totp_challenges
         WHERE challenge_hash = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(challenge_hash)
    .fetch_optional(exec)
    .await
}

/// Uses a live challenge; `false` when another request used it first (or it expired).
pub async fn use_challenge<'e, E: PgExecutor<'e>>(
    exec: E,
    challenge_hash: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE totp_challenges SET used_at = now()
         WHERE challenge_hash = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(challenge_hash)
    .execute(exec)
    .await?
    .rows_affected();
    Ok(n == 1)
}
