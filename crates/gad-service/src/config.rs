//! Configuration from the environment (contract §16), validated once at start-up.
//!
//! Every variable `gad` reads is declared once: a field of [`Vars`] (the server's, which the bot
//! reads too) or [`BotVars`] (the bot's own), named as the variable in lower case, with its type,
//! default and accepted values, read with figment. [`Config::from_vars`] and
//! `gad_bot::BotConfig::from_vars` then check what no single variable can (weak secrets outside
//! development, required settings, URLs built from parts). Nothing here panics: every problem is
//! a one-line message naming the variable.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::LazyLock;

use figment::Figment;
use figment::error::{Actual, Kind};
use figment::providers::Serialized;
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::de::{Deserializer, Error as _, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_inline_default::serde_inline_default;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
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

impl TryFrom<String> for Environment {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "development" | "dev" => Ok(Environment::Development),
            "staging" => Ok(Environment::Staging),
            "production" | "prod" => Ok(Environment::Production),
            other => Err(format!(
                "must be development, staging or production (got '{other}')"
            )),
        }
    }
}

/// Who may be called (`DUTY_MODE`): `libre` (everyone available) or `turnos` (only officers on
/// duty by the roster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DutyMode {
    Libre,
    Turnos,
}

impl TryFrom<String> for DutyMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.trim().to_lowercase().as_str() {
            "libre" => Ok(DutyMode::Libre),
            "turnos" => Ok(DutyMode::Turnos),
            other => Err(format!("must be libre or turnos (got '{other}')")),
        }
    }
}

