//! GAD use cases: one function per thing a person does (raise an emergency, acknowledge,
//! change a task's state, report a location…), called the same way by every adapter — the HTTP
//! API, the Telegram bot, the CLI and the periodic jobs. A use case takes the context, the actor
//! and typed input; it owns the transaction, authorisation, audit and cache invalidation, and
//! returns its output with the events to publish after commit. SQL lives in `gad-store` only.

pub mod admin;
pub mod alerts;
pub mod almacen;
pub mod audit;
pub mod auth;
pub mod authorize;
pub mod cache;
pub mod cache_admin;
pub mod calendario;
pub mod checkins;
pub mod config;
pub mod ctx;
pub mod device;
pub mod dispatch;
pub mod efectivos;
pub mod emergency;
pub mod entregas;
pub mod error;
pub mod events;
pub mod evidencia;
pub mod fixes;
pub mod gdpr;
pub mod geo;
pub mod geocoder;
pub mod hashing;
pub mod ingest;
pub mod jobs;
pub mod jurisdiccion;
pub mod lugares;
pub mod mensajes;
pub mod metrics;
pub mod partitions;
pub mod password;
pub mod personal_keys;
pub mod realtime;
pub mod redis_conn;
pub mod reportes;
pub mod sealer;
pub mod stats;
pub mod task_json;
pub mod tasks;
pub mod telegram;
pub mod telegram_link;
pub mod tipos_incidente;

pub mod totp;
pub mod trail;
pub mod turnos;
pub mod users;
pub mod wire;
pub mod witness;
pub mod zona_vigilancia;
pub mod zonas;

pub use config::Config;
pub use ctx::Ctx;
pub use error::{ServiceError, ServiceResult};
/// Pool construction, migrations and the readiness probes, for the composition root and the
/// health routes.
pub use gad_store::pool;
/// The database pool and its error, named for the adapters: they hold a pool and see a
/// database failure only as what it means (`ServiceError::from`), never run SQL themselves.
pub use gad_store::{DbError, Pool};
