//! Database access: the only module that speaks SQL. One file per aggregate (usuarios,
//! efectivos, tareas, dispatch, emergency, geo, stats, tokens, telegram) plus the pool and
//! migrations (`pool`) and the nearest-first ordering every proximity query shares (`nearest`). Functions take an executor (pool or transaction) and return typed
//! structs; routes and realtime turn them into wire objects.

pub mod audit;
pub mod dispatch;
pub mod efectivos;
pub mod emergency;
pub mod gdpr;
pub mod geo;
pub mod nearest;
pub mod pool;
pub mod positions;
pub mod retention;
pub mod stats;
pub mod tareas;
pub mod telegram;
pub mod tickets;
pub mod tokens;
pub mod usuarios;