/// The server's variables (the bot reads them too): one field per variable, named as it. Unset or
/// blank is the default (DB_APP_ROLE excepted: blank there means "no role switch"). Numbers
/// outside their range, booleans other than true/false/yes/no/on/off/1/0 and malformed lists
/// are refused here; what depends on other variables is checked by the `from_vars` passes.
#[serde_inline_default]
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Vars {
    /// development (or dev), staging, production (or prod). No default: a server that
    /// forgot it must not run with development's leniency (`Config::for_server`).
    pub environment: Option<Environment>,
    #[serde_inline_default("0.0.0.0".into())]
    pub host: String,
    #[serde_inline_default(8000)]
    #[serde(deserialize_with = "Range::<0, 65535>::de")]
    pub port: u16,
    /// Wins over the POSTGRES_* parts, which build it otherwise.
    pub database_url: Option<String>,
    pub postgres_server: Option<String>,
    #[serde_inline_default("5432".into())]
    pub postgres_port: String,
    pub postgres_user: Option<String>,
    pub postgres_password: Option<String>,
    pub postgres_db: Option<String>,
    #[serde_inline_default(20)]
    #[serde(deserialize_with = "Range::<1, 1000>::de")]
    pub db_pool_size: u32,
    /// Wins over the REDIS_* parts; REDIS_HOST set builds it from them; neither: no Redis.
    pub redis_url: Option<String>,
    pub redis_host: Option<String>,
    #[serde_inline_default("6379".into())]
    pub redis_port: String,
    #[serde_inline_default("0".into())]
    pub redis_db: String,
    pub redis_password: Option<String>,
    /// SECRET_KEY is its older name, read when JWT_SECRET_KEY is unset.
    pub jwt_secret_key: Option<String>,
    pub secret_key: Option<String>,
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<1, 1440>::de")]
    pub access_token_expire_minutes: i64,
    /// Comma-separated origins; a trailing `/` is dropped.
    #[serde(default, deserialize_with = "list")]
    pub cors_allowed_origins: Vec<String>,
    /// Comma-separated addresses or CIDRs.
    #[serde_inline_default(vec![
        IpNet::from(IpAddr::from(Ipv4Addr::LOCALHOST)),
        IpNet::from(IpAddr::from(Ipv6Addr::LOCALHOST)),
    ])]
    #[serde(deserialize_with = "cidrs")]
    pub trusted_proxy_hosts: Vec<IpNet>,
    #[serde_inline_default(true)]
    pub rate_limiting_enabled: bool,
    #[serde_inline_default(100)]
    #[serde(deserialize_with = "Range::<1, 4294967295>::de")]
    pub rate_limit_general: u32,
    #[serde_inline_default(200)]
    #[serde(deserialize_with = "Range::<1, 4294967295>::de")]
    pub rate_limit_admin: u32,
    #[serde_inline_default(20)]
    #[serde(deserialize_with = "Range::<1, 4294967295>::de")]
    pub rate_limit_auth: u32,
    #[serde_inline_default(10)]
    #[serde(deserialize_with = "Range::<1, 4294967295>::de")]
    pub rate_limit_ws_handshake: u32,
    #[serde_inline_default(60)]
    #[serde(deserialize_with = "Range::<1, 4294967295>::de")]
    pub rate_limit_citizen: u32,
    #[serde_inline_default("info".into())]
    pub log_level: String,
    #[serde_inline_default(false)]
    pub hsts_enabled: bool,
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<1, 36500>::de")]
    pub location_retention_days: i64,
    #[serde_inline_default(8)]
    #[serde(deserialize_with = "Range::<1, 64>::de")]
    pub ingest_concurrency: usize,
    #[serde_inline_default("GRUPO_GAD".into())]
    pub project_name: String,
    #[serde_inline_default(env!("CARGO_PKG_VERSION").into())]
    pub project_version: String,
    #[serde_inline_default(DEFAULT_MAP_TILE_URL.into())]
    pub map_tile_url: String,
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<1, 10080>::de")]
    pub dispatch_max_position_age_minutes: i64,
    #[serde_inline_default(60)]
    #[serde(deserialize_with = "Range::<1, 3600>::de")]
    pub dispatch_ack_timeout_seconds: i64,
    #[serde_inline_default(3)]
    #[serde(deserialize_with = "Range::<1, 20>::de")]
    pub dispatch_max_attempts: i32,
    #[serde_inline_default(6)]
    #[serde(deserialize_with = "Range::<1, 100>::de")]
    pub backup_max_per_task: i64,
    #[serde_inline_default(1000)]
    #[serde(deserialize_with = "Range::<0, 100000>::de")]
    pub dispatch_specialty_slack_m: i64,
    #[serde_inline_default(10)]
    #[serde(deserialize_with = "Range::<1, 1000>::de")]
    pub emergency_max_per_hour: i64,
    /// Minutes without a report from an officer on scene before the bot asks "¿Todo bien?",
    /// when the incident's type sets none. Fractions are accepted (0.01–1440) so tests run in
    /// seconds.
    #[serde_inline_default(20.0)]
    #[serde(deserialize_with = "minutes")]
    pub checkin_minutos: f64,
    /// Minutes the officer has to answer before supervisors get a red alert (0.01–1440).
    #[serde_inline_default(5.0)]
    #[serde(deserialize_with = "minutes")]
    pub checkin_gracia_minutos: f64,
    /// Minutes an officer on a cuadrante assignment may be outside it before supervisors get a
    /// `zona_salida` alert (0.01–1440; fractions so tests run in seconds).
    #[serde_inline_default(5.0)]
    #[serde(deserialize_with = "minutes")]
    pub zona_salida_minutos: f64,
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<1, 3600>::de")]
    pub request_timeout_seconds: u64,
    #[serde_inline_default(10)]
    #[serde(deserialize_with = "Range::<1, 10>::de")]
    pub header_read_timeout_seconds: u64,
    #[serde_inline_default(50_000)]
    #[serde(deserialize_with = "Range::<1, 1000000>::de")]
    pub max_connections: usize,
    pub alertmanager_webhook_token: Option<String>,

    // Privacy and audit.
    /// At least 365: the floor `gad audit verify --witness` relies on. Written into the
    /// database by `gad migrate` (the server's role can only read it).
    #[serde_inline_default(365)]
    #[serde(deserialize_with = "Range::<365, 36500>::de")]
    pub audit_retention_days: i32,
    #[serde_inline_default(0)]
    #[serde(deserialize_with = "Range::<0, 87600>::de")]
    pub revoked_token_retention_hours: i32,
    #[serde_inline_default(0)]
    #[serde(deserialize_with = "Range::<0, 87600>::de")]
    pub ticket_retention_hours: i32,
    #[serde_inline_default(24)]
    #[serde(deserialize_with = "Range::<0, 87600>::de")]
    pub telegram_link_code_retention_hours: i32,
    /// At least 24: the replay window.
    #[serde_inline_default(24)]
    #[serde(deserialize_with = "Range::<24, 87600>::de")]
    pub idempotency_key_retention_hours: i32,
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<1, 36500>::de")]
    pub login_failure_retention_days: i32,
    #[serde_inline_default(365)]
    #[serde(deserialize_with = "Range::<1, 36500>::de")]
    pub denunciante_retention_days: i32,
    #[serde_inline_default(10_000)]
    #[serde(deserialize_with = "Range::<1, 1000000>::de")]
    pub retention_batch_size: i64,
    /// Blank: no role switch.
    #[serde_inline_default("gad_app".into())]
    pub db_app_role: String,
    #[serde_inline_default(2)]
    #[serde(deserialize_with = "Range::<1, 64>::de")]
    pub gdpr_export_concurrency: usize,
    /// Whole-stream deadline of one data-subject export.
    #[serde_inline_default(300)]
    #[serde(deserialize_with = "Range::<1, 86400>::de")]
    pub gdpr_export_max_seconds: u64,
    /// Secret the key wrapping every person's audit key is derived from; unset: JWT_SECRET_KEY.
    pub audit_master_key: Option<String>,
    /// Ed25519 key (32 bytes, base64 or hex: `gad audit keygen`) that signs the witnessed heads
    /// of the audit chain; unset: no witness.
    pub audit_signing_key: Option<String>,
    #[serde_inline_default(crate::witness::DEFAULT_INTERVAL_SECONDS)]
    #[serde(deserialize_with = "Range::<1, 86400>::de")]
    pub audit_witness_interval_seconds: u64,
    #[serde_inline_default(crate::witness::DEFAULT_FILE.into())]
    pub audit_witness_file: String,
    /// Period of the audit sealer (ms): at most one second between a commit and its row's
    /// place in the hash chain.
    #[serde_inline_default(crate::sealer::DEFAULT_INTERVAL_MS)]
    #[serde(deserialize_with = "Range::<10, 1000>::de")]
    pub audit_seal_interval_ms: u64,

    /// Level (1–3) from which users must enrol a second factor (TOTP); unset: nobody must.
    #[serde(default, deserialize_with = "optional_level")]
    pub totp_required_level: Option<i16>,

    /// Largest attachment (evidence file) a task takes, in MiB.
    #[serde_inline_default(10)]
    #[serde(deserialize_with = "Range::<1, 100>::de")]
    pub adjunto_max_mb: usize,
    /// Directory of the attachments when no S3-compatible store is configured (created at start).
    #[serde_inline_default("./data/adjuntos".into())]
    pub adjuntos_dir: String,
    /// `s3://bucket` of an S3-compatible store for the attachments (credentials, region and
    /// endpoint from the usual AWS_* variables); unset: ADJUNTOS_DIR.
    pub adjuntos_s3_url: Option<String>,
    // Address search.
    /// Nominatim- or Photon-compatible geocoder asked before the local gazetteer; unset: only
    /// the gazetteer.
    pub geocoder_url: Option<String>,
    /// nominatim or photon: the paths and answers GEOCODER_URL speaks.
    #[serde_inline_default("nominatim".into())]
    pub geocoder_kind: String,
    #[serde_inline_default(2000)]
    #[serde(deserialize_with = "Range::<100, 30000>::de")]
    pub geocoder_timeout_ms: u64,
    /// How long an address-search answer is reused (0: never).
    #[serde_inline_default(300)]
    #[serde(deserialize_with = "Range::<0, 86400>::de")]
    pub geocoder_cache_seconds: u64,

    // Roster.
    /// libre (default: everyone available may be called) or turnos (only officers on duty).
    #[serde_inline_default(DutyMode::Libre)]
    pub duty_mode: DutyMode,
    /// In turnos mode, whether an officer must have clocked in to be called (else being within
    /// a planned current shift is enough).
    #[serde_inline_default(true)]
    pub duty_requires_clock_in: bool,
    /// Minutes after a shift's planned start from which a clock-in is flagged late.
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<0, 1440>::de")]
    pub turno_tolerancia_minutos: i64,
    /// The IANA time zone in which people read dates and times of day: leave days, the start
    /// time of a shift pattern, report times.
    #[serde_inline_default("America/Argentina/Buenos_Aires".into())]
    pub zona_horaria: String,
    /// Arrival target per incident priority for the response report, `prioridad:minutos`
    /// pairs for priorities 1 to 5 (each once, 1–1440 minutes).
    #[serde_inline_default("1:30,2:20,3:15,4:10,5:8".into())]
    pub sla_llegada_minutos: String,
    /// How long an instance reuses a token's authenticated user without reading it from the
    /// database again (0: never). Invalidation crosses instances through Redis; without Redis
    /// this bound is the staleness of a logout or a level change elsewhere, hence at most 5.
    #[serde_inline_default(5)]
    #[serde(deserialize_with = "Range::<0, 5>::de")]
    pub auth_cache_ttl_seconds: u64,
    /// Most sessions an instance keeps in that cache.
    #[serde_inline_default(100_000)]
    #[serde(deserialize_with = "Range::<1, 10_000_000>::de")]
    pub auth_cache_max: u64,
}

