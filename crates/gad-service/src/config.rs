//! Configuration from the environment (contract §16), validated once at start-up.
//! `Config::from_env` never panics: every problem is a one-line message naming the variable.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
    pub fn is_development(self) -> bool {
        self == Environment::Development
    }
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub enabled: bool,
    pub general: u32,
    pub admin: u32,
    pub auth: u32,
    pub ws_handshake: u32,
    pub citizen: u32,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub host: String,
    pub port: u16,
    pub database_url: String,
    pub db_pool_size: u32,
    pub redis_url: Option<String>,
    pub jwt_secret: String,
    pub access_token_expire_minutes: i64,
    pub cors_allowed_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub rate_limits: RateLimits,
    pub log_level: String,
    pub hsts_enabled: bool,
    pub location_retention_days: i64,
    /// Batches of location fixes the group-commit writer commits at once (`INGEST_CONCURRENCY`).
    pub ingest_concurrency: usize,
    pub project_name: String,
    pub project_version: String,
    /// Prefix of every Redis key and channel. Always "gad:" in deployments (contract §11);
    /// tests give each app its own "gad:t<id>:" so parallel tests share one Redis safely.
    pub redis_namespace: String,
    /// Leaflet tile URL template of the command centre's map (`MAP_TILE_URL`).
    pub map_tile_url: String,
    /// An officer whose last position is older than this is not dispatched.
    pub dispatch_max_position_age_minutes: i64,
    /// A dispatched officer has this long to accept or decline before the next is called.
    pub dispatch_ack_timeout_seconds: i64,
    /// Officers tried for one emergency (first call + re-dispatches) before it is left
    /// "sin asignar" with an alert to supervisors.
    pub dispatch_max_attempts: i32,
    /// Time allowed for a non-WebSocket request, headers to last byte of the response.
    pub request_timeout_seconds: u64,
    /// Time allowed for a client to send its request headers; a slower client is disconnected.
    pub header_read_timeout_seconds: u64,
    /// Most TCP connections served at once (WebSockets included); more wait in the backlog.
    pub max_connections: usize,
    /// Bearer secret Alertmanager presents on `POST /api/v1/alerts/alertmanager`
    /// (`ALERTMANAGER_WEBHOOK_TOKEN`). Unset: the route refuses every request with 401.
    pub alertmanager_webhook_token: Option<String>,
    /// Retention periods and purge batch.
    pub retention: Retention,
    /// Role the server's pool switches to with `SET ROLE` after connecting (`DB_APP_ROLE`,
    /// default `gad_app`; empty: no switch). Only when the login user may use it and it exists.
    pub db_app_role: Option<String>,
    /// Data-subject exports running at once per instance (`GDPR_EXPORT_CONCURRENCY`, 2); more
    /// are answered 429.
    pub gdpr_export_concurrency: usize,
}

/// How long each kind of row is kept before the maintenance job purges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `AUDIT_RETENTION_DAYS` (365): audit rows older than this are purged (oldest first, the
    /// chain's prefix), or earlier when their own `retention_until` has passed.
    pub audit_days: i32,
    /// `REVOKED_TOKEN_RETENTION_HOURS` (0): a revocation is kept this long after the token's
    /// own expiry (an expired token is refused on its own).
    pub revoked_token_hours: i32,
    /// `TICKET_RETENTION_HOURS` (0): WebSocket tickets kept this long after they expire.
    pub ticket_hours: i32,
    /// `TELEGRAM_LINK_CODE_RETENTION_HOURS` (24): link codes kept this long after they expire
    /// or are used.
    pub telegram_link_code_hours: i32,
    /// `IDEMPOTENCY_KEY_RETENTION_HOURS` (24, at least 24: the replay window).
    pub idempotency_key_hours: i32,
    /// `LOGIN_FAILURE_RETENTION_DAYS` (30): failed-login counters of unknown e-mails.
    pub login_failure_days: i32,
    /// `RETENTION_BATCH_SIZE` (10 000): rows per DELETE.
    pub batch_size: i64,
}

