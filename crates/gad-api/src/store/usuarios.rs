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
    /// Level 1–3.
    pub nivel: i16,
    pub verificado: bool,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub ultimo_acceso: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::ser_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Columns of `Usuario`, with the level converted from the enum label to 1–3.
pub const USUARIO_COLUMNS: &str = "id, uuid, email, nombre, apellido, dni, telefono, telegram_id,
    (substr(nivel::text, 7))::int2 AS nivel, verificado, ultimo_acceso, created_at, updated_at, deleted_at";

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
}

pub async fn for_login<'e, E: PgExecutor<'e>>(
    exec: E,
    email: &str,
) -> Result<Option<LoginRow>, sqlx::Error> {
    sqlx::query_as::<_, LoginRow>(
        "SELECT id, nivel::text AS nivel, hashed_password, verificado, (deleted_at IS NOT NULL) AS deleted, bloqueado_hasta
         FROM usuarios WHERE lower(email) = lower($1)",
    )
    .bind(email)
    .fetch_optional(exec)
    .await
}

/// Counts a failed login atomically; the 5th consecutive failure locks the account for
/// 30 minutes. A lock that has expired starts a new count. Returns (failures, locked_until).
pub async fn record_failed_login<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
) -> Result<(i32, Option<DateTime<Utc>>), sqlx::Error> {
    sqlx::query_as(
        "UPDATE usuarios SET
            intentos_fallidos = CASE WHEN bloqueado_hasta IS NOT NULL AND bloqueado_hasta <= now() THEN 1
                                     ELSE intentos_fallidos + 1 END,
            bloqueado_hasta = CASE
                WHEN bloqueado_hasta IS NOT NULL AND bloqueado_hasta <= now() THEN NULL
                WHEN intentos_fallidos + 1 >= 5 THEN now() + interval '30 minutes'
                ELSE bloqueado_hasta END
         WHERE id = $1
         RETURNING intentos_fallidos, bloqueado_hasta",
    )
    .bind(id)
    .fetch_one(exec)
    .await
}

pub async fn record_successful_login<'e, E: PgExecutor<'e>>(
    exec: E,
    id: i64,
    new_hash: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE usuarios SET intentos_fallidos = 0, bloqueado_hasta = NULL, ultimo_acceso = now(),
                hashed_password = COALESCE($2, hashed_password)
         WHERE id = $1",
    )
    .bind(id)
    .bind(new_hash)
    .execute(exec)
    .await?;
    Ok(())
}

pub fn nivel_label(n: Nivel) -> &'static str {
    n.as_db()
}