/// The variables only `gad bot` reads, declared as [`Vars`] (checked by
/// `gad_bot::BotConfig::from_vars`; the bot reads [`Vars`] too, through the server's `Config`).
#[serde_inline_default]
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct BotVars {
    pub telegram_token: Option<String>,
    #[serde_inline_default("https://api.telegram.org".into())]
    pub telegram_api_url: String,
    pub telegram_webhook_url: Option<String>,
    pub telegram_webhook_secret: Option<String>,
    #[serde(default, deserialize_with = "chat_id")]
    pub telegram_admin_chat_id: Option<i64>,
    #[serde_inline_default(25)]
    #[serde(deserialize_with = "Range::<0, 50>::de")]
    pub telegram_poll_timeout: u32,
    #[serde_inline_default("0.0.0.0:9102".into())]
    pub bot_listen_addr: String,
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<1, 10000>::de")]
    pub bot_rate_limit_per_minute: u32,
    /// Messages per second this bot sends to Telegram, all chats together (Telegram's published
    /// limit is 30). Per bot process: the send queue itself is shared in the database.
    #[serde_inline_default(30)]
    #[serde(deserialize_with = "Range::<1, 1000>::de")]
    pub bot_mensajes_por_segundo: u32,
    /// Least time between two messages to the same chat, in milliseconds (Telegram: 1 s).
    #[serde_inline_default(1000)]
    #[serde(deserialize_with = "Range::<0, 60000>::de")]
    pub bot_mensajes_intervalo_chat_ms: u32,
}

/// Names of every variable `gad` reads (the fields of [`Vars`] and [`BotVars`]); deploy files
/// are checked against this list.
pub static KNOWN_ENV_VARS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| [struct_fields::<Vars>(), struct_fields::<BotVars>()].concat());

impl Vars {
    /// Reads the process environment.
    pub fn from_env() -> Result<Vars, String> {
        read(process_env()?)
    }

    /// Reads a given map (tests build configs without touching the process environment).
    pub fn from_map(env: &HashMap<String, String>) -> Result<Vars, String> {
        read(env.iter().map(|(k, v)| (k.clone(), v.clone())))
    }
}

impl BotVars {
    pub fn from_env() -> Result<BotVars, String> {
        read(process_env()?)
    }

    pub fn from_map(env: &HashMap<String, String>) -> Result<BotVars, String> {
        read(env.iter().map(|(k, v)| (k.clone(), v.clone())))
    }
}

const MIN_SECRET_LEN: usize = 32;

/// Estimated entropy a secret needs outside development.
const MIN_SECRET_BITS: f64 = 128.0;

/// The refusal of a server started without ENVIRONMENT.
pub const ENVIRONMENT_REQUIRED: &str =
    "ENVIRONMENT is required: development, staging or production (scripts/dev.sh sets development)";

/// The secret placeholders of `.env.example`: copied as they are, they are public knowledge.
const PLACEHOLDER_SECRETS: [&str; 2] = [
    "replace-with-48-random-characters-from-a-password-generator",
    "replace-with-32-random-letters-digits-dashes",
];

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
    /// Backup officers one emergency may call in all (every request counted, whoever asks).
    pub backup_max_per_task: i64,
    /// A typed incident prefers officers with one of its type's specialities when they are at
    /// most this many metres farther than the nearest eligible officer (never beyond).
    pub dispatch_specialty_slack_m: i64,
    /// Emergencies one level-1 user may raise in any rolling hour (API and Telegram alike);
    /// beyond, the request is refused with 429 and supervisors are alerted.
    pub emergency_max_per_hour: i64,
    /// Officer-safety check-ins (`CHECKIN_MINUTOS`, `CHECKIN_GRACIA_MINUTOS`).
    pub checkin: Checkin,
    /// `ZONA_SALIDA_MINUTOS` (5): how long an officer may be outside the cuadrante of their
    /// shift or task before the `zona_salida` alert.
    pub zona_salida: std::time::Duration,
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
    /// Deadline of a whole data-subject export (`GDPR_EXPORT_MAX_SECONDS`, 300): past it the
    /// export stops, releasing its slot, connection and snapshot, and the transfer is cut.
    pub gdpr_export_max_seconds: u64,
    /// What the master key that wraps each person's audit key is derived from:
    /// `AUDIT_MASTER_KEY`, or `JWT_SECRET_KEY` when that is unset. Changing it makes the
    /// personal values already in the audit trail unreadable.
    pub audit_master_secret: String,
    /// `TOTP_REQUIRED_LEVEL` (unset: off): users at or above this level who have not enrolled a
    /// second factor get a session that only reaches their profile, the enrolment and logout.
    pub totp_required_level: Option<i16>,
    /// The witness of the audit chain's head (`AUDIT_SIGNING_KEY`,
    /// `AUDIT_WITNESS_INTERVAL_SECONDS`, `AUDIT_WITNESS_FILE`).
    pub audit_witness: AuditWitness,
    /// `AUDIT_SEAL_INTERVAL_MS` (500, 10–1000): how often `gad serve` links committed audit rows
    /// into the hash chain (`crate::sealer`).
    pub audit_seal_interval: std::time::Duration,
    /// Where the attachments of tasks are kept and how big one may be (`ADJUNTO_MAX_MB`,
    /// `ADJUNTOS_DIR`, `ADJUNTOS_S3_URL`).
    pub adjuntos: Adjuntos,
    /// The external geocoder of the address search and the answers' cache (`GEOCODER_*`).
    pub geocoder: GeocoderConfig,
    /// Who may be called (`DUTY_MODE`, `DUTY_REQUIRES_CLOCK_IN`): the dispatch rule's roster
    /// condition.
    pub duty: gad_store::turnos::Duty,
    /// `TURNO_TOLERANCIA_MINUTOS` (30): a clock-in later than this after the planned start is
    /// flagged `ingreso_tarde`.
    pub turno_tolerancia_minutos: i64,
    /// `ZONA_HORARIA` (America/Argentina/Buenos_Aires): the calendar of leave days, pattern
    /// start times and reports.
    pub zona_horaria: chrono_tz::Tz,
    /// `SLA_LLEGADA_MINUTOS` (1:30,2:20,3:15,4:10,5:8): the arrival target in minutes of
    /// priorities 1 to 5 (index 0 is priority 1), the response report's SLA share.
    pub sla_llegada_minutos: [i32; 5],
    /// The per-instance cache of authenticated sessions (`AUTH_CACHE_TTL_SECONDS`,
    /// `AUTH_CACHE_MAX`); a zero TTL turns it off.
    pub auth_cache: AuthCacheConfig,
}

/// How long and how many authenticated sessions an instance keeps (see `gad_api::auth_cache`).
#[derive(Debug, Clone, Copy)]
pub struct AuthCacheConfig {
    pub ttl: std::time::Duration,
    pub max_entries: u64,
}

