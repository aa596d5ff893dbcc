//! The per-person keys that encrypt personal values inside audit rows (table `person_keys`,
//! migration 20261207040001). Only wrapped keys are stored; wrapping and encryption happen in
//! `gad_service::personal_keys`. Erasure deletes a person's key (`gdpr::anonymise`).

use sqlx::{PgConnection, PgExecutor};

/// The person's wrapped key, creating it from `candidate` when the person has none yet. `None`
/// when the person does not exist or has been erased (an erased person gets no new key: the
/// values written about them afterwards are pseudonyms, stored as the erased mark).
pub async fn get_or_create(
    db: &mut PgConnection,
    usuario_id: i64,
    candidate: &[u8],
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let created: Option<Vec<u8>> = sqlx::query_scalar(
        "INSERT INTO person_keys (usuario_id, wrapped_key)
         SELECT u.id, $2 FROM usuarios u WHERE u.id = $1 AND NOT (u.extra_data ? 'anonimizado_en')
         ON CONFLICT (usuario_id) DO NOTHING
         RETURNING wrapped_key",
    )
    .bind(usuario_id)
    .bind(candidate)
    .fetch_optional(&mut *db)
    .await?;
    if created.is_some() {
        return Ok(created);
    }
    // Someone else's key (committed first), or no key for this person.
    sqlx::query_scalar("SELECT wrapped_key FROM person_keys WHERE usuario_id = $1")
        .bind(usuario_id)
        .fetch_optional(db)
        .await
}

/// The wrapped keys of these people (those who have one).
pub async fn wrapped_keys<'e, E: PgExecutor<'e>>(
    exec: E,
    usuario_ids: &[i64],
) -> Result<Vec<(i64, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT usuario_id, wrapped_key FROM person_keys WHERE usuario_id = ANY($1)")
        .bind(usuario_ids)
        .fetch_all(exec)
        .await
}

/// Destroys the person's key: every value sealed with it becomes unreadable. True when there
/// was one.
pub async fn destroy(db: &mut PgConnection, usuario_id: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM person_keys WHERE usuario_id = $1")
        .bind(usuario_id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}
