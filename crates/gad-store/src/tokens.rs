//! Queries on revoked tokens (logout). A revoked `jti` is refused until its own expiry.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// Revokes one token; revoking it twice is a no-op.
pub async fn revoke<'e, E: PgExecutor<'e>>(
    exec: E,
    jti: uuid::Uuid,
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(user_id)
    .bind(expires_at)
    .execute(exec)
    .await?;
    Ok(())
}

/// Deletes up to `limit` revocations that have expired (useless once the token itself is).
pub async fn prune_expired<'e, E: PgExecutor<'e>>(exec: E, limit: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM revoked_tokens WHERE jti IN
           (SELECT jti FROM revoked_tokens WHERE expires_at < now() LIMIT $1)",
    )
    .bind(limit)
    .execute(exec)
    .await?;
    Ok(r.rows_affected())
}