/// Officer-safety check-ins (`crate::checkins`).
#[derive(Debug, Clone, Copy)]
pub struct Checkin {
    /// Time without a report before the question, when the incident's type sets none.
    pub intervalo: std::time::Duration,
    /// Time to answer before the silence is alerted.
    pub gracia: std::time::Duration,
}

/// Where the attachments (evidence files) of tasks are stored (`crate::almacen`).
#[derive(Debug, Clone)]
pub struct Adjuntos {
    /// Largest file, in bytes.
    pub max_bytes: usize,
    /// Local directory (used when `s3_url` is None).
    pub dir: std::path::PathBuf,
    /// `s3://bucket` of an S3-compatible store.
    pub s3_url: Option<String>,
}

/// Which protocol an external geocoder speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeocoderKind {
    /// `/search?q=&format=jsonv2`, `/reverse?lat=&lon=&format=jsonv2`.
    Nominatim,
    /// `/api?q=`, `/reverse?lat=&lon=` (GeoJSON answers).
    Photon,
}

/// The external geocoder (`GEOCODER_URL`, `GEOCODER_KIND`, `GEOCODER_TIMEOUT_MS`) and how long
/// an address-search answer is cached (`GEOCODER_CACHE_SECONDS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeocoderConfig {
    /// Base URL without a trailing `/`; None: only the local gazetteer.
    pub url: Option<String>,
    pub kind: GeocoderKind,
    pub timeout: std::time::Duration,
    pub cache_seconds: u64,
}

/// Where and how often the server witnesses the audit chain's head (`crate::witness`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditWitness {
    /// None: the witness is off.
    pub key: Option<crate::witness::SigningKey>,
    pub interval_seconds: u64,
    pub file: std::path::PathBuf,
}

/// How long each kind of row is kept before the maintenance job purges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `AUDIT_RETENTION_DAYS` (365, never below): each new audit row's `retention_until` is its
    /// insert time plus this, fixed by the database from `audit_settings`, which `gad migrate`
    /// sets from this variable (the server's role cannot change it). The purge deletes the
    /// chain's prefix past its `retention_until`.
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
    /// `DENUNCIANTE_RETENTION_DAYS` (365): an incident's caller (name, phone) is cleared this
    /// long after the incident was closed.
    pub denunciante_days: i32,
    /// `RETENTION_BATCH_SIZE` (10 000): rows per DELETE.
    pub batch_size: i64,
}