/// Names of every variable `gad` reads; deploy files are checked against this list.
pub const KNOWN_ENV_VARS: &[&str] = &[
    "ENVIRONMENT",
    "HOST",
    "PORT",
    "DATABASE_URL",
    "POSTGRES_SERVER",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "DB_POOL_SIZE",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PASSWORD",
    "JWT_SECRET_KEY",
    "SECRET_KEY",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "CORS_ALLOWED_ORIGINS",
    "TRUSTED_PROXY_HOSTS",
    "RATE_LIMITING_ENABLED",
    "RATE_LIMIT_GENERAL",
    "RATE_LIMIT_ADMIN",
    "RATE_LIMIT_AUTH",
    "RATE_LIMIT_WS_HANDSHAKE",
    "RATE_LIMIT_CITIZEN",
    "LOG_LEVEL",
    "HSTS_ENABLED",
    "LOCATION_RETENTION_DAYS",
    "INGEST_CONCURRENCY",
    "PROJECT_NAME",
    "PROJECT_VERSION",
    "MAP_TILE_URL",
    "DISPATCH_MAX_POSITION_AGE_MINUTES",
    "DISPATCH_ACK_TIMEOUT_SECONDS",
    "DISPATCH_MAX_ATTEMPTS",
    "REQUEST_TIMEOUT_SECONDS",
    "HEADER_READ_TIMEOUT_SECONDS",
    "MAX_CONNECTIONS",
    "ALERTMANAGER_WEBHOOK_TOKEN",
    // `gad bot` (read by gad_bot::BotConfig).
    "TELEGRAM_TOKEN",
    "TELEGRAM_API_URL",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_ADMIN_CHAT_ID",
    "TELEGRAM_POLL_TIMEOUT",
    "BOT_LISTEN_ADDR",
    "BOT_RATE_LIMIT_PER_MINUTE",
    // Privacy and audit.
    "AUDIT_RETENTION_DAYS",
    "REVOKED_TOKEN_RETENTION_HOURS",
    "TICKET_RETENTION_HOURS",
    "TELEGRAM_LINK_CODE_RETENTION_HOURS",
    "IDEMPOTENCY_KEY_RETENTION_HOURS",
    "LOGIN_FAILURE_RETENTION_DAYS",
    "RETENTION_BATCH_SIZE",
    "DB_APP_ROLE",
    "GDPR_EXPORT_CONCURRENCY",
];

