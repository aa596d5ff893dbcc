//! `gad smoke`: the ten post-deploy checks. Each prints `PASS name — detail` or
//! `FAIL name — reason`; any failure makes the command exit non-zero. Every check inspects the
//! real answer of the deployment (status, body, timing), so each one fails when the condition it
//! guards is broken — `crates/gad-cli/tests/smoke.rs` proves it against broken fake servers.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

/// Tables the migrations must have created (checked with `--database-url`).
pub const EXPECTED_TABLES: &[&str] = &[
    "usuarios",
    "efectivos",
    "tareas",
    "tarea_efectivos",
    "historial_estados",
    "audit_logs",
    "revoked_tokens",
    "idempotency_keys",
];

/// Series `/metrics` must declare.
pub const REQUIRED_SERIES: &[&str] = &[
    "http_requests_total",
    "redis_up",
    "ws_connections_active",
    "emergency_dispatch_total",
];

#[derive(clap::Args, Debug, Clone)]
pub struct SmokeArgs {
    /// Base URL of the deployment, e.g. http://127.0.0.1:8001 (ws:// is derived from it).
    #[arg(long)]
    pub base_url: String,
    /// Bearer token used for the WebSocket handshake (required outside ENVIRONMENT=development).
    #[arg(long)]
    pub token: Option<String>,
    /// Per-request timeout in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
    /// Also check the expected tables directly in this database (information_schema).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Behind a proxy that hides /metrics: scrape the series from this URL (an instance's own
    /// /metrics) and require <base-url>/metrics to answer 403 or 404.
    #[arg(long)]
    pub metrics_url: Option<String>,
}

type Outcome = Result<String, String>;

struct Ctx {
    base: String,
    http: reqwest::Client,
    args: SmokeArgs,
}

struct Got {
    status: u16,
    content_type: String,
    text: String,
    elapsed: Duration,
}

impl Got {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.text)
            .map_err(|_| format!("body is not JSON: {}", clip(&self.text)))
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s.to_string()
    }
}

impl Ctx {
    async fn get(&self, path: &str, token: Option<&str>) -> Result<Got, String> {
        self.fetch(&format!("{}{}", self.base, path), path, token)
            .await
    }

    /// GET of an absolute URL (`--metrics-url`).
    async fn get_url(&self, url: &str) -> Result<Got, String> {
        self.fetch(url, url, None).await
    }