impl Config {
    /// `DUTY_MODE` as its setting is spelt (`libre` or `turnos`), for the faces that show it.
    pub fn duty_mode_name(&self) -> &'static str {
        match self.duty {
            gad_store::turnos::Duty::Libre => "libre",
            gad_store::turnos::Duty::Turnos { .. } => "turnos",
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, String> {
        Self::from_vars(&Vars::from_env()?)
    }

    /// Reads a given map (tests build configs without touching the process environment).
    pub fn from_map(env: &HashMap<String, String>) -> Result<Config, String> {
        Self::from_vars(&Vars::from_map(env)?)
    }

    /// The configuration of a long-running process (`gad serve`, `gad bot`, `gad seed`,
    /// `gad check-config`): ENVIRONMENT must be set, so that a deployment that forgot it refuses
    /// to start instead of running with development's weak-secret and cookie leniency.
    pub fn for_server(v: &Vars) -> Result<Config, String> {
        if v.environment.is_none() {
            return Err(ENVIRONMENT_REQUIRED.into());
        }
        Self::from_vars(v)
    }

    /// The server's checks over what the variables say together.
    pub fn from_vars(v: &Vars) -> Result<Config, String> {
        // Tools that need no environment (migrate, create-admin…) read an unset one as
        // development; the server and the bot go through `for_server`, which refuses it.
        let environment = v.environment.unwrap_or(Environment::Development);
        let dev = environment.is_development();

        let database_url = match (
            &v.database_url,
            &v.postgres_server,
            &v.postgres_user,
            &v.postgres_db,
        ) {
            (Some(u), ..) => u.clone(),
            (None, Some(server), Some(user), Some(db)) => {
                let auth = match &v.postgres_password {
                    Some(p) => format!("{user}:{}", percent_encode(p)),
                    None => user.clone(),
                };
                format!("postgres://{auth}@{server}:{}/{db}", v.postgres_port)
            }
            _ => {
                return Err(
                    "DATABASE_URL is required (or POSTGRES_SERVER, POSTGRES_USER and POSTGRES_DB)"
                        .into(),
                );
            }
        };

        let redis_url = v.redis_url.clone().or_else(|| {
            let host = v.redis_host.as_deref()?;
            let (port, db) = (&v.redis_port, &v.redis_db);
            Some(match &v.redis_password {
                Some(p) => format!("redis://:{}@{host}:{port}/{db}", percent_encode(p)),
                None => format!("redis://{host}:{port}/{db}"),
            })
        });

        let (secret_var, secret) = match (&v.jwt_secret_key, &v.secret_key) {
            (Some(s), _) => ("JWT_SECRET_KEY", Some(s.clone())),
            (None, Some(s)) => ("SECRET_KEY", Some(s.clone())),
            (None, None) => ("JWT_SECRET_KEY", None),
        };
        let jwt_secret = match secret {
            Some(s) if is_strong(&s) => s,
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
            Some(_) => return Err(too_weak(secret_var)),
            None => {
                return Err(
                    "JWT_SECRET_KEY (or SECRET_KEY) is required outside ENVIRONMENT=development"
                        .into(),
                );
            }
        };

        if !dev && v.cors_allowed_origins.iter().any(|o| o == "*") {
            return Err("CORS_ALLOWED_ORIGINS may not contain '*' outside development".into());
        }
        if !dev
            && v.alertmanager_webhook_token
                .as_deref()
                .is_some_and(|t| !is_strong(t))
        {
            return Err(too_weak("ALERTMANAGER_WEBHOOK_TOKEN"));
        }
        let audit_master_secret = match &v.audit_master_key {
            Some(k) if !dev && !is_strong(k) => return Err(too_weak("AUDIT_MASTER_KEY")),
            Some(k) => k.clone(),
            None => jwt_secret.clone(),
        };
        let audit_signing_key = v
            .audit_signing_key
            .as_deref()
            .map(crate::witness::SigningKey::parse)
            .transpose()
            .map_err(|e| format!("AUDIT_SIGNING_KEY {e}"))?;
        let db_app_role = match v.db_app_role.as_str() {
            "" => None,
            r if r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Some(r.to_string()),
            r => {
                return Err(format!(
                    "DB_APP_ROLE must be a role name of letters, digits and _ (got '{r}')"
                ));
            }
        };

        Ok(Config {
            environment,
            host: v.host.clone(),
            port: v.port,
            database_url,
            db_pool_size: v.db_pool_size,
            redis_url,
            jwt_secret,
            access_token_expire_minutes: v.access_token_expire_minutes,
            cors_allowed_origins: v.cors_allowed_origins.clone(),
            trusted_proxies: v.trusted_proxy_hosts.clone(),
            rate_limits: RateLimits {
                enabled: v.rate_limiting_enabled,
                general: v.rate_limit_general,
                admin: v.rate_limit_admin,
                auth: v.rate_limit_auth,
                ws_handshake: v.rate_limit_ws_handshake,
                citizen: v.rate_limit_citizen,
            },
            log_level: v.log_level.to_lowercase(),
            hsts_enabled: v.hsts_enabled,
            location_retention_days: v.location_retention_days,
            ingest_concurrency: v.ingest_concurrency,
            project_name: v.project_name.clone(),
            project_version: v.project_version.clone(),
            redis_namespace: "gad:".into(),
            map_tile_url: map_tile_url(&v.map_tile_url)?,
            dispatch_max_position_age_minutes: v.dispatch_max_position_age_minutes,
            dispatch_ack_timeout_seconds: v.dispatch_ack_timeout_seconds,
            dispatch_max_attempts: v.dispatch_max_attempts,
            backup_max_per_task: v.backup_max_per_task,
            dispatch_specialty_slack_m: v.dispatch_specialty_slack_m,
            emergency_max_per_hour: v.emergency_max_per_hour,
            zona_salida: std::time::Duration::from_secs_f64(v.zona_salida_minutos * 60.0),
            checkin: Checkin {
                intervalo: std::time::Duration::from_secs_f64(v.checkin_minutos * 60.0),
                gracia: std::time::Duration::from_secs_f64(v.checkin_gracia_minutos * 60.0),
            },
            request_timeout_seconds: v.request_timeout_seconds,
            header_read_timeout_seconds: v.header_read_timeout_seconds,
            max_connections: v.max_connections,
            alertmanager_webhook_token: v.alertmanager_webhook_token.clone(),
            retention: Retention {
                audit_days: v.audit_retention_days,
                revoked_token_hours: v.revoked_token_retention_hours,
                ticket_hours: v.ticket_retention_hours,
                telegram_link_code_hours: v.telegram_link_code_retention_hours,
                idempotency_key_hours: v.idempotency_key_retention_hours,
                login_failure_days: v.login_failure_retention_days,
                denunciante_days: v.denunciante_retention_days,
                batch_size: v.retention_batch_size,
            },
            db_app_role,
            gdpr_export_concurrency: v.gdpr_export_concurrency,
            gdpr_export_max_seconds: v.gdpr_export_max_seconds,
            audit_master_secret,
            audit_witness: AuditWitness {
                key: audit_signing_key,
                interval_seconds: v.audit_witness_interval_seconds,
                file: v.audit_witness_file.clone().into(),
            },
            audit_seal_interval: std::time::Duration::from_millis(v.audit_seal_interval_ms),
            totp_required_level: v.totp_required_level,
            adjuntos: Adjuntos {
                max_bytes: v.adjunto_max_mb * 1024 * 1024,
                dir: v.adjuntos_dir.clone().into(),
                s3_url: v.adjuntos_s3_url.clone().filter(|u| !u.trim().is_empty()),
            },
            geocoder: geocoder_config(v)?,
            duty: match v.duty_mode {
                DutyMode::Libre => gad_store::turnos::Duty::Libre,
                DutyMode::Turnos => gad_store::turnos::Duty::Turnos {
                    clock_in: v.duty_requires_clock_in,
                },
            },
            turno_tolerancia_minutos: v.turno_tolerancia_minutos,
            zona_horaria: v.zona_horaria.trim().parse().map_err(|_| {
                format!(
                    "ZONA_HORARIA must be an IANA time zone such as America/Argentina/Buenos_Aires (got '{}')",
                    v.zona_horaria
                )
            })?,
            sla_llegada_minutos: parse_sla(&v.sla_llegada_minutos)?,
            auth_cache: AuthCacheConfig {
                ttl: std::time::Duration::from_secs(v.auth_cache_ttl_seconds),
                max_entries: v.auth_cache_max,
            },
        })
    }

    /// A config for tests and tools: development, given database, optional Redis.
    pub fn for_tests(database_url: &str, redis_url: Option<&str>) -> Config {
        let mut m = HashMap::new();
        m.insert("ENVIRONMENT".to_string(), "development".to_string());
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

/// `std::env::vars` would panic on a value that is not UTF-8: refuse it by name instead.
fn process_env() -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for (k, v) in std::env::vars_os() {
        let Ok(k) = k.into_string() else { continue };
        match v.into_string() {
            Ok(v) => pairs.push((k, v)),
            Err(_) if KNOWN_ENV_VARS.contains(&k.as_str()) => {
                return Err(format!("{k} is not valid UTF-8"));
            }
            Err(_) => {}
        }
    }
    Ok(pairs)
}

fn read<T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<T, String> {
    let set: BTreeMap<String, String> = pairs
        .into_iter()
        .filter(|(k, _)| KNOWN_ENV_VARS.contains(&k.as_str()))
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(k, v)| !v.is_empty() || k == "DB_APP_ROLE")
        .collect();
    // Lossy: "8", "yes", "off"… are read as the number or boolean the field asks for.
    Figment::from(Serialized::defaults(set))
        .extract_lossy()
        .map_err(|e| {
            let var = e.path.join(".");
            match e.kind {
                Kind::Message(m) => format!("{var} {m}"),
                Kind::InvalidType(Actual::Str(v), expected) => {
                    format!("{var} must be {expected} (got '{v}')")
                }
                kind => format!("{var} is not valid: {kind}"),
            }
        })
}

/// `deserialize_with` for a whole number in `MIN..=MAX`.
struct Range<const MIN: i64, const MAX: i64>;

impl<const MIN: i64, const MAX: i64> Range<MIN, MAX> {
    fn de<'de, D: Deserializer<'de>, T: FromStr + Copy>(d: D) -> Result<T, D::Error>
    where
        i64: TryFrom<T>,
    {
        let raw = String::deserialize(d)?;
        raw.parse::<T>()
            .ok()
            .filter(|n| i64::try_from(*n).is_ok_and(|n| (MIN..=MAX).contains(&n)))
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "must be a number between {MIN} and {MAX} (got '{raw}')"
                ))
            })
    }
}

/// `deserialize_with` for a number of minutes in 0.01–1440, fractions allowed.
fn minutes<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let raw = String::deserialize(d)?;
    raw.parse::<f64>()
        .ok()
        .filter(|m| (0.01..=1440.0).contains(m))
        .ok_or_else(|| {
            D::Error::custom(format!(
                "must be a number of minutes between 0.01 and 1440 (got '{raw}')"
            ))
        })
}