const MIN_SECRET_LEN: usize = 32;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, String> {
        Self::from_map(&std::env::vars().collect())
    }

    /// Reads a given map (tests build configs without touching the process environment).
    pub fn from_map(env: &HashMap<String, String>) -> Result<Config, String> {
        let get = |k: &str| {
            env.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let environment = match get("ENVIRONMENT").as_deref().unwrap_or("development") {
            "development" | "dev" => Environment::Development,
            "staging" => Environment::Staging,
            "production" | "prod" => Environment::Production,
            other => {
                return Err(format!(
                    "ENVIRONMENT must be development, staging or production (got '{other}')"
                ));
            }
        };
        let dev = environment.is_development();

        let database_url = match get("DATABASE_URL") {
            Some(u) => u,
            None => match (
                get("POSTGRES_SERVER"),
                get("POSTGRES_USER"),
                get("POSTGRES_DB"),
            ) {
                (Some(server), Some(user), Some(db)) => {
                    let port = get("POSTGRES_PORT").unwrap_or_else(|| "5432".into());
                    let auth = match get("POSTGRES_PASSWORD") {
                        Some(p) => format!("{user}:{}", percent_encode(&p)),
                        None => user,
                    };
                    format!("postgres://{auth}@{server}:{port}/{db}")
                }
                _ => {
                    return Err(
                        "DATABASE_URL is required (or POSTGRES_SERVER, POSTGRES_USER and POSTGRES_DB)"
                            .into(),
                    );
                }
            },
        };

        let redis_url = match get("REDIS_URL") {
            Some(u) => Some(u),
            None => get("REDIS_HOST").map(|host| {
                let port = get("REDIS_PORT").unwrap_or_else(|| "6379".into());
                let db = get("REDIS_DB").unwrap_or_else(|| "0".into());
                match get("REDIS_PASSWORD") {
                    Some(p) => format!("redis://:{}@{host}:{port}/{db}", percent_encode(&p)),
                    None => format!("redis://{host}:{port}/{db}"),
                }
            }),
        };

        let (secret_var, secret) = match (get("JWT_SECRET_KEY"), get("SECRET_KEY")) {
            (Some(s), _) => ("JWT_SECRET_KEY", Some(s)),
            (None, Some(s)) => ("SECRET_KEY", Some(s)),
            (None, None) => ("JWT_SECRET_KEY", None),
        };
        let jwt_secret = match secret {
            Some(s) if s.chars().count() >= MIN_SECRET_LEN && !is_weak(&s) => s,
            Some(s) if dev => {
                eprintln!(
                    "warning: {secret_var} is weak ({} chars); allowed only in development",
                    s.len()
                );
                s
            }
            None if dev => {
                eprintln!(
                    "warning: JWT_SECRET_KEY not set; using a random per-process secret (development only)"
                );
                random_secret()
            }
            Some(_) => {
                return Err(format!(
                    "{secret_var} is too weak: it must be at least {MIN_SECRET_LEN} characters and not a placeholder outside ENVIRONMENT=development"
                ));
            }
            None => {
                return Err(
                    "JWT_SECRET_KEY (or SECRET_KEY) is required outside ENVIRONMENT=development"
                        .into(),
                );
            }
        };

        let cors_allowed_origins: Vec<String> = get("CORS_ALLOWED_ORIGINS")
            .map(|s| split_list(&s))
            .unwrap_or_default();
        if !dev && cors_allowed_origins.iter().any(|o| o == "*") {
            return Err("CORS_ALLOWED_ORIGINS may not contain '*' outside development".into());
        }

        let trusted_proxies = parse_cidrs(
            &get("TRUSTED_PROXY_HOSTS").unwrap_or_else(|| "127.0.0.1/32,::1/128".into()),
        )?;

        let rate_limits = RateLimits {
            enabled: parse_bool(env, "RATE_LIMITING_ENABLED", true)?,
            general: parse_num(env, "RATE_LIMIT_GENERAL", 100, 1, u32::MAX)?,
            admin: parse_num(env, "RATE_LIMIT_ADMIN", 200, 1, u32::MAX)?,
            auth: parse_num(env, "RATE_LIMIT_AUTH", 20, 1, u32::MAX)?,
            ws_handshake: parse_num(env, "RATE_LIMIT_WS_HANDSHAKE", 10, 1, u32::MAX)?,
            citizen: parse_num(env, "RATE_LIMIT_CITIZEN", 60, 1, u32::MAX)?,
        };

        let alertmanager_webhook_token = match get("ALERTMANAGER_WEBHOOK_TOKEN") {
            Some(t) if !dev && (t.chars().count() < MIN_SECRET_LEN || is_weak(&t)) => {
                return Err(format!(
                    "ALERTMANAGER_WEBHOOK_TOKEN is too weak: it must be at least {MIN_SECRET_LEN} characters and not a placeholder outside ENVIRONMENT=development"
                ));
            }
            t => t,
        };

        Ok(Config {
            environment,
            host: get("HOST").unwrap_or_else(|| "0.0.0.0".into()),
            port: parse_num(env, "PORT", 8000, 0, u16::MAX)?,
            database_url,
            db_pool_size: parse_num(env, "DB_POOL_SIZE", 20, 1, 1000)?,
            redis_url,
            jwt_secret,
            access_token_expire_minutes: parse_num(
                env,
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                30,
                1,
                1440,
            )?,
            cors_allowed_origins,
            trusted_proxies,
            rate_limits,
            log_level: get("LOG_LEVEL")
                .unwrap_or_else(|| "info".into())
                .to_lowercase(),
            hsts_enabled: parse_bool(env, "HSTS_ENABLED", false)?,
            location_retention_days: parse_num(env, "LOCATION_RETENTION_DAYS", 30, 1, 36500)?,
            ingest_concurrency: parse_num(env, "INGEST_CONCURRENCY", 8, 1, 64)?,
            project_name: get("PROJECT_NAME").unwrap_or_else(|| "GRUPO_GAD".into()),
            project_version: get("PROJECT_VERSION")
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
            redis_namespace: "gad:".into(),
            map_tile_url: map_tile_url(get("MAP_TILE_URL"))?,
            dispatch_max_position_age_minutes: parse_num(
                env,
                "DISPATCH_MAX_POSITION_AGE_MINUTES",
                30,
                1,
                10_080,
            )?,
            dispatch_ack_timeout_seconds: parse_num(
                env,
                "DISPATCH_ACK_TIMEOUT_SECONDS",
                60,
                1,
                3600,
            )?,
            dispatch_max_attempts: parse_num(env, "DISPATCH_MAX_ATTEMPTS", 3, 1, 20)?,
            request_timeout_seconds: parse_num(env, "REQUEST_TIMEOUT_SECONDS", 30, 1, 3600)?,
            header_read_timeout_seconds: parse_num(env, "HEADER_READ_TIMEOUT_SECONDS", 10, 1, 10)?,
            max_connections: parse_num(env, "MAX_CONNECTIONS", 50_000, 1, 1_000_000)?,
            alertmanager_webhook_token,
            retention: Retention {
                audit_days: parse_num(env, "AUDIT_RETENTION_DAYS", 365, 1, 36_500)?,
                revoked_token_hours: parse_num(env, "REVOKED_TOKEN_RETENTION_HOURS", 0, 0, 87_600)?,
                ticket_hours: parse_num(env, "TICKET_RETENTION_HOURS", 0, 0, 87_600)?,
                telegram_link_code_hours: parse_num(
                    env,
                    "TELEGRAM_LINK_CODE_RETENTION_HOURS",
                    24,
                    0,
                    87_600,
                )?,
                idempotency_key_hours: parse_num(
                    env,
                    "IDEMPOTENCY_KEY_RETENTION_HOURS",
                    24,
                    24,
                    87_600,
                )?,
                login_failure_days: parse_num(env, "LOGIN_FAILURE_RETENTION_DAYS", 30, 1, 36_500)?,
                batch_size: parse_num(env, "RETENTION_BATCH_SIZE", 10_000, 1, 1_000_000)?,
            },
            gdpr_export_concurrency: parse_num(env, "GDPR_EXPORT_CONCURRENCY", 2, 1, 64)?,
            db_app_role: match env.get("DB_APP_ROLE").map(|v| v.trim().to_string()) {
                None => Some("gad_app".to_string()),
                Some(v) if v.is_empty() => None,
                Some(v) if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Some(v),
                Some(v) => {
                    return Err(format!(
                        "DB_APP_ROLE must be a role name of letters, digits and _ (got '{v}')"
                    ));
                }
            },
        })
    }

    /// A config for tests and tools: development, given database, optional Redis.
    pub fn for_tests(database_url: &str, redis_url: Option<&str>) -> Config {
        let mut m = HashMap::new();
        m.insert("DATABASE_URL".to_string(), database_url.to_string());
        m.insert(
            "JWT_SECRET_KEY".to_string(),
            "test-secret-key-that-is-long-enough-0123456789".to_string(),
        );
        if let Some(r) = redis_url {
            m.insert("REDIS_URL".to_string(), r.to_string());
        }
        m.insert("PORT".to_string(), "0".to_string());
        m.insert("HOST".to_string(), "127.0.0.1".to_string());
        m.insert("DB_POOL_SIZE".to_string(), "5".to_string());
        m.insert("RATE_LIMITING_ENABLED".to_string(), "false".to_string());
        Self::from_map(&m).unwrap_or_else(|e| panic!("test config: {e}"))
    }

    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// Summary safe to print (no secrets).
    pub fn describe(&self) -> String {
        format!(
            "environment={} listen={}:{} database={} redis={} rate_limiting={} cors_origins={} trusted_proxies={}",
            self.environment.as_str(),
            self.host,
            self.port,
            redact_url(&self.database_url),
            self.redis_url
                .as_deref()
                .map(redact_url)
                .unwrap_or_else(|| "not_configured".into()),
            self.rate_limits.enabled,
            self.cors_allowed_origins.len(),
            self.trusted_proxies.len()
        )
    }
}

