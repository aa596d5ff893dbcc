//! Application state shared by every handler. Cheap to clone (one Arc).

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use sqlx::PgPool;

use crate::cache::Cache;
use crate::config::Config;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::realtime::Hub;
use crate::redis_conn::RedisHandle;

pub struct Inner {
    pub config: Config,
    pub db: PgPool,
    pub redis: Arc<RedisHandle>,
    pub metrics: Arc<Metrics>,
    pub cache: Cache,
    pub events: EventBus,
    pub hub: Arc<Hub>,
    /// Low-priority threads for password hashing, so a login storm cannot starve requests.
    pub hasher: crate::hashing::HashPool,
    pub started_at: Instant,
    /// Identifies this process in cross-instance messages (own echoes are dropped).
    pub instance_id: String,
    pub ratelimit: crate::ratelimit_state::LimiterState,
    /// Concurrency slots of data-subject exports (issue 18).
    pub gdpr_exports: Arc<tokio::sync::Semaphore>,
    /// The group-commit writer every location fix goes through (issue 20).
    pub ingest: crate::ingest::Ingest,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state: handles to the database, Redis, cache, metrics, the realtime hub (started:
    /// Redis monitor, fan-out) and the hashing threads. The periodic jobs that act on the state are
    /// started by `app::start`, so no subsystem reaches another through the state.
    pub fn new(config: Config, db: PgPool) -> AppState {
        let metrics = Arc::new(Metrics::new(config.environment.as_str()));
        let redis = RedisHandle::new(config.redis_url.clone(), Arc::clone(&metrics));
        redis.spawn_monitor();
        let instance_id = uuid::Uuid::new_v4().to_string();
        let hub = Hub::new(
            Arc::clone(&metrics),
            Arc::clone(&redis),
            instance_id.clone(),
            config.environment.as_str(),
        );
        let state = AppState(Arc::new(Inner {
            cache: Cache::new(
                Arc::clone(&redis),
                Arc::clone(&metrics),
                &config.redis_namespace,
            ),
            events: EventBus::default(),
            hasher: crate::hashing::HashPool::new(hashing_threads(), 1024),
            started_at: Instant::now(),
            ratelimit: crate::ratelimit_state::LimiterState::new(&config),
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
            hub: Arc::clone(&hub),
            instance_id,
        }));
        state.events.register(hub.clone());
        hub.start(state.db.clone(), &state.config.redis_namespace);
        state
    }
}

/// One hashing thread per core: they run at the lowest priority, so they only take CPU the
/// request path does not need.
fn hashing_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}