fn optional_level<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i16>, D::Error> {
    Range::<1, 3>::de(d).map(Some)
}

fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(split_list(&String::deserialize(d)?))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().trim_end_matches('/').to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    split_list(&String::deserialize(d)?)
        .iter()
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    D::Error::custom(format!(
                        "must be IP addresses or CIDRs separated by commas ('{p}' is neither)"
                    ))
                })
        })
        .collect()
}

fn chat_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    String::deserialize(d)?
        .parse()
        .map(Some)
        .map_err(|_| D::Error::custom("must be a Telegram chat id (an integer)"))
}

/// The field names serde derives for `T`: a deserializer that only records them.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Fields<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Fields<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("only the field names"))
        }
        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Fields(&mut fields));
    fields
}

/// OpenStreetMap's public tiles unless `MAP_TILE_URL` names another server (absolute http(s)
/// or a path on this host) with the `{z}`, `{x}` and `{y}` placeholders.
pub const DEFAULT_MAP_TILE_URL: &str = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png";

/// GEOCODER_URL must be a plain http:// URL: this build's HTTP client has no TLS (a geocoder
/// runs beside GAD on the internal network, or behind a local proxy that speaks TLS outward).
fn geocoder_config(v: &Vars) -> Result<GeocoderConfig, String> {
    let kind = match v.geocoder_kind.to_lowercase().as_str() {
        "nominatim" => GeocoderKind::Nominatim,
        "photon" => GeocoderKind::Photon,
        other => {
            return Err(format!(
                "GEOCODER_KIND must be nominatim or photon (got '{other}')"
            ));
        }
    };
    let url = match v.geocoder_url.as_deref() {
        None => None,
        Some(u)
            if u.starts_with("http://")
                && u.len() > "http://".len()
                && !u.chars().any(|c| c.is_whitespace()) =>
        {
            Some(u.trim_end_matches('/').to_string())
        }
        Some(u) => {
            return Err(format!(
                "GEOCODER_URL must be an http:// URL (no TLS client in this build: use a geocoder on the internal network or a local proxy) (got '{u}')"
            ));
        }
    };
    Ok(GeocoderConfig {
        url,
        kind,
        timeout: std::time::Duration::from_millis(v.geocoder_timeout_ms),
        cache_seconds: v.geocoder_cache_seconds,
    })
}

fn map_tile_url(url: &str) -> Result<String, String> {
    let scheme_ok =
        url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/');
    let placeholders = ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p));
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'));
    if scheme_ok && placeholders && clean {
        Ok(url.to_string())
    } else {
        Err(format!(
            "MAP_TILE_URL must be an http(s) URL or a path with {{z}}, {{x}} and {{y}} (got '{url}')"
        ))
    }
}

/// A secret fit for staging and production: long enough, not a known placeholder, and with at
/// least 128 bits of estimated entropy.
pub fn is_strong(s: &str) -> bool {
    s.chars().count() >= MIN_SECRET_LEN
        && !is_weak(s)
        && estimated_entropy_bits(s) >= MIN_SECRET_BITS
}

/// The one-line refusal of a weak secret, naming its variable.
pub fn too_weak(var: &str) -> String {
    format!(
        "{var} is too weak: outside ENVIRONMENT=development it must be at least {MIN_SECRET_LEN} random characters (128 bits of estimated entropy) and not a placeholder"
    )
}

fn is_weak(s: &str) -> bool {
    let lower = s.to_lowercase();
    PLACEHOLDER_SECRETS.contains(&s)
        || lower.starts_with("replace-with-")
        || ["changeme", "change-me", "secret", "password", "your-secret"]
            .iter()
            .any(|w| lower == *w || lower.starts_with(&format!("{w}-here")))
        || s.chars().collect::<std::collections::HashSet<_>>().len() < 8
}

/// A character class of `estimated_entropy_bits` (with the size of its alphabet beside it).
type CharClass = fn(&char) -> bool;

/// A conservative estimate of the bits of a secret: the lesser of what its length over its
/// alphabet (the character classes it uses) could hold and what its observed character
/// frequencies carry (Shannon), so a long but repetitive string does not pass as random.
pub fn estimated_entropy_bits(s: &str) -> f64 {
    let len = s.chars().count() as f64;
    if len == 0.0 {
        return 0.0;
    }
    let classes: [(CharClass, f64); 4] = [
        (char::is_ascii_lowercase, 26.0),
        (char::is_ascii_uppercase, 26.0),
        (char::is_ascii_digit, 10.0),
        (|c: &char| !c.is_ascii_alphanumeric(), 33.0),
    ];
    let alphabet: f64 = classes
        .iter()
        .filter(|(is, _)| s.chars().any(|c| is(&c)))
        .map(|(_, size)| size)
        .sum();
    let mut counts = std::collections::HashMap::new();
    for c in s.chars() {
        *counts.entry(c).or_insert(0u32) += 1;
    }
    let shannon_per_char: f64 = counts
        .values()
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum();
    (len * alphabet.log2()).min(len * shannon_per_char)
}

fn random_secret() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect()
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