/// OpenStreetMap's public tiles unless `MAP_TILE_URL` names another server (absolute http(s)
/// or a path on this host) with the `{z}`, `{x}` and `{y}` placeholders.
pub const DEFAULT_MAP_TILE_URL: &str = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png";

fn map_tile_url(v: Option<String>) -> Result<String, String> {
    let Some(url) = v.map(|u| u.trim().to_string()).filter(|u| !u.is_empty()) else {
        return Ok(DEFAULT_MAP_TILE_URL.into());
    };
    let scheme_ok =
        url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/');
    let placeholders = ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p));
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'));
    if scheme_ok && placeholders && clean {
        Ok(url)
    } else {
        Err(format!(
            "MAP_TILE_URL must be an http(s) URL or a path with {{z}}, {{x}} and {{y}} (got '{url}')"
        ))
    }
}

fn is_weak(s: &str) -> bool {
    let lower = s.to_lowercase();
    ["changeme", "change-me", "secret", "password", "your-secret"]
        .iter()
        .any(|w| lower == *w || lower.starts_with(&format!("{w}-here")))
        || s.chars().collect::<std::collections::HashSet<_>>().len() < 8
}

fn random_secret() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect()
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().trim_end_matches('/').to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_cidrs(s: &str) -> Result<Vec<IpNet>, String> {
    split_list(s)
        .iter()
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("TRUSTED_PROXY_HOSTS: '{p}' is not an IP address or CIDR"))
        })
        .collect()
}

