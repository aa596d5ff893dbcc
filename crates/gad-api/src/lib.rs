//! GAD's HTTP/WebSocket adapter: routes, extractors, the gateway middleware, the realtime hub,
//! the command-centre pages and the OpenAPI document. Handlers extract, call a use case of
//! `gad-service` and respond.

pub mod app;
pub mod audit;
pub mod auth;
pub mod auth_cache;
pub mod db;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod ratelimit;
pub mod ratelimit_state;
pub mod realtime;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod web;

pub use gad_service::config::Config;
pub use state::AppState;
