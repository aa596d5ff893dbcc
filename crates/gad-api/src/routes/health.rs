//! Health, readiness and metrics (contract §12). Public, and every figure here is measured,
//! never hard-coded; only the checks that probe the dependencies (detailed, government) are
//! rate limited.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gad_core::geo::round2;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthUser;
use crate::error::{ApiError, json_response};
use crate::state::AppState;
use gad_core::time::now_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(detailed))
        .routes(routes!(performance))
        .routes(routes!(government))
        .routes(routes!(prometheus))
}

/// Root aliases (`/health`, `/health/live`, `/health/ready`, `/metrics`), outside the OpenAPI document.
pub fn aliases() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/detailed", get(detailed))
        .route("/metrics", get(prometheus))
}

static OK_BODY: &str = r#"{"status":"ok"}"#;

/// Process alive. Body exactly `{"status":"ok"}`.
#[utoipa::path(get, path = "/api/v1/health", tag = "health",
    description = "Level: public. Liveness of the process; body exactly {\"status\":\"ok\"}.",
    responses((status = 200, description = "alive", body = Vivo)))]
pub async fn health() -> Response {
    let mut r = OK_BODY.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[utoipa::path(get, path = "/api/v1/health/live", tag = "health",
    description = "Level: public. Liveness with a timestamp.",
    responses((status = 200, description = "alive", body = Vivo)))]
pub async fn live() -> Response {
    axum::Json(Vivo {
        status: "alive".into(),
        timestamp: Some(now_rfc3339()),
    })
    .into_response()
}

/// `{"status":"ok"}` (`/health`) or `{"status":"alive","timestamp":…}` (`/health/live`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Vivo {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// `GET /health/ready` when ready.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Listo {
    /// Always `ready`.
    pub status: &'static str,
    pub database: &'static str,
    pub migrations: &'static str,
    /// `ok`, `degraded` or `not_configured`.
    pub redis: &'static str,
    pub timestamp: String,
}

/// `GET /health/performance`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Rendimiento {
    pub timestamp: String,
    pub uptime_seconds: f64,
    pub total_requests: u64,
    pub total_errors: u64,
    /// Per route template and method: count, error_count, p50_ms, p95_ms, p99_ms.
    #[schema(value_type = Vec<Object>)]
    pub routes: Vec<Value>,
}

fn redis_status(state: &AppState) -> &'static str {
    if !state.redis.configured() {
        "not_configured"
    } else if state.redis.is_up() {
        "ok"
    } else {
        "degraded"
    }
}

/// Ready to serve: database reachable and every migration applied. Redis down is "degraded", not 503.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "health",
    description = "Level: public. 200 when the database is reachable and migrated; 503 otherwise.",
    responses((status = 200, description = "ready", body = Listo), (status = 503, description = "not ready", body = Value)))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = async {
        crate::db::ping(&state.db).await?;
        crate::db::migrations_applied(&state.db).await
    };
    match check.await {
        Ok(()) => axum::Json(Listo {
            status: "ready",
            database: "ok",
            migrations: "ok",
            redis: redis_status(&state),
            timestamp: now_rfc3339(),
        })
        .into_response(),
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"detail": {"status": "not_ready", "error": e, "timestamp": now_rfc3339()}}),
        ),
    }
}

/// Resident set size of this process, from /proc (Linux).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

async fn redis_check(state: &AppState) -> Value {
    if !state.redis.configured() {
        return json!({"status": "not_configured", "response_time_ms": null});
    }
    let t = std::time::Instant::now();
    let ok = match state.redis.conn() {
        Some(mut c) => gad_service::redis_conn::with_timeout(
            &state.redis,
            redis::cmd("PING").query_async::<String>(&mut c),
        )
        .await
        .is_some(),
        None => false,
    };
    json!({"status": if ok { "ok" } else { "degraded" },
           "response_time_ms": if ok { json!(round2(t.elapsed().as_secs_f64() * 1e3)) } else { Value::Null }})
}

/// Every dependency with measured figures.
#[utoipa::path(get, path = "/api/v1/health/detailed", tag = "health",
    description = "Level: public (pool sizes: level 2+). Database, Redis, limiter, WebSocket and process checks; 503 when the database is down. Rate limited as general_api (it probes the dependencies). `pool_size`/`pool_idle` are shown only to an authenticated level 2+ caller.",
    responses((status = 200, description = "checks", body = Detallado), (status = 429, description = "rate limited", body = crate::openapi::RateLimitBody),
              (status = 503, description = "database down", body = Value)))]
pub async fn detailed(
    State(state): State<AppState>,
    caller: Result<AuthUser, ApiError>,
) -> Response {
    let t = std::time::Instant::now();
    let db = crate::db::ping(&state.db).await;
    let redis = redis_check(&state).await;
    let db_ok = db.is_ok();
    let mut database = match &db {
        Ok(ms) => json!({"status": "ok", "response_time_ms": round2(*ms)}),
        Err(e) => json!({"status": "down", "error": e, "response_time_ms": null}),
    };
    // Pool sizes tell an attacker how close the database is to exhaustion: the desk only.
    if caller.is_ok_and(|u| u.is_supervisor()) {
        database["pool_size"] = json!(state.db.size());
        database["pool_idle"] = json!(state.db.num_idle());
    }
    let redis_degraded = redis["status"] == "degraded";
    let limiter_backend = if state.redis.conn().is_some() {
        "redis"
    } else {
        "memory"
    };
    let body = Detallado {
        status: if db_ok && !redis_degraded {
            "ok"
        } else {
            "degraded"
        },
        timestamp: now_rfc3339(),
        response_time_ms: round2(t.elapsed().as_secs_f64() * 1e3),
        checks: json!({
            "database": database,
            "redis": redis,
            "rate_limiter": {"backend": limiter_backend, "enabled": state.config.rate_limits.enabled},
            "websocket": {"connections": state.hub.connections(), "fanout": state.hub.fanout_mode()},
            "system": {"uptime_seconds": round2(state.metrics.uptime_seconds()), "rss_bytes": rss_bytes()},
        }),
    };
    if db_ok {
        axum::Json(body).into_response()
    } else {
        json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({"detail": body}))
    }
}

