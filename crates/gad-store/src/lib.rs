//! Database access: the only crate that speaks SQL (and the only one that depends on sqlx). One file per aggregate (usuarios,
//! efectivos, tareas, dispatch, emergency, geo, stats, tokens, telegram) plus the pool and
//! migrations (`pool`) and the nearest-first ordering every proximity query shares (`nearest`). Functions take an executor (pool or transaction) and return typed
//! structs; routes and realtime turn them into wire objects.

pub mod audit;
pub mod checkins;
pub mod dispatch;
pub mod efectivos;
pub mod emergency;
pub mod entregas;
pub mod error;
pub mod evidencia;
pub mod gdpr;
pub mod geo;
pub mod lugares;
pub mod mensajes;
pub mod nearest;
pub mod person_keys;
pub mod pool;
pub mod positions;
pub mod predicates;
pub mod reportes;
pub mod retention;
pub mod stats;
pub mod tareas;
pub mod telegram;
pub mod tickets;
pub mod tipos_incidente;
pub mod tokens;
pub mod totp;
pub mod turnos;
pub mod usuarios;
pub mod zona_vigilancias;
pub mod zonas;

/// The handles other layers hold without naming sqlx: a pool, one connection, a transaction.
pub use sqlx::{Error as DbError, PgConnection as Conn, PgPool as Pool};
pub type Tx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;
pub use error::{DbFailure, classify, violates};

/// A user's text made literal inside a LIKE pattern (`%`, `_` and `\\` escaped).
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