    async fn fetch(&self, url: &str, path: &str, token: Option<&str>) -> Result<Got, String> {
        let mut rb = self.http.get(url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let t0 = Instant::now();
        let r = rb
            .send()
            .await
            .map_err(|e| format!("GET {path}: {}", error_chain(&e)))?;
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = r
            .text()
            .await
            .map_err(|e| format!("GET {path}: reading body: {e}"))?;
        Ok(Got {
            status,
            content_type,
            text,
            elapsed: t0.elapsed(),
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn expect_status(g: &Got, path: &str, want: u16) -> Result<(), String> {
    if g.status == want {
        Ok(())
    } else {
        Err(format!(
            "GET {path} answered {} (want {want}): {}",
            g.status,
            clip(&g.text)
        ))
    }
}

async fn check_health(c: &Ctx) -> Outcome {
    let g = c.get("/api/v1/health", None).await?;
    expect_status(&g, "/api/v1/health", 200)?;
    let v = g.json()?;
    if v != serde_json::json!({"status": "ok"}) {
        return Err(format!(
            "body is {} (want exactly {{\"status\":\"ok\"}})",
            clip(&g.text)
        ));
    }
    if g.elapsed >= Duration::from_secs(1) {
        return Err(format!(
            "answered in {} ms (budget 1000 ms)",
            g.elapsed.as_millis()
        ));
    }
    Ok(format!(
        "{{\"status\":\"ok\"}} in {} ms",
        g.elapsed.as_millis()
    ))
}

async fn check_metrics(c: &Ctx) -> Outcome {
    let mut hidden = String::new();
    let g = match &c.args.metrics_url {
        None => {
            let g = c.get("/metrics", None).await?;
            expect_status(&g, "/metrics", 200)?;
            g
        }
        Some(url) => {
            let public = c.get("/metrics", None).await?;
            if public.status != 403 && public.status != 404 {
                return Err(format!(
                    "/metrics through {} answered {} (a proxy must hide it: 403 or 404)",
                    c.base, public.status
                ));
            }
            hidden = format!(", hidden at {}/metrics ({})", c.base, public.status);
            let g = c.get_url(url).await?;
            expect_status(&g, url, 200)?;
            g
        }
    };
    let missing: Vec<&str> = REQUIRED_SERIES
        .iter()
        .copied()
        .filter(|s| {
            let want = format!("# TYPE {s} ");
            !g.text.lines().any(|l| l.starts_with(&want))
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing series: {}", missing.join(", ")));
    }
    let declared = g.text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    Ok(format!(
        "{declared} series declared, the required {} present{hidden}",
        REQUIRED_SERIES.len()
    ))
}

async fn check_swagger(c: &Ctx) -> Outcome {
    let g = c.get("/docs/", None).await?;
    expect_status(&g, "/docs/", 200)?;
    if !g.content_type.starts_with("text/html") {
        return Err(format!(
            "/docs/ content-type is '{}' (want text/html)",
            g.content_type
        ));
    }
    if !g.text.to_lowercase().contains("swagger") {
        return Err("/docs/ HTML does not mention Swagger UI".into());
    }
    let mut sizes = Vec::new();
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        let a = c.get(asset, None).await?;
        expect_status(&a, asset, 200)?;
        if a.text.len() < 1024 {
            return Err(format!("{asset} is only {} bytes", a.text.len()));
        }
        sizes.push(format!("{asset} {} KiB", a.text.len() / 1024));
    }
    Ok(format!("HTML ok, {}", sizes.join(", ")))
}

async fn check_openapi(c: &Ctx) -> Outcome {
    let g = c.get("/api/v1/openapi.json", None).await?;
    expect_status(&g, "/api/v1/openapi.json", 200)?;
    let v = g.json()?;
    let version = v["openapi"].as_str().unwrap_or("");
    if !version.starts_with('3') {
        return Err(format!("'openapi' field is '{version}' (want 3.x)"));
    }
    let Some(paths) = v["paths"].as_object() else {
        return Err("document has no 'paths' object".into());
    };
    if !paths.contains_key("/api/v1/tasks/emergency") {
        return Err("paths do not list /api/v1/tasks/emergency".into());
    }
    let admin = paths
        .keys()
        .filter(|p| p.starts_with("/api/v1/admin"))
        .count();
    if admin == 0 {
        return Err("paths list no /api/v1/admin… route".into());
    }
    Ok(format!(
        "OpenAPI {version}, {} paths incl. /api/v1/tasks/emergency and {admin} admin",
        paths.len()
    ))
}

async fn ready(c: &Ctx) -> Result<Value, String> {
    let g = c.get("/api/v1/health/ready", None).await?;
    expect_status(&g, "/api/v1/health/ready", 200)?;
    g.json()
}

async fn check_database(c: &Ctx) -> Outcome {
    let v = ready(c).await?;
    for k in ["database", "migrations"] {
        if v[k] != "ok" {
            return Err(format!("ready reports {k}={} (want \"ok\")", v[k]));
        }
    }
    Ok(format!(
        "ready: database ok, migrations ok, redis {}",
        v["redis"]
    ))
}

async fn check_redis(c: &Ctx) -> Outcome {
    let g = c.get("/api/v1/health/detailed", None).await?;
    expect_status(&g, "/api/v1/health/detailed", 200)?;
    let v = g.json()?;
    let r = &v["checks"]["redis"];
    if r["status"] != "ok" {
        return Err(format!(
            "checks.redis.status is {} (want \"ok\")",
            r["status"]
        ));
    }
    Ok(format!("redis ok in {} ms", r["response_time_ms"]))
}

fn ws_url(base: &str) -> Result<String, String> {
    if let Some(rest) = base.strip_prefix("https://") {
        Ok(format!("wss://{rest}/ws/connect"))
    } else if let Some(rest) = base.strip_prefix("http://") {
        Ok(format!("ws://{rest}/ws/connect"))
    } else {
        Err(format!(
            "base URL '{base}' must start with http:// or https://"
        ))
    }
}

async fn check_websocket(c: &Ctx) -> Outcome {
    let url = ws_url(&c.base)?;
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad WebSocket URL {url}: {e}"))?;
    if let Some(t) = &c.args.token {
        let v = HeaderValue::from_str(&format!("Bearer {t}"))
            .map_err(|_| "--token contains characters not allowed in a header".to_string())?;
        req.headers_mut().insert("authorization", v);
    }
    let budget = Duration::from_secs(5);
    let t0 = Instant::now();
    let fut = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| format!("handshake with {url} failed: {}", error_chain(&e)))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str())
                        .map_err(|_| format!("first frame is not JSON: {}", clip(t.as_str())))?;
                    let _ = ws.close(None).await;
                    return Ok::<Value, String>(v);
                }
                Some(Ok(Message::Close(f))) => {
                    return Err(match f {
                        Some(f) => format!("server closed {} '{}'", u16::from(f.code), f.reason),
                        None => "server closed without a frame".into(),
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(tungstenite::Error::ConnectionClosed)) | None => {
                    return Err("connection ended before any frame".into());
                }
                Some(Err(e)) => return Err(format!("read error: {e}")),
            }
        }
    };
    let first = tokio::time::timeout(budget, fut)
        .await
        .map_err(|_| "no frame within 5 s".to_string())??;
    if first["event_type"] != "connection_ack" {
        return Err(format!(
            "first frame event_type is {} (want \"connection_ack\")",
            first["event_type"]
        ));
    }
    Ok(format!(
        "connection_ack in {} ms (user {}, nivel {})",
        t0.elapsed().as_millis(),
        first["data"]["user_id"],
        first["data"]["nivel"]
    ))
}

async fn check_auth(c: &Ctx) -> Outcome {
    let g = c.get("/api/v1/users/me", None).await?;
    if g.status != 401 {
        return Err(format!(
            "GET /api/v1/users/me without a token answered {} (want 401)",
            g.status
        ));
    }
    let v = g.json()?;
    if v["detail"] != "Not authenticated" {
        return Err(format!(
            "401 body is {} (want detail \"Not authenticated\")",
            clip(&g.text)
        ));
    }
    Ok("GET /api/v1/users/me without token → 401 Not authenticated".into())
}

async fn check_tables(c: &Ctx) -> Outcome {
    let v = ready(c).await?;
    if v["migrations"] != "ok" {
        return Err(format!(
            "ready reports migrations={} (want \"ok\")",
            v["migrations"]
        ));
    }
    let Some(url) = &c.args.database_url else {
        return Ok("migrations ok per /ready (pass --database-url to list the tables)".into());
    };
    use sqlx::Connection;
    let mut conn = tokio::time::timeout(
        Duration::from_millis(c.args.timeout_ms),
        sqlx::PgConnection::connect(url),
    )
    .await
    .map_err(|_| "database connection timed out".to_string())?
    .map_err(|e| format!("cannot connect to --database-url: {e}"))?;
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name = ANY($1)",
    )
    .bind(EXPECTED_TABLES)
    .fetch_all(&mut conn)
    .await
    .map_err(|e| format!("information_schema query failed: {e}"))?;
    let _ = conn.close().await;
    let missing: Vec<&str> = EXPECTED_TABLES
        .iter()
        .copied()
        .filter(|t| !present.iter().any(|p| p == t))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing tables: {}", missing.join(", ")));
    }
    Ok(format!(
        "migrations ok; all {} expected tables present",
        EXPECTED_TABLES.len()
    ))
}

