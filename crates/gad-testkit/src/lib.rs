//! Test kit: spawns the real GAD app on port 0 against its own fresh PostgreSQL+PostGIS
//! database (copied from a migrated template, so each test starts in ~100 ms), with or without
//! Redis, plus typed helpers for users, tokens and requests. Tests run in parallel safely:
//! every app has its own database and its own Redis key namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod audit;
pub mod chaos;
pub mod cli;
pub mod db;
pub mod fake_geocoder;
pub mod fake_telegram;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use gad_api::{AppState, Config};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use sqlx::PgPool;

pub const TEST_PASSWORD: &str = "test-password-123";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";

/// Options for spawning an app.
#[derive(Clone, Default)]
pub struct Options {
    /// Use Redis (at `redis_url` or the local default).
    pub redis: bool,
    pub redis_url: Option<String>,
    /// Join an existing database (a second instance of the same deployment).
    pub database_url: Option<String>,
    /// Share a Redis namespace with another app (same deployment).
    pub redis_namespace: Option<String>,
    /// Extra environment variables, applied on top of the test defaults.
    pub env: HashMap<String, String>,
}

impl Options {
    pub fn with_redis() -> Options {
        Options {
            redis: true,
            ..Default::default()
        }
    }
    pub fn env(mut self, k: &str, v: &str) -> Options {
        self.env.insert(k.to_string(), v.to_string());
        self
    }
    /// A second instance of `other`'s deployment: same database, same Redis namespace.
    pub fn sibling_of(other: &TestApp) -> Options {
        Options {
            redis: other.state.redis.configured(),
            redis_url: other.state.redis.url().map(str::to_string),
            database_url: Some(other.db_url.clone()),
            redis_namespace: Some(other.state.config.redis_namespace.clone()),
            env: other.env.clone(),
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub db_url: String,
    pub pool: PgPool,
    pub state: AppState,
    pub client: reqwest::Client,
    env: HashMap<String, String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A user created for a test, with a valid token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub nivel: i16,
    pub token: String,
    pub efectivo_id: Option<i64>,
}

/// A response: status, JSON body (Null when not JSON), headers.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{prefix}{}{n}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

impl TestApp {
    /// What `gad bot` builds for itself: a second process's use-case context on this app's
    /// database, Redis and namespace (the API's state without its listener, so the events its use
    /// cases publish reach the other instances through the same fan-out).
    pub fn service_ctx(&self, pool_size: u32) -> gad_service::Ctx {
        let pool = gad_api::db::lazy_pool(&self.db_url, pool_size).expect("lazy pool");
        gad_api::app::start(self.state.config.clone(), pool)
            .ctx
            .clone()
    }

    /// App without Redis (in-process fallbacks).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    /// App with Redis.
    pub async fn spawn_with_redis() -> TestApp {
        Self::spawn_with(Options::with_redis()).await
    }

    pub async fn spawn_with(opts: Options) -> TestApp {
        let db_url = match &opts.database_url {
            Some(u) => u.clone(),
            None => db::fresh_database().await,
        };
        let redis_url = opts.redis.then(|| {
            opts.redis_url
                .clone()
                .unwrap_or_else(|| REDIS_URL.to_string())
        });
        let mut config = Config::for_tests(&db_url, redis_url.as_deref());
        if !opts.env.is_empty() {
            let mut m: HashMap<String, String> = HashMap::new();
            m.insert("DATABASE_URL".into(), db_url.clone());
            m.insert("JWT_SECRET_KEY".into(), config.jwt_secret.clone());
            m.insert("PORT".into(), "0".into());
            m.insert("HOST".into(), "127.0.0.1".into());
            m.insert("DB_POOL_SIZE".into(), "5".into());
            m.insert("RATE_LIMITING_ENABLED".into(), "false".into());
            if let Some(r) = &redis_url {
                m.insert("REDIS_URL".into(), r.clone());
            }
            m.extend(opts.env.clone());
            config = Config::from_map(&m).unwrap_or_else(|e| panic!("test config: {e}"));
        }
        // Each deployment keeps its evidence files in its own directory (a sibling instance
        // given the same ADJUNTOS_DIR shares them).
        if !opts.env.contains_key("ADJUNTOS_DIR") {
            config.adjuntos.dir = std::env::temp_dir().join(unique("gad-adjuntos-"));
        }
        config.redis_namespace = opts
            .redis_namespace
            .clone()
            .unwrap_or_else(|| format!("gad:{}:", unique("t")));
        let pool = gad_api::db::lazy_pool(&db_url, config.db_pool_size).expect("pool");
        let state = gad_api::app::start(config, pool.clone());
        // The template database may be days old: make sure today's position partitions exist
        // before a test inserts history rows by hand (the job does the same in the background).
        if let Err(e) = gad_service::partitions::maintain(&state.ctx).await {
            eprintln!("testkit: position partition maintenance failed: {e}");
        }
        if redis_url.is_some() {
            state.redis.wait_up(std::time::Duration::from_secs(5)).await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = gad_api::app::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        TestApp {
            addr,
            base: format!("http://{addr}"),
            db_url,
            pool,
            state,
            client: reqwest::Client::builder().build().expect("client"),
            env: opts.env,
            shutdown: Some(tx),
        }
    }

    /// Waits until this instance's WebSocket fan-out runs through Redis (5 s at most).
    pub async fn wait_redis_fanout(&self) {
        let start = std::time::Instant::now();
        while self.state.hub.fanout_mode() != "redis" {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "fan-out through Redis not up within 5 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops serving (graceful).
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut rb = self.client.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        Self::read(rb.send().await.expect("request failed")).await
    }

    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::POST, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::PUT, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Sends a JSON body written by hand, byte for byte (no client-side serialisation).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        json_text: &str,
    ) -> Resp {
        let mut rb = self
            .client
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(json_text.to_string());
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        Self::read(rb.send().await.expect("request failed")).await
    }

    /// Creates a verified user of `nivel` directly in the database and mints a token for it.
    pub async fn create_user(&self, nivel: i16) -> TestUser {
        let email = format!("{}@test.gad", unique("u"));
        let dni = unique("D");
        let nivel_db = format!("LEVEL_{nivel}");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
             VALUES ($1, $2, 'Test', 'User', $3::nivel_usuario, $4, true) RETURNING id",
        )
        .bind(&email)
        .bind(&dni[..dni.len().min(20)])
        .bind(&nivel_db)
        .bind(password_hash())
        .fetch_one(&self.pool)
        .await
        .expect("insert user");
        let token = self.token_for(id, nivel);
        TestUser {
            id,
            email,
            password: TEST_PASSWORD.into(),
            nivel,
            token,
            efectivo_id: None,
        }
    }

    /// A level-1 user with an efectivo record, `disponible`, at (lat, lng) when given.
    pub async fn create_efectivo(&self, location: Option<(f64, f64)>) -> TestUser {
        let mut u = self.create_user(1).await;
        let codigo = unique("EF");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO efectivos (usuario_id, codigo_interno, unidad, especialidad, estado_disponibilidad, geom, ubicacion_updated_at)
             VALUES ($1, $2, 'Unidad Test', 'patrullaje', 'DISPONIBLE',
                     CASE WHEN $3::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography END,
                     CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() END)
             RETURNING id",
        )
        .bind(u.id)
        .bind(&codigo)
        .bind(location.map(|l| l.0))
        .bind(location.map(|l| l.1))
        .fetch_one(&self.pool)
        .await
        .expect("insert efectivo");
        u.efectivo_id = Some(id);
        u
    }

    pub fn token_for(&self, user_id: i64, nivel: i16) -> String {
        let nivel = gad_core::Nivel::from_i64(nivel as i64).expect("nivel");
        gad_api::auth::issue_token(&self.state, user_id, nivel)
            .expect("token")
            .0
    }

    /// Logs in over HTTP (form body) and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        let r = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .form(&[("username", email), ("password", password)])
            .send()
            .await
            .expect("login request");
        Self::read(r).await
    }

    /// Creates a task through the API as `creator` (level 2+), delegated to `delegado`.
    pub async fn create_task(&self, creator: &TestUser, delegado: i64, extra: Value) -> Resp {
        let mut body = json!({
            "codigo": unique("T"),
            "titulo": "Patrulla de prueba",
            "tipo": "patrullaje",
            "inicio_programado": "2026-12-01T10:00:00Z",
            "delegado_usuario_id": delegado,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.post("/api/v1/tasks", Some(&creator.token), body).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One argon2id hash of TEST_PASSWORD per test process.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| gad_api::auth::password::hash_blocking(TEST_PASSWORD).expect("hash"))
}

/// Asserts the contract's security headers and request id on a response.
pub fn assert_contract_headers(r: &Resp, api: bool) {
    assert!(
        r.header("x-request-id").is_some_and(|v| !v.is_empty()),
        "missing X-Request-ID"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-xss-protection"), Some("1; mode=block"));
    assert_eq!(
        r.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(
        r.header("permissions-policy"),
        Some("geolocation=(), microphone=(), camera=()")
    );
    if api {
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none';")
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}