fn parse_bool(env: &HashMap<String, String>, key: &str, default: bool) -> Result<bool, String> {
    match env.get(key).map(|v| v.trim().to_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(format!("{key} must be true or false (got '{v}')")),
        },
    }
}

fn parse_num<T>(
    env: &HashMap<String, String>,
    key: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => match v.parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(format!(
                "{key} must be a number between {min} and {max} (got '{v}')"
            )),
        },
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Hides the password in a connection URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn production_refuses_short_secret_naming_variable() {
        let e = Config::from_map(&env(&[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://x/y"),
            ("JWT_SECRET_KEY", "0123456789"),
        ]))
        .err()
        .unwrap_or_default();
        assert!(e.contains("JWT_SECRET_KEY"), "{e}");
    }

    #[test]
    fn alertmanager_webhook_token_is_optional_but_strong_outside_development() {
        let base = [
            ("ENVIRONMENT", "staging"),
            ("DATABASE_URL", "postgres://x/y"),
            (
                "JWT_SECRET_KEY",
                "a-strong-jwt-secret-0123456789-abcdefghijkl",
            ),
        ];
        let c = Config::from_map(&env(&base)).unwrap();
        assert!(c.alertmanager_webhook_token.is_none());
        let mut weak = base.to_vec();
        weak.push(("ALERTMANAGER_WEBHOOK_TOKEN", "short-token"));
        let e = Config::from_map(&env(&weak)).err().unwrap_or_default();
        assert!(e.contains("ALERTMANAGER_WEBHOOK_TOKEN"), "{e}");
        let mut strong = base.to_vec();
        strong.push((
            "ALERTMANAGER_WEBHOOK_TOKEN",
            "  webhook-secret-0123456789-abcdefghijklmnop  ",
        ));
        let c = Config::from_map(&env(&strong)).unwrap();
        assert_eq!(
            c.alertmanager_webhook_token.as_deref(),
            Some("webhook-secret-0123456789-abcdefghijklmnop")
        );
        let dev = env(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("ALERTMANAGER_WEBHOOK_TOKEN", "dev"),
        ]);
        assert_eq!(
            Config::from_map(&dev)
                .unwrap()
                .alertmanager_webhook_token
                .as_deref(),
            Some("dev")
        );
    }

    #[test]
    fn postgres_parts_and_redis_parts_build_urls() {
        let c = Config::from_map(&env(&[
            ("POSTGRES_SERVER", "db"),
            ("POSTGRES_USER", "gad"),
            ("POSTGRES_PASSWORD", "p@ss"),
            ("POSTGRES_DB", "gad"),
            ("REDIS_HOST", "cache"),
            ("REDIS_PASSWORD", "pw"),
        ]))
        .unwrap();
        assert_eq!(c.database_url, "postgres://gad:p%40ss@db:5432/gad");
        assert_eq!(c.redis_url.as_deref(), Some("redis://:pw@cache:6379/0"));
        assert_eq!(c.port, 8000);
        assert_eq!(c.host, "0.0.0.0");
    }

    #[test]
    fn wildcard_cors_refused_in_production() {
        let e = Config::from_map(&env(&[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://x/y"),
            (
                "JWT_SECRET_KEY",
                "a-very-long-and-random-secret-key-0123456789abcdef",
            ),
            ("CORS_ALLOWED_ORIGINS", "*"),
        ]));
        assert!(e.is_err());
    }
}
