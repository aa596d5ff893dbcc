//! Foundation: health, readiness, error model, headers, body limit, metrics, OpenAPI.

use gad_testkit::chaos::ChaosProxy;
use gad_testkit::{Options, TestApp, assert_contract_headers};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn health_body_is_exactly_status_ok_with_headers() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, r#"{"status":"ok"}"#);
    assert_contract_headers(&r, true);
    let r = app.get("/health", None).await;
    assert_eq!(r.text, r#"{"status":"ok"}"#);
    assert_contract_headers(&r, false);
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/api/v1/health"))
        .header("X-Request-ID", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    // Invalid (space, too long) → replaced by a fresh UUID.
    let long = "x".repeat(129);
    let r = app
        .client
        .get(app.url("/api/v1/health"))
        .header("X-Request-ID", long.as_str())
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, long);
    assert!(uuid::Uuid::parse_str(&id).is_ok());
}

#[tokio::test]
async fn not_found_and_method_not_allowed_have_contract_bodies_and_headers() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/does-not-exist", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not Found"}));
    assert_contract_headers(&r, true);
    let r = app.delete("/api/v1/health", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method Not Allowed"}));
    assert_contract_headers(&r, true);
}

#[tokio::test]
async fn oversized_bodies_get_413_by_length_and_chunked() {
    let app = TestApp::spawn().await;
    let big = vec![b'a'; 10 * 1024 * 1024 + 1];
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body, json!({"detail": "Request body too large"}));
    assert_contract_headers(&r, true);

    // Chunked: no Content-Length, the limit is counted while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get("content-length").is_none() || r.status() == StatusCode::PAYLOAD_TOO_LARGE
    );
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body, json!({"detail": "Request body too large"}));
    assert_contract_headers(&r, true);
}

#[tokio::test]
async fn readiness_reports_database_and_redis_state() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/health/ready", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["database"], "ok");
    assert_eq!(r.body["migrations"], "ok");
    assert_eq!(r.body["redis"], "not_configured");
    assert!(r.body["timestamp"].as_str().unwrap().ends_with('Z'));

    let app = TestApp::spawn_with_redis().await;
    let r = app.get("/health/ready", None).await;
    assert_eq!(r.body["redis"], "ok");
}

