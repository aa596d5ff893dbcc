//! The incident-type catalogue (`tipos_incidente`): each type's default priority and response
//! plan (officers required, preferred specialities, check-in interval).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;

/// An incident type on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TipoIncidente {
    pub codigo: String,
    pub nombre: String,
    /// 1–5, 5 most urgent: the default priority of an incident of this type.
    pub prioridad: i16,
    /// 1–10: officers dispatched to an incident of this type.
    pub efectivos_requeridos: i16,
    /// Officers with one of these specialities are preferred (within DISPATCH_SPECIALTY_SLACK_M).
    pub especialidades: Vec<String>,
    /// How often the scene should report, in minutes (null: no check-ins).
    pub checkin_minutos: Option<i32>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: DateTime<Utc>,
}

/// What a write sets (everything but the code, which identifies the type).
pub struct TipoFields<'a> {
    pub nombre: &'a str,
    pub prioridad: i16,
    pub efectivos_requeridos: i16,
    pub especialidades: &'a [String],
    pub checkin_minutos: Option<i32>,
}

const COLUMNS: &str =
    "codigo, etiqueta AS nombre, prioridad, dotacion AS efectivos_requeridos, especialidades,
    checkin_minutos, created_at, updated_at";

pub async fn list<'e, E: PgExecutor<'e>>(exec: E) -> Result<Vec<TipoIncidente>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tipos_incidente ORDER BY codigo"
    ))
    .fetch_all(exec)
    .await
}

pub async fn get<'e, E: PgExecutor<'e>>(
    exec: E,
    codigo: &str,
) -> Result<Option<TipoIncidente>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tipos_incidente WHERE codigo = $1"
    ))
    .bind(codigo)
    .fetch_optional(exec)
    .await
}

/// Inserts a new type; a taken code is a unique violation on `tipos_incidente_pkey`.
pub async fn insert<'e, E: PgExecutor<'e>>(
    exec: E,
    codigo: &str,
    f: &TipoFields<'_>,
) -> Result<TipoIncidente, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO tipos_incidente (codigo, etiqueta, prioridad, dotacion, especialidades,
            checkin_minutos)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(codigo)
    .bind(f.nombre)
    .bind(f.prioridad)
    .bind(f.efectivos_requeridos)
    .bind(f.especialidades)
    .bind(f.checkin_minutos)
    .fetch_one(exec)
    .await
}

/// Replaces a type's fields; `None` when there is no such type.
pub async fn update<'e, E: PgExecutor<'e>>(
    exec: E,
    codigo: &str,
    f: &TipoFields<'_>,
) -> Result<Option<TipoIncidente>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE tipos_incidente SET etiqueta = $2, prioridad = $3, dotacion = $4,
            especialidades = $5, checkin_minutos = $6, updated_at = now()
         WHERE codigo = $1 RETURNING {COLUMNS}"
    ))
    .bind(codigo)
    .bind(f.nombre)
    .bind(f.prioridad)
    .bind(f.efectivos_requeridos)
    .bind(f.especialidades)
    .bind(f.checkin_minutos)
    .fetch_optional(exec)
    .await
}

/// Deletes a type; a type some incident uses is a violation of `tareas_tipo_incidente_fkey`.
pub async fn delete<'e, E: PgExecutor<'e>>(
    exec: E,
    codigo: &str,
) -> Result<Option<TipoIncidente>, sqlx::Error> {
    sqlx::query_as(&format!(
        "DELETE FROM tipos_incidente WHERE codigo = $1 RETURNING {COLUMNS}"
    ))
    .bind(codigo)
    .fetch_optional(exec)
    .await
}

/// Whether a type exists (read when a typed emergency found nobody to dispatch, to tell an
/// unknown type from an empty map).
pub async fn exists<'e, E: PgExecutor<'e>>(exec: E, codigo: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tipos_incidente WHERE codigo = $1)")
        .bind(codigo)
        .fetch_one(exec)
        .await
}
