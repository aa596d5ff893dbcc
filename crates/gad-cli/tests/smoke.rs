//! `gad smoke` against (a) the real app and (b) deliberately broken deployments: every check must
//! pass on a healthy deployment and fail — alone — on the condition it guards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gad_testkit::{Options, TestApp};
use serde_json::json;

const ALL: [&str; 10] = [
    "health",
    "metrics",
    "swagger",
    "openapi",
    "database",
    "redis",
    "websocket",
    "auth",
    "tables",
    "latency",
];

struct Run {
    ok: bool,
    checks: BTreeMap<String, (bool, String)>,
    stdout: String,
}

impl Run {
    fn failed(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|(_, (p, _))| !p)
            .map(|(k, _)| k.as_str())
            .collect()
    }
    fn reason(&self, name: &str) -> &str {
        &self.checks[name].1
    }
}

async fn smoke(base: &str, extra: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_gad"));
    cmd.arg("smoke").arg("--base-url").arg(base).args(extra);
    for (k, _) in std::env::vars() {
        if gad_service::config::KNOWN_ENV_VARS.contains(&k.as_str()) {
            cmd.env_remove(k);
        }
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("smoke finished within 60 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "$ gad smoke --base-url {base} {}\n{stdout}",
        extra.join(" ")
    );
    let mut checks = BTreeMap::new();
    for line in stdout.lines() {
        let (pass, rest) = if let Some(r) = line.strip_prefix("PASS ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("FAIL ") {
            (false, r)
        } else {
            continue;
        };
        let (name, detail) = rest.split_once(" — ").expect("`name — detail`");
        checks.insert(name.to_string(), (pass, detail.to_string()));
    }
    assert_eq!(
        checks.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut a = ALL.to_vec();
            a.sort();
            a
        },
        "all ten checks printed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = Run {
        ok: out.status.success(),
        checks,
        stdout,
    };
    // The exit code agrees with the lines.
    assert_eq!(r.ok, r.failed().is_empty(), "{}", r.stdout);
    r
}

