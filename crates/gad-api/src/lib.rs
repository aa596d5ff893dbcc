//! GAD HTTP/WebSocket service: configuration, state, routes and the shared-state layers.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod extract;
pub mod gdpr;
pub mod hashing;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod partitions;
pub mod ratelimit;
pub mod ratelimit_state;
pub mod realtime;
pub mod redis_conn;
pub mod routes;
pub mod state;
pub mod store;
pub mod task_json;
pub mod telemetry;
pub mod time;
pub mod web;
pub mod wire;

pub use config::Config;
pub use state::AppState;
