//! One module per resource; each exposes `router()` returning its routes with their OpenAPI
//! operations, so routes and documentation come from one source.

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod cache_admin;
pub mod checkins;
pub mod dispatch;
pub mod docs;
pub mod efectivos;
pub mod emergency;
pub mod evidencia;
pub mod fixes;
pub mod gdpr;
pub mod geo;
pub mod geo_search;
pub mod health;
pub mod incidents;
pub mod stats;
pub mod tasks;
pub mod trail;
pub mod turnos;
pub mod user_totp;
pub mod user_unlock;
pub mod users;
pub mod zonas;