/// Per route template: count, errors and latency quantiles since start.
#[utoipa::path(get, path = "/api/v1/health/performance", tag = "health",
    description = "Level: public. Request counts, error counts and p50/p95/p99 (ms) per route template since start.",
    responses((status = 200, description = "figures", body = Rendimiento)))]
pub async fn performance(State(state): State<AppState>) -> Response {
    let (total, errors) = state.metrics.http_totals();
    axum::Json(Rendimiento {
        timestamp: now_rfc3339(),
        uptime_seconds: round2(state.metrics.uptime_seconds()),
        total_requests: total,
        total_errors: errors,
        routes: state.metrics.performance(),
    })
    .into_response()
}

/// Government service status with real checks and SLA figures computed since start.
#[utoipa::path(get, path = "/api/v1/health/government", tag = "health",
    description = "Level: public. Service status for government monitoring; 503 when unhealthy. Rate limited as general_api (it probes the dependencies).",
    responses((status = 200, description = "status", body = EstadoGobierno), (status = 429, description = "rate limited", body = crate::openapi::RateLimitBody), (status = 503, description = "unhealthy", body = EstadoGobierno)))]
pub async fn government(State(state): State<AppState>) -> Response {
    let t = std::time::Instant::now();
    let db = crate::db::ping(&state.db).await;
    let migrations = if db.is_ok() {
        crate::db::migrations_applied(&state.db).await
    } else {
        Err("database down".into())
    };
    let redis = redis_check(&state).await;
    let redis_degraded = redis["status"] == "degraded";
    let core_ok = db.is_ok() && migrations.is_ok();
    let status = match (core_ok, redis_degraded) {
        (false, _) => "unhealthy",
        (true, true) => "degraded",
        (true, false) if !state.redis.configured() => "healthy_with_warnings",
        _ => "healthy",
    };
    let body = EstadoGobierno {
        government_instance: "GRUPO_GAD",
        version: state.config.project_version.clone(),
        status,
        checks: json!({
            "database": match &db { Ok(ms) => json!({"status": "ok", "response_time_ms": round2(*ms)}),
                                    Err(e) => json!({"status": "down", "error": e}) },
            "migrations": match &migrations { Ok(()) => json!({"status": "ok"}), Err(e) => json!({"status": "error", "error": e}) },
            "redis": redis,
            "websocket": {"connections": state.hub.connections(), "fanout": state.hub.fanout_mode()},
        }),
        citizen_service_availability: json!({
            "status": if !core_ok { "degraded" } else if redis_degraded { "limited" } else { "full" },
            "core_services_available": core_ok,
        }),
        sla_compliance: sla_compliance(&state),
        uptime_seconds: round2(state.metrics.uptime_seconds()),
        total_check_time_ms: round2(t.elapsed().as_secs_f64() * 1e3),
    };
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(body)).into_response()
}

/// Availability and p95 since start against the service's targets.
fn sla_compliance(state: &AppState) -> Value {
    let (total, errors) = state.metrics.http_totals();
    let availability = if total == 0 {
        100.0
    } else {
        100.0 * (total - errors) as f64 / total as f64
    };
    let p95_ms = state.metrics.http_quantile_all(0.95) * 1000.0;
    json!({
        "availability_percentage_since_start": round2(availability),
        "p95_response_time_ms": round2(p95_ms),
        "target_availability": 99.5,
        "target_response_time_ms": 500,
        "meeting_targets": availability >= 99.5 && p95_ms <= 500.0,
    })
}

/// `GET /health/detailed` (200; a 503 wraps the same object in `detail`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Detallado {
    /// `ok` or `degraded`.
    pub status: &'static str,
    pub timestamp: String,
    pub response_time_ms: f64,
    /// database, redis, rate_limiter, websocket, system.
    #[schema(value_type = Object)]
    pub checks: Value,
}

/// `GET /health/government` (200, or 503 when unhealthy, same object).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EstadoGobierno {
    pub government_instance: &'static str,
    pub version: String,
    /// healthy, healthy_with_warnings, degraded or unhealthy.
    pub status: &'static str,
    /// database, migrations, redis, websocket.
    #[schema(value_type = Object)]
    pub checks: Value,
    #[schema(value_type = Object)]
    pub citizen_service_availability: Value,
    #[schema(value_type = Object)]
    pub sla_compliance: Value,
    pub uptime_seconds: f64,
    pub total_check_time_ms: f64,
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/api/v1/metrics/prometheus", tag = "health",
    description = "Level: public. Prometheus text format 0.0.4 (alias /metrics).",
    responses((status = 200, description = "metrics", content_type = "text/plain")))]
pub async fn prometheus(State(state): State<AppState>) -> Response {
    let text = state
        .metrics
        .render((state.db.size(), state.db.num_idle() as u32));
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