#[tokio::test]
async fn readiness_is_503_while_database_is_down_and_recovers_without_restart() {
    let proxy = ChaosProxy::start("127.0.0.1:5432").await;
    let db = gad_testkit::db::fresh_database().await;
    let via_proxy = proxy.wrap_url(&db, "127.0.0.1:5432");
    let app = TestApp::spawn_with(Options {
        database_url: Some(via_proxy),
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.get("/api/v1/health/ready", None).await.status,
        StatusCode::OK
    );

    proxy.cut();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = app.get("/api/v1/health/ready", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["detail"]["status"], "not_ready");
    assert!(
        r.body["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("database")
    );
    assert!(r.body["detail"]["timestamp"].is_string());
    assert_contract_headers(&r, true);
    // Liveness does not depend on the database.
    assert_eq!(app.get("/api/v1/health", None).await.status, StatusCode::OK);

    proxy.restore();
    let started = std::time::Instant::now();
    loop {
        if app.get("/api/v1/health/ready", None).await.status == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed().as_secs_f64() < 5.0,
            "not ready 5 s after the database came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ready_is_503_when_migrations_are_missing() {
    let db = gad_testkit::db::fresh_database().await;
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = TestApp::spawn_with(Options {
        database_url: Some(db),
        ..Default::default()
    })
    .await;
    let r = app.get("/api/v1/health/ready", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.body["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("pending")
    );
}

#[tokio::test]
async fn detailed_performance_and_government_are_computed() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/health", None).await;
    // Pool sizes are shown to the desk only.
    let sup = app.create_user(2).await;
    let r = app.get("/api/v1/health/detailed", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["checks"]["database"]["status"], "ok");
    assert!(r.body["checks"]["database"]["pool_size"].is_number());
    assert_eq!(r.body["checks"]["redis"]["status"], "not_configured");
    assert_eq!(r.body["checks"]["rate_limiter"]["backend"], "memory");
    assert_eq!(r.body["checks"]["websocket"]["fanout"], "local");
    assert!(r.body["checks"]["system"]["rss_bytes"].as_u64().unwrap() > 0);

    let r = app.get("/api/v1/health/performance", None).await;
    let routes = r.body["routes"].as_array().unwrap();
    assert!(
        routes
            .iter()
            .any(|x| x["route"] == "/api/v1/health" && x["count"].as_u64().unwrap() >= 1)
    );

    let r = app.get("/api/v1/health/government", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["government_instance"], "GRUPO_GAD");
    assert_eq!(r.body["status"], "healthy_with_warnings");
    assert_eq!(r.body["sla_compliance"]["target_availability"], 99.5);
    assert_eq!(
        r.body["citizen_service_availability"]["core_services_available"],
        true
    );
}

#[tokio::test]
async fn metrics_expose_contract_series_labelled_by_route_template() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/health", None).await;
    app.get("/api/v1/nope/123", None).await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    for series in [
        "app_uptime_seconds",
        "ws_connections_active",
        "ws_broadcasts_total",
        "http_requests_total",
        "http_request_duration_seconds",
        "rate_limit_rejected_total",
        "cache_hits_total",
        "cache_misses_total",
        "redis_up",
        "db_pool_connections",
        "emergency_dispatch_seconds",
        "emergency_dispatch_total",
        "ggrt_active_connections",
        "ggrt_connections_total",
        "ggrt_messages_sent_total",
        "ggrt_broadcasts_total",
        "ggrt_send_errors_total",
        "ggrt_heartbeat_last_timestamp",
        "ggrt_role_connections",
        "ggrt_user_active",
        "ggrt_message_latency_seconds",
    ] {
        assert!(
            r.text.contains(&format!("# TYPE {series} ")),
            "missing TYPE line for {series}"
        );
    }
    assert!(
        r.text
            .contains(r#"http_requests_total{method="GET",route="/api/v1/health",status="200"}"#)
    );
    assert!(
        !r.text.contains("/api/v1/nope/123"),
        "raw paths must never become labels"
    );
    // Issue 14: one name per series; `ws_messages_sent` was `ggrt_messages_sent_total` twice.
    assert!(!r.text.contains("ws_messages_sent"));
    assert!(
        !r.text.contains("# EOF"),
        "text format 0.0.4, not OpenMetrics"
    );
    let r2 = app.get("/api/v1/metrics/prometheus", None).await;
    assert!(r2.text.contains("# TYPE redis_up gauge"));
}

#[tokio::test]
async fn docs_are_served_locally() {
    let app = TestApp::spawn().await;
    let r = app.get("/docs/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("swagger"), "swagger ui page");
    assert!(!r.text.contains("cdn."), "no CDN references");
    let r = app.get("/redoc", None).await;
    assert!(r.text.contains("/static/redoc.standalone.js"));
    let r = app.get("/static/redoc.standalone.js", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.len() > 100_000);
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.body["openapi"], "3.1.0");
    assert_eq!(
        r.body["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/login"
    );
}

/// The generated OpenAPI document must match the committed snapshot (docs/openapi.json), so the
/// contract cannot drift silently. Regenerate with UPDATE_SNAPSHOTS=1 after an intended change.
#[test]
fn openapi_snapshot_matches() {
    let mut doc = gad_api::app::openapi(None);
    doc["info"]["version"] = json!("snapshot");
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "OpenAPI changed: run UPDATE_SNAPSHOTS=1 cargo test -p gad-api --test api openapi_snapshot and review docs/openapi.json"
    );
}

/// The AsyncAPI document is generated from the event types and must match the committed
/// docs/asyncapi.yaml (served at /api/v1/asyncapi.yaml). Regenerate with UPDATE_SNAPSHOTS=1.
#[test]
fn asyncapi_snapshot_matches() {
    let text = gad_api::realtime::asyncapi::yaml();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/asyncapi.yaml");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "AsyncAPI changed: run UPDATE_SNAPSHOTS=1 cargo test -p gad-api --test api asyncapi_snapshot and review docs/asyncapi.yaml"
    );
}

/// A handler that panics still yields the contract's 500 body (with the request id, never the
/// cause) and every header, through the same layers the app uses.
#[tokio::test]
async fn panics_become_contract_500s_with_headers() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let app = TestApp::spawn().await;
    let router = axum::Router::new()
        .route("/api/v1/boom", axum::routing::get(boom))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            gad_api::middleware::panic_response,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.state.clone(),
            gad_api::middleware::gateway,
        ))
        .with_state(app.state.clone());
    let resp = router
        .oneshot(
            Request::get("/api/v1/boom")
                .header("x-request-id", "req-500")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers().clone();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        body,
        json!({"detail": "Internal Server Error", "request_id": "req-500"})
    );
    assert!(!String::from_utf8_lossy(&bytes).contains("secret cause"));
    assert_eq!(headers["x-request-id"], "req-500");
    for h in [
        "x-content-type-options",
        "x-frame-options",
        "x-xss-protection",
        "referrer-policy",
        "permissions-policy",
        "content-security-policy",
        "cache-control",
    ] {
        assert!(headers.contains_key(h), "500 lacks {h}");
    }
}

async fn boom() -> &'static str {
    panic!("secret cause")
}

#[tokio::test]
async fn validation_errors_carry_headers_too() {
    let app = TestApp::spawn().await;
    let r = app.post("/api/v1/auth/login", None, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_contract_headers(&r, true);
}
