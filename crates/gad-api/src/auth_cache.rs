//! The per-instance cache of authenticated sessions: who a token (`jti`) speaks for, reused for
//! a few seconds (`AUTH_CACHE_TTL_SECONDS`, at most 5) so that an authenticated request does not
//! read its user from the database every time.
//!
//! What makes it safe to reuse:
//! - only sessions that passed every check are kept (a refusal is never cached), and the token
//!   itself (signature, expiry) is still checked on every request;
//! - everything that changes what a session carries or whether it lives (logout, logout
//!   everywhere, password, level, deactivation, deletion, erasure, second factor, officer link)
//!   forgets the user's sessions here and, through the Redis fan-out channel, on every other
//!   instance (`Hub::end_user_sessions`, `Hub::refresh_user_auth`);
//! - a forget is recorded as a time per user, and an entry whose database read *started* before
//!   the latest forget of its user is ignored: a read that raced with the change (and may have
//!   seen the old row) can never outlive it;
//! - when the fan-out channel is down (or its message was lost) the TTL alone bounds how long
//!   another instance's change goes unseen; when the subscription comes back, everything cached
//!   is dropped;
//! - a deployment without Redis has no channel at all: it caches nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use gad_core::Actor;
use gad_service::config::AuthCacheConfig;
use gad_service::metrics::Metrics;
use uuid::Uuid;

/// A session as the database answered it.
#[derive(Debug, Clone, Copy)]
pub struct CachedSession {
    pub actor: Actor,
    pub totp_enrolment_required: bool,
}

#[derive(Debug)]
struct Entry {
    user_id: i64,
    session: CachedSession,
    /// When the database read that produced it started.
    read_at: Instant,
}

/// Forget records are kept this many at most before the expired ones are swept.
const FORGET_SWEEP_AT: usize = 1024;

pub struct AuthCache {
    entries: Option<moka::future::Cache<Uuid, Arc<Entry>>>,
    /// When each user's sessions were last forgotten (kept one TTL: older entries are expired).
    forgotten: DashMap<i64, Instant>,
    /// When the whole cache was last dropped.
    cleared_at: parking_lot::Mutex<Option<Instant>>,
    ttl: Duration,
    metrics: Arc<Metrics>,
}

/// A ticket for one database read: take it before reading, give it back with the result.
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket(Instant);

impl AuthCache {
    /// `channel`: the deployment has the Redis fan-out channel that carries the forgets between
    /// instances. Without one (no `REDIS_URL`), instances could not tell each other, so nothing is
    /// cached and every request reads its session as before.
    pub fn new(config: AuthCacheConfig, channel: bool, metrics: Arc<Metrics>) -> AuthCache {
        let entries = (channel && !config.ttl.is_zero()).then(|| {
            moka::future::Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .build()
        });
        AuthCache {
            entries,
            forgotten: DashMap::new(),
            cleared_at: parking_lot::Mutex::new(None),
            ttl: config.ttl,
            metrics,
        }
    }

    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The cached session of token `jti` of `user_id`, if it is still good; counts the hit or
    /// the miss.
    pub async fn get(&self, jti: Uuid, user_id: i64) -> Option<CachedSession> {
        let found = match &self.entries {
            Some(entries) => entries
                .get(&jti)
                .await
                .filter(|e| self.still_good(e, user_id)),
            None => None,
        };
        let counter = if found.is_some() {
            &self.metrics.auth_cache_hits
        } else {
            &self.metrics.auth_cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(|e| e.session)
    }

    fn still_good(&self, e: &Entry, user_id: i64) -> bool {
        e.user_id == user_id
            && e.read_at.elapsed() < self.ttl
            && self.forgotten.get(&user_id).is_none_or(|t| *t < e.read_at)
            && self.cleared_at.lock().is_none_or(|t| t < e.read_at)
    }

    /// Marks the start of a database read whose result may be kept.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(Instant::now())
    }

    /// Keeps a session that passed every check, read under `ticket`.
    pub async fn put(&self, ticket: ReadTicket, jti: Uuid, user_id: i64, session: CachedSession) {
        if let Some(entries) = &self.entries {
            let e = Entry {
                user_id,
                session,
                read_at: ticket.0,
            };
            if self.still_good(&e, user_id) {
                entries.insert(jti, Arc::new(e)).await;
            }
        }
    }

    /// Forgets every cached session of `user_id` on this instance (the caller tells the others).
    pub fn forget_user(&self, user_id: i64) {
        if self.entries.is_none() {
            return;
        }
        let now = Instant::now();
        self.forgotten.insert(user_id, now);
        if self.forgotten.len() > FORGET_SWEEP_AT {
            let ttl = self.ttl;
            self.forgotten.retain(|_, t| now.duration_since(*t) <= ttl);
        }
    }

    /// Forgets everything (the fan-out subscription came back: messages may have been lost).
    pub fn forget_all(&self) {
        if let Some(entries) = &self.entries {
            *self.cleared_at.lock() = Some(Instant::now());
            entries.invalidate_all();
        }
    }
}
