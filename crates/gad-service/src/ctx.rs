//! What every use case runs with: the database, Redis, the cache, metrics, the event bus, the
//! hashing threads and the location writer. Cheap to clone (one Arc). The HTTP adapter wraps it
//! with what only HTTP needs (the WebSocket hub, the gateway's limiter).

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use gad_store::Pool;

use crate::cache::Cache;
use crate::config::Config;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::redis_conn::RedisHandle;

pub struct Inner {
    pub config: Config,
    pub db: Pool,
    pub redis: Arc<RedisHandle>,
    pub metrics: Arc<Metrics>,
    pub cache: Cache,
    pub events: EventBus,
    /// Low-priority threads for password hashing, so a login storm cannot starve requests.
    pub hasher: crate::hashing::HashPool,
    pub started_at: Instant,
    /// Identifies this process in cross-instance messages (own echoes are dropped).
    pub instance_id: String,
    /// Concurrency slots of data-subject exports.
    pub gdpr_exports: Arc<tokio::sync::Semaphore>,
    /// The group-commit writer every location fix goes through.
    pub ingest: crate::ingest::Ingest,
    /// Wraps each person's key of the personal values inside audit rows (`crate::audit`).
    pub personal: crate::personal_keys::MasterKey,
    /// Signs and checks every message between processes on the Redis fan-out channel.
    pub fanout: crate::events::FanoutKey,
    /// Where the tasks' evidence files are stored.
    pub adjuntos: crate::almacen::Almacen,
    /// The address search's external geocoder (`GEOCODER_URL`); None: only the gazetteer.
    pub geocoder: Option<crate::geocoder::Geocoder>,
    /// The officers whose position the zone watch checks (`crate::zona_vigilancia`).
    pub vigilados: crate::zona_vigilancia::Vigilados,
}

#[derive(Clone)]
pub struct Ctx(pub Arc<Inner>);

impl Deref for Ctx {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Ctx {
    /// Builds the context: handles to the database, Redis (monitor started), cache, metrics, the
    /// event bus (no sink yet: adapters register theirs) and the hashing threads. The periodic
    /// jobs are started by the composition root, so no subsystem reaches another through it.
    pub fn new(config: Config, db: Pool) -> Ctx {
        let metrics = Arc::new(Metrics::new(config.environment.as_str()));
        let redis = RedisHandle::new(config.redis_url.clone(), Arc::clone(&metrics));
        redis.spawn_monitor();
        let instance_id = uuid::Uuid::new_v4().to_string();
        let personal = crate::personal_keys::MasterKey::derive(&config.audit_master_secret);
        let fanout = crate::events::FanoutKey::derive(&config.jwt_secret);
        let adjuntos = crate::almacen::Almacen::open(&config.adjuntos);
        let geocoder =
            crate::geocoder::Geocoder::from_config(&config.geocoder, &config.project_version);
        Ctx(Arc::new(Inner {
            cache: Cache::new(
                Arc::clone(&redis),
                Arc::clone(&metrics),
                &config.redis_namespace,
            ),
            events: EventBus::default(),
            hasher: crate::hashing::HashPool::new(hashing_threads(), 1024),
            started_at: Instant::now(),
            gdpr_exports: Arc::new(tokio::sync::Semaphore::new(config.gdpr_export_concurrency)),
            // The writer never holds more than half the pool: requests need connections too.
            ingest: crate::ingest::Ingest::start(
                db.clone(),
                config
                    .ingest_concurrency
                    .min((config.db_pool_size as usize / 2).max(1)),
            ),
            config,
            db,
            redis,
            metrics,
            instance_id,
            personal,
            fanout,
            adjuntos,
            geocoder,
            vigilados: Default::default(),
        }))
    }
}

/// One hashing thread per core: they run at the lowest priority, so they only take CPU the
/// request path does not need.
fn hashing_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}