// ---------------------------------------------------------------- the real app

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_app_with_redis_passes_all_ten() {
    let app = TestApp::spawn_with_redis().await;
    let admin = app.create_user(3).await;
    let r = smoke(
        &app.base,
        &["--token", &admin.token, "--database-url", &app.db_url],
    )
    .await;
    assert!(r.ok, "{}", r.stdout);
    assert!(r.stdout.contains("smoke: 10/10 passed"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_app_without_redis_fails_only_the_redis_check() {
    let app = TestApp::spawn().await;
    let r = smoke(&app.base, &[]).await;
    assert!(!r.ok);
    assert_eq!(r.failed(), vec!["redis"], "{}", r.stdout);
    assert!(r.reason("redis").contains("not_configured"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_staging_app_needs_the_token_for_the_websocket_check() {
    let app = TestApp::spawn_with(Options::with_redis().env("ENVIRONMENT", "staging")).await;
    let r = smoke(&app.base, &[]).await;
    assert_eq!(r.failed(), vec!["websocket"], "{}", r.stdout);
    assert!(r.reason("websocket").contains("1008"), "{}", r.stdout);
    let user = app.create_user(1).await;
    let r = smoke(&app.base, &["--token", &user.token]).await;
    assert!(r.ok, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_app_with_a_missing_migration_or_table_fails_database_and_tables() {
    let app = TestApp::spawn_with_redis().await;
    // The database owner (the server's own role, gad_app, may not drop tables or touch the
    // migrations table; issue 18).
    let owner = gad_api::db::owner_pool(&app.db_url, 1).unwrap();
    // A table dropped behind the migrator's back: only the information_schema check sees it.
    sqlx::query("DROP TABLE idempotency_keys")
        .execute(&owner)
        .await
        .unwrap();
    let r = smoke(&app.base, &["--database-url", &app.db_url]).await;
    assert_eq!(r.failed(), vec!["tables"], "{}", r.stdout);
    assert!(
        r.reason("tables").contains("idempotency_keys"),
        "{}",
        r.stdout
    );
    // A migration not applied: /ready answers 503.
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&owner)
    .await
    .unwrap();
    let r = smoke(&app.base, &[]).await;
    assert_eq!(r.failed(), vec!["database", "tables"], "{}", r.stdout);
    assert!(r.reason("database").contains("503"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_fails_every_check() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let r = smoke(&format!("http://{addr}"), &["--timeout-ms", "1000"]).await;
    assert_eq!(r.failed().len(), 10, "{}", r.stdout);
}

// ---------------------------------------------------------------- a fake, breakable deployment

#[derive(Clone, Copy, Debug, PartialEq)]
enum Break {
    Nothing,
    HealthBody,
    HealthStatus,
    HealthSlow,
    MetricsMissingRedisUp,
    MetricsNoTypeLines,
    Metrics503,
    /// A proxy in front: /metrics answers 404.
    MetricsHidden,
    SwaggerNotHtml,
    SwaggerNoBundle,
    OpenapiNoEmergency,
    OpenapiNoAdmin,
    OpenapiNotJson,
    ReadyDown,
    ReadyDatabaseDown,
    RedisDegraded,
    RedisNotConfigured,
    WsNoAck,
    WsClose,
    WsSilent,
    WsNoUpgrade,
    AuthOpen,
    AuthWrongDetail,
    MigrationsPending,
    LatencySlow,
    LatencyErrors,
}

#[derive(Clone)]
struct Fake {
    b: Break,
    hits: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

fn json_resp(code: StatusCode, v: serde_json::Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn f_health(State(f): State<Fake>) -> Response {
    let n = f.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match f.b {
        Break::HealthBody => json_resp(StatusCode::OK, json!({"status": "healthy"})),
        Break::HealthStatus => json_resp(StatusCode::SERVICE_UNAVAILABLE, json!({"status": "ok"})),
        Break::HealthSlow if n == 0 => {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            json_resp(StatusCode::OK, json!({"status": "ok"}))
        }
        Break::LatencySlow if n > 0 => {
            tokio::time::sleep(Duration::from_millis(230)).await;
            json_resp(StatusCode::OK, json!({"status": "ok"}))
        }
        Break::LatencyErrors if n > 5 => json_resp(StatusCode::INTERNAL_SERVER_ERROR, json!({})),
        _ => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ok"}"#,
        )
            .into_response(),
    }
}

async fn f_metrics(State(f): State<Fake>) -> Response {
    let mut series = vec![
        ("http_requests_total", "counter"),
        ("redis_up", "gauge"),
        ("ws_connections_active", "gauge"),
        ("emergency_dispatch_total", "counter"),
    ];
    match f.b {
        Break::Metrics503 => return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        Break::MetricsHidden => return (StatusCode::NOT_FOUND, "").into_response(),
        Break::MetricsMissingRedisUp => series.retain(|(n, _)| *n != "redis_up"),
        _ => {}
    }
    let mut o = String::new();
    for (n, k) in series {
        if f.b != Break::MetricsNoTypeLines {
            o.push_str(&format!("# TYPE {n} {k}\n"));
        }
        o.push_str(&format!("{n} 0\n"));
    }
    o.into_response()
}

async fn f_docs(State(f): State<Fake>) -> Response {
    if f.b == Break::SwaggerNotHtml {
        return json_resp(StatusCode::OK, json!({"swagger": "ui"}));
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!DOCTYPE html><html><head><title>Swagger UI</title></head><body></body></html>",
    )
        .into_response()
}

async fn f_asset(State(f): State<Fake>, uri: axum::http::Uri) -> Response {
    if f.b == Break::SwaggerNoBundle && uri.path().ends_with(".js") {
        return (StatusCode::NOT_FOUND, "").into_response();
    }
    "/* asset */ ".repeat(200).into_response()
}

async fn f_openapi(State(f): State<Fake>) -> Response {
    let mut paths = serde_json::Map::new();
    paths.insert("/api/v1/health".into(), json!({}));
    if f.b != Break::OpenapiNoEmergency {
        paths.insert("/api/v1/tasks/emergency".into(), json!({}));
    }
    if f.b != Break::OpenapiNoAdmin {
        paths.insert("/api/v1/admin/agent/command".into(), json!({}));
    }
    if f.b == Break::OpenapiNotJson {
        return "<html>openapi</html>".into_response();
    }
    json_resp(StatusCode::OK, json!({"openapi": "3.1.0", "paths": paths}))
}

async fn f_ready(State(f): State<Fake>) -> Response {
    match f.b {
        Break::ReadyDown => json_resp(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"detail": {"status": "not_ready", "error": "database unreachable"}}),
        ),
        Break::ReadyDatabaseDown => json_resp(
            StatusCode::OK,
            json!({"status": "ready", "database": "down", "migrations": "ok", "redis": "ok"}),
        ),
        Break::MigrationsPending => json_resp(
            StatusCode::OK,
            json!({"status": "ready", "database": "ok", "migrations": "pending", "redis": "ok"}),
        ),
        _ => json_resp(
            StatusCode::OK,
            json!({"status": "ready", "database": "ok", "migrations": "ok", "redis": "ok"}),
        ),
    }
}

async fn f_detailed(State(f): State<Fake>) -> Response {
    let redis = match f.b {
        Break::RedisDegraded => "degraded",
        Break::RedisNotConfigured => "not_configured",
        _ => "ok",
    };
    json_resp(
        StatusCode::OK,
        json!({"status": "ok", "checks": {"database": {"status": "ok"}, "redis": {"status": redis, "response_time_ms": 0.2}}}),
    )
}

async fn f_me(State(f): State<Fake>) -> Response {
    match f.b {
        Break::AuthOpen => json_resp(StatusCode::OK, json!({"id": 1, "email": "x@y.z"})),
        Break::AuthWrongDetail => json_resp(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Could not validate credentials"}),
        ),
        _ => json_resp(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Not authenticated"}),
        ),
    }
}

async fn f_ws(State(f): State<Fake>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if f.b == Break::WsNoUpgrade {
        return json_resp(StatusCode::NOT_FOUND, json!({"detail": "Not Found"}));
    }
    let authed =
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer fake-token");
    ws.on_upgrade(move |mut s: WebSocket| async move {
        if !authed || f.b == Break::WsClose {
            let _ = s
                .send(Message::Close(Some(CloseFrame {
                    code: 1008,
                    reason: "Authentication required".into(),
                })))
                .await;
            return;
        }
        match f.b {
            Break::WsSilent => tokio::time::sleep(Duration::from_secs(8)).await,
            Break::WsNoAck => {
                let _ = s
                    .send(Message::Text(
                        json!({"event_type": "system_status", "data": {}})
                            .to_string()
                            .into(),
                    ))
                    .await;
            }
            _ => {
                let _ = s
                    .send(Message::Text(
                        json!({"event_type": "connection_ack", "data": {"user_id": 1, "nivel": 3}})
                            .to_string()
                            .into(),
                    ))
                    .await;
            }
        }
        // Hold the socket until the client closes.
        while let Some(Ok(m)) = s.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
}

async fn fake(b: Break) -> SocketAddr {
    let state = Fake {
        b,
        hits: Default::default(),
    };
    let app = axum::Router::new()
        .route("/api/v1/health", get(f_health))
        .route("/metrics", get(f_metrics))
        .route("/docs/", get(f_docs))
        .route("/docs/swagger-ui.css", get(f_asset))
        .route("/docs/swagger-ui-bundle.js", get(f_asset))
        .route("/api/v1/openapi.json", get(f_openapi))
        .route("/api/v1/health/ready", get(f_ready))
        .route("/api/v1/health/detailed", get(f_detailed))
        .route("/api/v1/users/me", get(f_me))
        .route("/ws/connect", get(f_ws))
        .with_state(state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

async fn fake_run(b: Break) -> Run {
    let addr = fake(b).await;
    smoke(&format!("http://{addr}"), &["--token", "fake-token"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unbroken_fake_passes_so_each_failure_below_is_caused_by_its_break() {
    let r = fake_run(Break::Nothing).await;
    assert!(r.ok, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_fails_alone_on_the_condition_it_guards() {
    use Break::*;
    let cases: &[(Break, &[&str], &str)] = &[
        (HealthBody, &["health"], "healthy"),
        (HealthStatus, &["health", "latency"], "503"),
        (HealthSlow, &["health"], "budget 1000 ms"),
        (MetricsMissingRedisUp, &["metrics"], "redis_up"),
        (MetricsNoTypeLines, &["metrics"], "http_requests_total"),
        (Metrics503, &["metrics"], "503"),
        (SwaggerNotHtml, &["swagger"], "text/html"),
        (SwaggerNoBundle, &["swagger"], "swagger-ui-bundle.js"),
        (OpenapiNoEmergency, &["openapi"], "/api/v1/tasks/emergency"),
        (OpenapiNoAdmin, &["openapi"], "admin"),
        (OpenapiNotJson, &["openapi"], "not JSON"),
        (ReadyDown, &["database", "tables"], "503"),
        (ReadyDatabaseDown, &["database"], "database"),
        (MigrationsPending, &["database", "tables"], "migrations"),
        (RedisDegraded, &["redis"], "degraded"),
        (RedisNotConfigured, &["redis"], "not_configured"),
        (WsNoAck, &["websocket"], "system_status"),
        (WsClose, &["websocket"], "1008"),
        (WsSilent, &["websocket"], "5 s"),
        (WsNoUpgrade, &["websocket"], "handshake"),
        (AuthOpen, &["auth"], "200"),
        (AuthWrongDetail, &["auth"], "Not authenticated"),
        (LatencySlow, &["latency"], "p95"),
        (LatencyErrors, &["latency"], "500"),
    ];
    for (b, want, reason) in cases {
        let r = fake_run(*b).await;
        assert!(!r.ok, "{b:?} must fail: {}", r.stdout);
        assert_eq!(&r.failed(), want, "{b:?}: {}", r.stdout);
        assert!(
            r.reason(want[0]).contains(reason),
            "{b:?}: reason of {} should mention '{reason}': {}",
            want[0],
            r.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_metrics_must_be_hidden_there_and_served_by_the_metrics_url() {
    let proxy = fake(Break::MetricsHidden).await;
    let instance = fake(Break::Nothing).await;
    let broken_instance = fake(Break::MetricsMissingRedisUp).await;
    let base = format!("http://{proxy}");
    let url = format!("http://{instance}/metrics");

    // Without --metrics-url a hidden /metrics is a failure…
    let r = smoke(&base, &["--token", "fake-token"]).await;
    assert_eq!(r.failed(), vec!["metrics"], "{}", r.stdout);
    // …with it, the series come from the instance and the proxy's 404 is required.
    let r = smoke(&base, &["--token", "fake-token", "--metrics-url", &url]).await;
    assert!(r.ok, "{}", r.stdout);
    assert!(r.reason("metrics").contains("hidden"), "{}", r.stdout);
    // A proxy that leaks /metrics fails the check even though the series are fine.
    let leaky = format!("http://{instance}");
    let r = smoke(&leaky, &["--token", "fake-token", "--metrics-url", &url]).await;
    assert_eq!(r.failed(), vec!["metrics"], "{}", r.stdout);
    assert!(r.reason("metrics").contains("must hide"), "{}", r.stdout);
    // The instance's series are still checked.
    let bad = format!("http://{broken_instance}/metrics");
    let r = smoke(&base, &["--token", "fake-token", "--metrics-url", &bad]).await;
    assert_eq!(r.failed(), vec!["metrics"], "{}", r.stdout);
    assert!(r.reason("metrics").contains("redis_up"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_check_sends_the_token_and_fails_without_it() {
    let addr = fake(Break::Nothing).await;
    let r = smoke(&format!("http://{addr}"), &[]).await;
    assert_eq!(r.failed(), vec!["websocket"], "{}", r.stdout);
    assert!(r.reason("websocket").contains("Authentication required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_check_reads_information_schema_when_given_a_database() {
    let addr = fake(Break::Nothing).await;
    let url = gad_testkit::db::fresh_database().await;
    let base = format!("http://{addr}");
    let r = smoke(&base, &["--token", "fake-token", "--database-url", &url]).await;
    assert!(r.ok, "{}", r.stdout);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("DROP TABLE historial_estados")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let r = smoke(&base, &["--token", "fake-token", "--database-url", &url]).await;
    assert_eq!(r.failed(), vec!["tables"], "{}", r.stdout);
    assert!(
        r.reason("tables").contains("historial_estados"),
        "{}",
        r.stdout
    );
    let r = smoke(
        &base,
        &[
            "--token",
            "fake-token",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/nope",
            "--timeout-ms",
            "1500",
        ],
    )
    .await;
    assert_eq!(r.failed(), vec!["tables"], "{}", r.stdout);
}
