//! The HTTP adapter's state: the use-case context plus what only HTTP needs (the WebSocket hub,
//! the gateway's limiter). Cheap to clone (one Arc); derefs to the context, so `state.db`,
//! `state.config`… read as before.

use std::ops::Deref;
use std::sync::Arc;

use gad_service::config::Config;
use gad_service::{Ctx, Pool};

use crate::auth_cache::AuthCache;
use crate::realtime::Hub;

pub struct Inner {
    pub ctx: Ctx,
    pub hub: Arc<Hub>,
    pub ratelimit: crate::ratelimit_state::LimiterState,
    /// Authenticated sessions reused for a few seconds (shared with the hub, which forgets them
    /// when another instance says so).
    pub auth_cache: Arc<AuthCache>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Deref for Inner {
    type Target = gad_service::ctx::Inner;
    fn deref(&self) -> &gad_service::ctx::Inner {
        &self.ctx
    }
}

impl AppState {
    /// Builds the context, then the realtime hub (registered as the event bus's sink and
    /// started: Redis fan-out) and the gateway's limiter.
    pub fn new(config: Config, db: Pool) -> AppState {
        let ctx = Ctx::new(config, db);
        let auth_cache = Arc::new(AuthCache::new(
            ctx.config.auth_cache,
            ctx.redis.configured(),
            Arc::clone(&ctx.metrics),
        ));
        let hub = Hub::new(
            Arc::clone(&ctx.metrics),
            Arc::clone(&ctx.redis),
            ctx.instance_id.clone(),
            ctx.config.environment.as_str(),
            ctx.fanout.clone(),
            Arc::clone(&auth_cache),
        );
        ctx.events.register(hub.clone());
        hub.start(ctx.db.clone(), &ctx.config.redis_namespace);
        let ratelimit = crate::ratelimit_state::LimiterState::new(&ctx.config);
        AppState(Arc::new(Inner {
            ctx,
            hub,
            ratelimit,
            auth_cache,
        }))
    }
}
