//! Black-box tests: the real app on a real socket, its own PostgreSQL+PostGIS database, and
//! (where stated) real Redis. One binary; each test is independent and runs in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod alerts;
mod audit_chain;
mod audit_sealer;
mod auth;
mod auth_cache;
mod cache;
mod checkins;
mod dispatch_abuse;
mod dispatch_ack;
mod efectivos;
mod emergency;
mod foundation;
mod gdpr;
mod geo;
mod geo_search;
mod hardening;
mod incident_timeline;
mod incidents;
mod jobs;
mod login_trust;
mod matrix;
mod nearest;
mod positions;
mod ratelimit;
mod realtime;
mod realtime_producers;
mod stats;
mod tasks;
mod telegram_link;
mod turnos;
mod users;
mod web;
mod zonas;
