//! What a database error means to a client, decided once: a named unique constraint is a
//! conflict on a wire field, a lost pool or connection is "unavailable", anything else is a bug.

use crate::DbError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// A unique constraint on this wire field (`email`, `codigo`…).
    Conflict { field: &'static str },
    /// The database cannot be reached now (pool timed out or closed, I/O).
    Unavailable,
    /// Anything else: logged, never shown.
    Other,
}

/// Maps a named constraint to the wire field a 409 names.
fn constraint_field(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "usuarios_email_key" => "email",
        "usuarios_dni_key" => "dni",
        "usuarios_telegram_id_key" => "telegram_id",
        "tareas_codigo_key" => "codigo",
        "efectivos_codigo_interno_key" => "codigo_interno",
        "efectivos_usuario_id_key" => "usuario_id",
        "tipos_incidente_pkey" => "codigo",
        _ => return None,
    })
}

pub fn classify(e: &DbError) -> DbFailure {
    match e {
        DbError::Database(db) => match db.constraint().and_then(constraint_field) {
            Some(field) if db.is_unique_violation() => DbFailure::Conflict { field },
            _ => DbFailure::Other,
        },
        DbError::PoolTimedOut | DbError::Io(_) | DbError::PoolClosed => DbFailure::Unavailable,
        _ => DbFailure::Other,
    }
}

/// True when `e` is a violation of the named constraint (for the few a use case answers
/// itself, e.g. an unknown incident type met by a foreign key).
pub fn violates(e: &DbError, constraint: &str) -> bool {
    matches!(e, DbError::Database(db) if db.constraint() == Some(constraint))
}