async fn check_latency(c: &Ctx) -> Outcome {
    let mut ms = Vec::with_capacity(20);
    for _ in 0..20 {
        let g = c.get("/api/v1/health", None).await?;
        expect_status(&g, "/api/v1/health", 200)?;
        ms.push(g.elapsed.as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    // Nearest-rank p95 of 20 samples = the 19th.
    let p95 = ms[18];
    let p50 = ms[9];
    if p95 >= 200.0 {
        return Err(format!("p95 {p95:.1} ms over 20 GETs (budget 200 ms)"));
    }
    Ok(format!(
        "p50 {p50:.1} ms, p95 {p95:.1} ms over 20 GETs (budget 200 ms)"
    ))
}

/// Runs the ten checks, prints one line each and returns how many failed.
pub async fn run(args: SmokeArgs) -> anyhow::Result<usize> {
    let base = args.base_url.trim_end_matches('/').to_string();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        anyhow::bail!("--base-url must start with http:// or https://");
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let c = Ctx { base, http, args };
    let results: Vec<(&str, Outcome)> = vec![
        ("health", check_health(&c).await),
        ("metrics", check_metrics(&c).await),
        ("swagger", check_swagger(&c).await),
        ("openapi", check_openapi(&c).await),
        ("database", check_database(&c).await),
        ("redis", check_redis(&c).await),
        ("websocket", check_websocket(&c).await),
        ("auth", check_auth(&c).await),
        ("tables", check_tables(&c).await),
        ("latency", check_latency(&c).await),
    ];
    let mut failed = 0;
    for (name, r) in &results {
        match r {
            Ok(d) => println!("PASS {name} — {d}"),
            Err(e) => {
                failed += 1;
                println!("FAIL {name} — {e}");
            }
        }
    }
    println!(
        "smoke: {}/{} passed against {}",
        results.len() - failed,
        results.len(),
        c.base
    );
    Ok(failed)
}
