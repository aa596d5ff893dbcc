//! Realtime: authenticated WebSocket live updates (contract §13). Placeholder hub until the
//! realtime issue lands: counts nothing and logs events.

use std::sync::Arc;

use axum::Router;

use crate::events::{DomainEvent, EventSink};
use crate::metrics::Metrics;
use crate::redis_conn::RedisHandle;
use crate::state::AppState;

pub struct Hub {
    #[allow(dead_code)]
    metrics: Arc<Metrics>,
    #[allow(dead_code)]
    redis: Arc<RedisHandle>,
    #[allow(dead_code)]
    instance_id: String,
    #[allow(dead_code)]
    env: String,
}

impl Hub {
    pub fn new(
        metrics: Arc<Metrics>,
        redis: Arc<RedisHandle>,
        instance_id: String,
        env: &str,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            metrics,
            redis,
            instance_id,
            env: env.to_string(),
        })
    }

    /// Starts background tasks (heartbeat, Redis fan-out subscriber).
    pub fn start(&self, _state: AppState) {}

    pub fn connections(&self) -> usize {
        0
    }

    /// "redis" when cross-instance fan-out is active, else "local".
    pub fn fanout_mode(&self) -> &'static str {
        "local"
    }
}

impl EventSink for Hub {
    fn deliver(&self, _event: &DomainEvent) {}
}

/// `/ws/connect`, `/ws/stats`, `/ws/_test/broadcast`, `/api/v1/ws/ticket`.
pub fn router() -> Router<AppState> {
    Router::new()
}