/// `SLA_LLEGADA_MINUTOS`: `1:30,2:20,3:15,4:10,5:8` — every priority 1 to 5 exactly once, each
/// target 1–1440 minutes.
fn parse_sla(raw: &str) -> Result<[i32; 5], String> {
    let bad = |why: &str| {
        format!(
            "SLA_LLEGADA_MINUTOS must list prioridad:minutos for priorities 1 to 5, each once, minutes 1-1440, such as 1:30,2:20,3:15,4:10,5:8 ({why}; got '{raw}')"
        )
    };
    let mut out = [0i32; 5];
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (p, m) = pair
            .split_once(':')
            .ok_or_else(|| bad("a pair without ':'"))?;
        let p: usize = p
            .trim()
            .parse()
            .map_err(|_| bad("a priority that is not a number"))?;
        let m: i32 = m
            .trim()
            .parse()
            .map_err(|_| bad("minutes that are not a number"))?;
        if !(1..=5).contains(&p) {
            return Err(bad("a priority outside 1-5"));
        }
        if !(1..=1440).contains(&m) {
            return Err(bad("minutes outside 1-1440"));
        }
        if out[p - 1] != 0 {
            return Err(bad("a priority given twice"));
        }
        out[p - 1] = m;
    }
    if out.contains(&0) {
        return Err(bad("a priority missing"));
    }
    Ok(out)
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

    /// What each variable accepts: the formats and defaults of docs/OPERATIONS.md, README and
    /// .env.example; a refusal is one line naming the variable.
    #[test]
    fn variables_keep_their_formats_defaults_and_one_line_refusals() {
        let with = |pairs: &[(&str, &str)]| {
            let mut m = env(&[("DATABASE_URL", "postgres://x/y")]);
            m.extend(env(pairs));
            Config::from_map(&m)
        };
        let c = with(&[
            ("PORT", " 9000 "),
            ("HSTS_ENABLED", "YES"),
            ("RATE_LIMITING_ENABLED", "off"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://a.example/, ,https://b.example",
            ),
            ("TRUSTED_PROXY_HOSTS", "10.0.0.0/8, 192.168.1.7"),
            ("ENVIRONMENT", "dev"),
            ("LOG_LEVEL", "DEBUG"),
            ("DB_POOL_SIZE", ""),
            ("DB_APP_ROLE", " "),
        ])
        .unwrap();
        assert_eq!(c.port, 9000);
        assert!(c.hsts_enabled && !c.rate_limits.enabled);
        assert_eq!(
            c.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.is_trusted_proxy("10.1.2.3".parse().unwrap()));
        assert!(c.is_trusted_proxy("192.168.1.7".parse().unwrap()));
        assert!(!c.is_trusted_proxy("127.0.0.1".parse().unwrap()));
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.db_pool_size, 20, "blank is the default");
        assert_eq!(c.db_app_role, None, "blank DB_APP_ROLE: no role switch");

        let d = with(&[]).unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.db_pool_size),
            ("0.0.0.0", 8000, 20)
        );
        assert!(d.rate_limits.enabled && !d.hsts_enabled);
        assert_eq!(d.rate_limits.general, 100);
        assert!(d.is_trusted_proxy("127.0.0.1".parse().unwrap()));
        assert!(d.is_trusted_proxy("::1".parse().unwrap()));
        assert_eq!(d.db_app_role.as_deref(), Some("gad_app"));
        assert_eq!(d.map_tile_url, DEFAULT_MAP_TILE_URL);
        assert_eq!(d.retention.idempotency_key_hours, 24);
        assert_eq!(d.gdpr_export_concurrency, 2);
        assert_eq!(d.gdpr_export_max_seconds, 300);

        for (var, value) in [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("DB_POOL_SIZE", "0"),
            ("IDEMPOTENCY_KEY_RETENTION_HOURS", "23"),
            ("HSTS_ENABLED", "maybe"),
            ("TRUSTED_PROXY_HOSTS", "127.0.0.1/32,proxy"),
            ("ENVIRONMENT", "Production"),
            ("DB_APP_ROLE", "gad-app"),
            ("MAP_TILE_URL", "javascript:alert(1)"),
            ("GDPR_EXPORT_MAX_SECONDS", "0"),
        ] {
            let e = with(&[(var, value)]).err().unwrap_or_default();
            assert!(e.starts_with(var), "{var}={value}: {e}");
            assert_eq!(e.lines().count(), 1, "{var}={value}: {e}");
        }
        let e = with(&[("DB_POOL_SIZE", "5000")]).err().unwrap_or_default();
        assert_eq!(
            e,
            "DB_POOL_SIZE must be a number between 1 and 1000 (got '5000')"
        );
    }

    fn d_seal(c: &Config) -> u128 {
        c.audit_seal_interval.as_millis()
    }

    #[test]
    fn the_audit_witness_is_off_without_a_key_and_a_bad_key_is_refused() {
        let with = |pairs: &[(&str, &str)]| {
            let mut m = env(&[("DATABASE_URL", "postgres://x/y")]);
            m.extend(env(pairs));
            Config::from_map(&m)
        };
        let d = with(&[]).unwrap().audit_witness;
        assert_eq!(d.key, None);
        assert_eq!(d.interval_seconds, 300);
        assert_eq!(d.file, std::path::PathBuf::from("data/audit-witness.jsonl"));
        let key = crate::witness::SigningKey::generate().unwrap();
        let c = with(&[
            ("AUDIT_SIGNING_KEY", &key.encode()),
            ("AUDIT_WITNESS_INTERVAL_SECONDS", "60"),
        ])
        .unwrap();
        assert_eq!(c.audit_witness.key, Some(key));
        assert_eq!(c.audit_witness.interval_seconds, 60);
        assert_eq!(d_seal(&with(&[]).unwrap()), 500);
        assert_eq!(
            d_seal(&with(&[("AUDIT_SEAL_INTERVAL_MS", "200")]).unwrap()),
            200
        );
        for (var, value) in [
            ("AUDIT_SEAL_INTERVAL_MS", "0"),
            ("AUDIT_SEAL_INTERVAL_MS", "1001"),
            ("AUDIT_SIGNING_KEY", "not-a-key"),
            ("AUDIT_WITNESS_INTERVAL_SECONDS", "0"),
        ] {
            let e = with(&[(var, value)]).err().unwrap_or_default();
            assert!(e.starts_with(var), "{var}={value}: {e}");
            assert!(
                !e.contains("not-a-key") || var != "AUDIT_SIGNING_KEY",
                "{e}"
            );
        }
    }

    #[test]
    fn audit_retention_below_365_days_is_refused() {
        let with = |days: &str| {
            Config::from_map(&env(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("AUDIT_RETENTION_DAYS", days),
            ]))
        };
        for days in ["364", "30", "1", "0"] {
            let e = with(days).err().unwrap_or_default();
            assert!(e.starts_with("AUDIT_RETENTION_DAYS"), "{days}: {e}");
            assert!(e.contains("365"), "{days}: {e}");
        }
        assert_eq!(with("365").unwrap().retention.audit_days, 365);
        assert_eq!(with("3650").unwrap().retention.audit_days, 3650);
    }

    #[test]
    fn every_variable_in_env_example_is_one_gad_reads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
        let text = std::fs::read_to_string(path).unwrap();
        let mut n = 0;
        for line in text.lines() {
            let line = line.trim_start_matches(['#', ' ']);
            let Some((name, _)) = line.split_once('=') else {
                continue;
            };
            if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                assert!(KNOWN_ENV_VARS.contains(&name), "{name}");
                n += 1;
            }
        }
        assert!(n >= 40, "{n}");
    }

    #[test]
    fn audit_master_key_defaults_to_the_jwt_secret_and_must_be_strong_outside_development() {
        let jwt = "a-strong-jwt-secret-0123456789-abcdefghijkl";
        let base = [
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://x/y"),
            ("JWT_SECRET_KEY", jwt),
        ];
        assert_eq!(
            Config::from_map(&env(&base)).unwrap().audit_master_secret,
            jwt
        );
        let mut own = base.to_vec();
        own.push((
            "AUDIT_MASTER_KEY",
            "an-audit-master-key-0123456789-abcdefghij",
        ));
        assert_eq!(
            Config::from_map(&env(&own)).unwrap().audit_master_secret,
            "an-audit-master-key-0123456789-abcdefghij"
        );
        let mut weak = base.to_vec();
        weak.push(("AUDIT_MASTER_KEY", "corta"));
        let e = Config::from_map(&env(&weak)).err().unwrap_or_default();
        assert!(e.starts_with("AUDIT_MASTER_KEY"), "{e}");
    }

    #[test]
    fn jwt_secret_placeholder_or_under_128_bits_is_refused_outside_development() {
        let with = |environment: &str, secret: &str| {
            Config::from_map(&env(&[
                ("ENVIRONMENT", environment),
                ("DATABASE_URL", "postgres://x/y"),
                ("JWT_SECRET_KEY", secret),
            ]))
        };
        let example =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example"))
                .unwrap();
        let placeholder = example
            .lines()
            .find_map(|l| l.strip_prefix("JWT_SECRET_KEY="))
            .unwrap();
        for weak in [
            placeholder,
            // 40 characters, but 8 distinct ones repeated: far under 128 bits.
            "abcd-123abcd-123abcd-123abcd-123abcd-123",
            "0123456789abcdef0123456789abcde",
        ] {
            for environment in ["staging", "production"] {
                let e = with(environment, weak).err().unwrap_or_default();
                assert!(e.starts_with("JWT_SECRET_KEY is too weak"), "{weak}: {e}");
            }
            assert!(with("development", weak).is_ok(), "{weak}");
        }
        assert!(with("production", "k3J9xP2mQ7vL5nR8tW1yZ4bC6dF0gH3jK5mN7pQ9").is_ok());
        assert!(estimated_entropy_bits("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") < 1.0);
    }

    #[test]
    fn a_server_without_environment_refuses_to_start() {
        let vars = Vars::from_map(&env(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("JWT_SECRET_KEY", "k3J9xP2mQ7vL5nR8tW1yZ4bC6dF0gH3jK5mN7pQ9"),
        ]))
        .unwrap();
        assert_eq!(
            Config::for_server(&vars).err().as_deref(),
            Some(ENVIRONMENT_REQUIRED)
        );
        let vars = Vars::from_map(&env(&[
            ("ENVIRONMENT", "development"),
            ("DATABASE_URL", "postgres://x/y"),
        ]))
        .unwrap();
        assert!(Config::for_server(&vars).is_ok());
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

    #[test]
    fn geocoder_settings_default_off_and_refuse_what_cannot_work() {
        let base = [("DATABASE_URL", "postgres://x/y")];
        let c = Config::from_map(&env(&base)).unwrap();
        assert_eq!(
            c.geocoder,
            GeocoderConfig {
                url: None,
                kind: GeocoderKind::Nominatim,
                timeout: std::time::Duration::from_millis(2000),
                cache_seconds: 300,
            }
        );
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            Config::from_map(&env(&pairs))
        };
        let c = with(&[
            ("GEOCODER_URL", "http://photon.internal:2322/"),
            ("GEOCODER_KIND", "Photon"),
            ("GEOCODER_TIMEOUT_MS", "500"),
            ("GEOCODER_CACHE_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(
            c.geocoder.url.as_deref(),
            Some("http://photon.internal:2322")
        );
        assert_eq!(c.geocoder.kind, GeocoderKind::Photon);
        assert_eq!(c.geocoder.cache_seconds, 0);
        let e = with(&[("GEOCODER_URL", "https://nominatim.openstreetmap.org")]).unwrap_err();
        assert!(e.starts_with("GEOCODER_URL must be an http:// URL"), "{e}");
        let e = with(&[("GEOCODER_KIND", "google")]).unwrap_err();
        assert!(
            e.starts_with("GEOCODER_KIND must be nominatim or photon"),
            "{e}"
        );
        let e = with(&[("GEOCODER_TIMEOUT_MS", "10")]).unwrap_err();
        assert!(e.contains("GEOCODER_TIMEOUT_MS"), "{e}");
    }

    #[test]
    fn duty_mode_is_libre_by_default_and_turnos_reads_the_clock_in_rule() {
        use gad_store::turnos::Duty;
        let with = |pairs: &[(&str, &str)]| {
            let mut m = env(&[("DATABASE_URL", "postgres://x/y")]);
            m.extend(env(pairs));
            Config::from_map(&m)
        };
        let c = with(&[]).unwrap();
        assert_eq!(c.duty, Duty::Libre);
        assert_eq!(c.turno_tolerancia_minutos, 30);
        let c = with(&[("DUTY_MODE", "turnos")]).unwrap();
        assert_eq!(c.duty, Duty::Turnos { clock_in: true });
        let c = with(&[("DUTY_MODE", "Turnos"), ("DUTY_REQUIRES_CLOCK_IN", "false")]).unwrap();
        assert_eq!(c.duty, Duty::Turnos { clock_in: false });
        let e = with(&[("DUTY_MODE", "siempre")]).unwrap_err();
        assert!(e.contains("DUTY_MODE"), "{e}");
        let e = with(&[("TURNO_TOLERANCIA_MINUTOS", "-1")]).unwrap_err();
        assert!(e.contains("TURNO_TOLERANCIA_MINUTOS"), "{e}");
        assert_eq!(c.zona_horaria, chrono_tz::America::Argentina::Buenos_Aires);
        let c = with(&[("ZONA_HORARIA", "Europe/Madrid")]).unwrap();
        assert_eq!(c.zona_horaria, chrono_tz::Europe::Madrid);
        let e = with(&[("ZONA_HORARIA", "Buenos Aires")]).unwrap_err();
        assert!(e.contains("ZONA_HORARIA"), "{e}");
    }

    #[test]
    fn sla_targets_are_parsed_and_checked() {
        let with = |pairs: &[(&str, &str)]| {
            let mut m = env(&[("DATABASE_URL", "postgres://x/y")]);
            m.extend(env(pairs));
            Config::from_map(&m)
        };
        assert_eq!(with(&[]).unwrap().sla_llegada_minutos, [30, 20, 15, 10, 8]);
        let c = with(&[("SLA_LLEGADA_MINUTOS", "5:4, 4:5,3:6,2:7,1:60")]).unwrap();
        assert_eq!(c.sla_llegada_minutos, [60, 7, 6, 5, 4]);
        for bad in [
            "1:30,2:20,3:15,4:10",
            "1:30,1:20,3:15,4:10,5:8",
            "0:3,1:30,2:20,3:15,4:10,5:8",
            "1:0,2:20,3:15,4:10,5:8",
            "1:30,2:20,3:15,4:10,5:x",
            "1=30",
        ] {
            let e = with(&[("SLA_LLEGADA_MINUTOS", bad)]).unwrap_err();
            assert!(e.contains("SLA_LLEGADA_MINUTOS"), "{bad}: {e}");
        }
    }
}
