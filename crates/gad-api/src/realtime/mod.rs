//! Realtime: authenticated WebSocket live updates (contract §13).
//!
//! One `Hub` per process keeps a registry of local sockets. A domain event is serialised once
//! into the contract's envelope (one `message_id` per event), delivered to every matching local
//! socket at once, and published on the Redis channel `{namespace}ws` with this instance's id.
//! Other instances deliver it to their own sockets; an instance drops its own echoes, so every
//! socket receives each event exactly once. Without Redis (or while it is down) delivery is local.
//!
//! Each socket is one task with a small bounded queue; a full queue closes that socket (1013)
//! and never blocks the publisher.
//!
//! Location events are coalesced: per officer at most one
//! `efectivo_location_update` per [`COALESCE_INTERVAL`] leaves the hub towards local sockets
//! (the first at once, the newest of the ones that follow when the interval is up; older
//! intermediate ones are dropped), whether the event was produced here or came from another
//! instance. Every socket therefore receives at most one event per officer per second. A
//! socket may also subscribe to a bounding box (`subscribe {"bbox":[w,s,e,n]}` or
//! `/ws/connect?bbox=w,s,e,n`): it then receives location events only of officers inside it.

pub mod asyncapi;
mod data;
mod routes;
mod socket;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, mpsc};

use gad_core::positions::BBox;

use crate::auth_cache::AuthCache;
use gad_service::events::{
    AUTH_ENVELOPE_VERSION, Audience, DomainEvent, ENVELOPE_VERSION, Envelope, Event, EventSink,
    EventType, FanoutKey, Frame, Ping,
};
use gad_service::metrics::Metrics;
use gad_service::realtime::{Overview, Pool};
use gad_service::redis_conn::RedisHandle;

pub use routes::{api_router, router};

/// Per-socket send queue capacity; overflow closes the socket with 1013. Four pipelined
/// fan-out batches deep, so a burst arriving from another instance is not mistaken for a
/// slow consumer (the queue holds shared frames: its memory is pointers, not copies).
pub const SEND_QUEUE: usize = 1024;
/// Default server heartbeat interval (contract: 30 s).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Bound of the queue feeding the Redis publisher task.
const PUBLISH_QUEUE: usize = 10_000;
/// Most topics one socket may subscribe to.
pub const MAX_TOPICS: usize = 100;
/// A socket may ask for `dashboard_update` at most once per this interval, and answers come
/// from a per-instance cache no older than it.
pub const DASHBOARD_INTERVAL: Duration = Duration::from_secs(1);
/// At most one location event per officer per this interval reaches the sockets.
pub const COALESCE_INTERVAL: Duration = Duration::from_secs(1);
/// Added to `COALESCE_INTERVAL` when deciding whether an officer's next event may go out, so
/// that scheduling jitter between the hub and a socket cannot show a client two events of one
/// officer less than a second apart (measured: without it, gaps of 980–999 ms were seen).
const COALESCE_MARGIN: Duration = Duration::from_millis(30);
/// How often held-back location events are checked for release.
const COALESCE_TICK: Duration = Duration::from_millis(50);

/// Event types always delivered, whatever the subscription.
const ALWAYS: [EventType; 4] = [
    EventType::Alert,
    EventType::Error,
    EventType::Ping,
    EventType::ConnectionAck,
];

fn bit(t: EventType) -> u32 {
    let i = EventType::ALL.iter().position(|e| *e == t).unwrap_or(0);
    1u32 << i
}

const ALL_EVENTS: u32 = u32::MAX;

/// One frame queued for a socket: the shared text and when its event was published.
pub(crate) struct Out {
    pub text: Utf8Bytes,
    pub published: Option<Instant>,
}

/// The hub's view of one local socket. Kept small: many thousands exist at once.
pub(crate) struct Conn {
    pub user_id: Option<i64>,
    pub nivel: u8,
    tx: mpsc::Sender<Out>,
    /// Milliseconds since the hub started when the client last sent a frame.
    last_seen: AtomicU64,
    /// Close code requested by the hub (0 = open).
    close_code: AtomicU16,
    kill: Notify,
    /// Subscribed event types (bit per `EventType::ALL` index).
    events: AtomicU32,
    /// Milliseconds since the hub started of the last `dashboard_update` answered (0 = never).
    last_dashboard: AtomicU64,
    /// Subscribed topics (`None` = every topic). Boxed: one pointer per idle socket.
    #[allow(clippy::box_collection)]
    topics: Mutex<Option<Box<HashSet<String>>>>,
    /// Only location events inside this box (None = anywhere).
    bbox: Mutex<Option<BBox>>,
}

impl Conn {
    fn accepts(
        &self,
        audience: &Audience,
        event_type: EventType,
        topics: &[String],
        pos: Option<(f64, f64)>,
    ) -> bool {
        let supervisor = self.nivel >= 2;
        let audience_ok = match audience {
            Audience::Everyone => true,
            Audience::Supervisors => supervisor,
            Audience::Efectivos => self.nivel == 1,
            Audience::Unidad { user_ids, .. } | Audience::Involved { user_ids } => {
                supervisor || self.user_id.is_some_and(|u| user_ids.contains(&u))
            }
            Audience::Jurisdiccion { user_ids, excepto } => {
                self.user_id.is_some_and(|u| user_ids.contains(&u))
                    || (supervisor && !self.user_id.is_some_and(|u| excepto.contains(&u)))
            }
        };
        if !audience_ok {
            return false;
        }
        if ALWAYS.contains(&event_type) {
            return true;
        }
        if self.events.load(Ordering::Relaxed) & bit(event_type) == 0 {
            return false;
        }
        let topic_ok = match self.topics.lock().as_deref() {
            None => true,
            Some(set) => topics.iter().any(|t| set.contains(t)),
        };
        topic_ok
            && match (pos, *self.bbox.lock()) {
                (Some((lat, lng)), Some(b)) => b.contains(lat, lng),
                _ => true,
            }
    }

    /// Sets (Some) or clears (None) the socket's bounding box.
    pub(crate) fn set_bbox(&self, b: Option<BBox>) {
        *self.bbox.lock() = b;
    }

    pub(crate) fn bbox(&self) -> Option<BBox> {
        *self.bbox.lock()
    }

    /// Asks the socket task to close with `code`.
    pub(crate) fn close(&self, code: u16) {
        if self
            .close_code
            .compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.kill.notify_one();
        }
    }

    pub(crate) fn close_code(&self) -> u16 {
        self.close_code.load(Ordering::Relaxed)
    }

    /// Subscribes to event types (added to the current set) and topics; returns how many event
    /// types the request named, or `Err(())` when the topics would exceed `MAX_TOPICS` (then
    /// nothing changes).
    pub(crate) fn subscribe(
        &self,
        events: &[EventType],
        topics: Option<Vec<String>>,
    ) -> Result<usize, ()> {
        if let Some(t) = topics.as_ref() {
            let current = self.topics.lock();
            let have = current.as_deref();
            let added = t
                .iter()
                .filter(|x| have.is_none_or(|set| !set.contains(*x)))
                .collect::<HashSet<_>>()
                .len();
            if have.map_or(0, HashSet::len) + added > MAX_TOPICS {
                return Err(());
            }
        }
        if !events.is_empty() {
            let mask = events.iter().fold(0u32, |m, e| m | bit(*e));
            let cur = self.events.load(Ordering::Relaxed);
            // The first explicit subscription narrows "everything" to the named types.
            let base = if cur == ALL_EVENTS { 0 } else { cur };
            self.events.store(base | mask, Ordering::Relaxed);
        }
        if let Some(t) = topics.filter(|t| !t.is_empty()) {
            let mut g = self.topics.lock();
            match g.as_mut() {
                Some(set) => set.extend(t),
                None => *g = Some(Box::new(t.into_iter().collect())),
            }
        }
        Ok(events.len())
    }

    pub(crate) fn unsubscribe(&self, events: &[EventType], topics: &[String]) {
        let mask = events.iter().fold(0u32, |m, e| m | bit(*e));
        self.events.fetch_and(!mask, Ordering::Relaxed);
        if !topics.is_empty()
            && let Some(set) = self.topics.lock().as_mut()
        {
            for t in topics {
                set.remove(t);
            }
        }
    }
}

/// A location event held by the coalescer, ready to go out.
struct Held {
    event_type: EventType,
    audience: Audience,
    topics: Vec<String>,
    text: Utf8Bytes,
    pos: Option<(f64, f64)>,
    published: Instant,
    /// The fan-out message still to send to the other instances (events produced here).
    remote: Option<String>,
}

/// Per officer: when its last location event went out, and the newest one held back since.
#[derive(Default)]
struct Coalesce {
    last_ms: HashMap<i64, u64>,
    held: HashMap<i64, Held>,
}

pub struct Hub {
    metrics: Arc<Metrics>,
    /// Signs what this instance publishes and checks what it reads on the fan-out channel.
    fanout: FanoutKey,
    redis: Arc<RedisHandle>,
    instance_id: String,
    env: String,
    started: Instant,
    conns: RwLock<HashMap<u64, Arc<Conn>>>,
    users: Mutex<HashMap<i64, u32>>,
    next_id: AtomicU64,
    fanout_up: AtomicBool,
    heartbeat_ms: AtomicU64,
    heartbeat_changed: Notify,
    heartbeat_running: AtomicBool,
    last_broadcast_ms: AtomicI64,
    channel: OnceLock<String>,
    publish_tx: OnceLock<mpsc::Sender<String>>,
    /// The database, for housekeeping (expired tickets); set by `start`.
    db: OnceLock<Pool>,
    /// The overview last computed for `dashboard_update`, shared by every socket of this
    /// instance (at most `DASHBOARD_INTERVAL` old).
    dashboard: tokio::sync::Mutex<Option<(Instant, Overview)>>,
    coalesce: Mutex<Coalesce>,
    /// The instance's session cache: a session ended or changed elsewhere is forgotten here.
    auth_cache: Arc<AuthCache>,
}

impl Hub {
    pub fn new(
        metrics: Arc<Metrics>,
        redis: Arc<RedisHandle>,
        instance_id: String,
        env: &str,
        fanout: FanoutKey,
        auth_cache: Arc<AuthCache>,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            auth_cache,
            metrics,
            fanout,
            redis,
            instance_id,
            env: env.to_string(),
            started: Instant::now(),
            conns: RwLock::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            fanout_up: AtomicBool::new(false),
            heartbeat_ms: AtomicU64::new(HEARTBEAT_INTERVAL.as_millis() as u64),
            heartbeat_changed: Notify::new(),
            heartbeat_running: AtomicBool::new(false),
            last_broadcast_ms: AtomicI64::new(0),
            channel: OnceLock::new(),
            publish_tx: OnceLock::new(),
            db: OnceLock::new(),
            dashboard: tokio::sync::Mutex::new(None),
            coalesce: Mutex::new(Coalesce::default()),
        })
    }

    /// Starts background tasks (heartbeat, Redis fan-out publisher and subscriber).
    pub fn start(self: &Arc<Self>, db: Pool, redis_namespace: &str) {
        let _ = self.db.set(db);
        let channel = format!("{redis_namespace}ws");
        let _ = self.channel.set(channel.clone());
        if !self.heartbeat_running.swap(true, Ordering::SeqCst) {
            tokio::spawn(heartbeat_loop(Arc::clone(self)));
            tokio::spawn(coalesce_loop(Arc::downgrade(self)));
        }
        if let Some(url) = self.redis.url().map(str::to_string) {
            let (tx, rx) = mpsc::channel::<String>(PUBLISH_QUEUE);
            if self.publish_tx.set(tx).is_ok() {
                tokio::spawn(publisher_loop(Arc::clone(self), channel.clone(), rx));
                tokio::spawn(subscriber_loop(Arc::clone(self), url, channel));
            }
        }
    }

    pub fn connections(&self) -> usize {
        self.conns.read().len()
    }

    /// "redis" when cross-instance fan-out is active, else "local".
    pub fn fanout_mode(&self) -> &'static str {
        if self.fanout_up.load(Ordering::Relaxed) && self.redis.is_up() {
            "redis"
        } else {
            "local"
        }
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    pub fn env(&self) -> &str {
        &self.env
    }

    /// Server heartbeat interval (tests shorten it).
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.load(Ordering::Relaxed).max(1))
    }

    /// True once the heartbeat task runs.
    pub fn heartbeat_running(&self) -> bool {
        self.heartbeat_running.load(Ordering::Relaxed)
    }

    pub fn set_heartbeat_interval(&self, d: Duration) {
        self.heartbeat_ms
            .store((d.as_millis() as u64).max(10), Ordering::Relaxed);
        self.heartbeat_changed.notify_one();
    }

    /// Time of the last event fanned out to local sockets (RFC 3339), if any.
    pub fn last_broadcast_at(&self) -> Option<String> {
        let ms = self.last_broadcast_ms.load(Ordering::Relaxed);
        (ms > 0)
            .then(|| chrono::DateTime::from_timestamp_millis(ms))
            .flatten()
            .map(gad_core::time::rfc3339)
    }

    /// Connections by level and distinct users.
    pub fn breakdown(&self) -> ([usize; 3], usize) {
        let mut by = [0usize; 3];
        for c in self.conns.read().values() {
            let i = (c.nivel.clamp(1, 3) - 1) as usize;
            by[i] += 1;
        }
        (by, self.users.lock().len())
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub(crate) fn touch(&self, c: &Conn) {
        c.last_seen.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Registers a socket; returns its id, shared state and queue receiver.
    pub(crate) fn register(
        &self,
        user_id: Option<i64>,
        nivel: u8,
    ) -> (u64, Arc<Conn>, mpsc::Receiver<Out>) {
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        let conn = Arc::new(Conn {
            user_id,
            nivel,
            tx,
            last_seen: AtomicU64::new(self.now_ms()),
            close_code: AtomicU16::new(0),
            kill: Notify::new(),
            events: AtomicU32::new(ALL_EVENTS),
            last_dashboard: AtomicU64::new(0),
            topics: Mutex::new(None),
            bbox: Mutex::new(None),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.conns.write().insert(id, Arc::clone(&conn));
        if let Some(u) = user_id {
            let mut users = self.users.lock();
            *users.entry(u).or_insert(0) += 1;
            self.metrics
                .ws_users_active
                .store(users.len() as i64, Ordering::Relaxed);
        }
        let m = &self.metrics;
        m.ws_connections_active.fetch_add(1, Ordering::Relaxed);
        m.ws_connections_total.fetch_add(1, Ordering::Relaxed);
        m.ws_role_connections[(nivel.clamp(1, 3) - 1) as usize].fetch_add(1, Ordering::Relaxed);
        (id, conn, rx)
    }

    pub(crate) fn unregister(&self, id: u64) {
        let Some(conn) = self.conns.write().remove(&id) else {
            return;
        };
        if let Some(u) = conn.user_id {
            let mut users = self.users.lock();
            if let Some(n) = users.get_mut(&u) {
                *n -= 1;
                if *n == 0 {
                    users.remove(&u);
                }
            }
            self.metrics
                .ws_users_active
                .store(users.len() as i64, Ordering::Relaxed);
        }
        let m = &self.metrics;
        m.ws_connections_active.fetch_sub(1, Ordering::Relaxed);
        m.ws_role_connections[(conn.nivel.clamp(1, 3) - 1) as usize]
            .fetch_sub(1, Ordering::Relaxed);
    }

    /// Queues a frame for one socket without waiting; a full queue closes the socket (1013).
    fn push(&self, c: &Conn, text: &Utf8Bytes, published: Option<Instant>) -> bool {
        match c.tx.try_send(Out {
            text: text.clone(),
            published,
        }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if c.close_code() == 0 {
                    self.metrics.ws_send_errors.fetch_add(1, Ordering::Relaxed);
                }
                c.close(1013);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Delivers one serialised envelope to every matching local socket; returns how many.
    fn deliver_local(
        &self,
        event_type: EventType,
        audience: &Audience,
        topics: &[String],
        text: &Utf8Bytes,
        published: Instant,
        pos: Option<(f64, f64)>,
    ) -> usize {
        let mut n = 0;
        {
            let conns = self.conns.read();
            for c in conns.values() {
                if c.accepts(audience, event_type, topics, pos)
                    && self.push(c, text, Some(published))
                {
                    n += 1;
                }
            }
        }
        self.metrics.ws_broadcasts.fetch_add(1, Ordering::Relaxed);
        self.last_broadcast_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
        n
    }

    /// Publishes an event: local sockets now, other instances through Redis. Returns the number
    /// of local sockets it was queued for.
    pub fn broadcast(&self, event: &DomainEvent) -> usize {
        let published = Instant::now();
        let event_type = event.event.event_type();
        let target_user = match &event.audience {
            Audience::Involved { user_ids } if user_ids.len() == 1 => Some(user_ids[0]),
            _ => None,
        };
        let target_role = match &event.audience {
            Audience::Everyone | Audience::Involved { .. } | Audience::Jurisdiccion { .. } => None,
            Audience::Supervisors => Some("supervisor".to_string()),
            Audience::Efectivos => Some("efectivo".to_string()),
            Audience::Unidad { name, .. } => Some(format!("unidad:{name}")),
        };
        let text = envelope(
            &event.event,
            target_user,
            target_role,
            event.topics.first().map(String::as_str),
        );
        let remote = self.publish_tx.get().and_then(|_| {
            self.fanout.seal(&Envelope {
                v: ENVELOPE_VERSION,
                o: self.instance_id.clone(),
                e: event_type,
                a: event.audience.clone(),
                t: event.topics.clone(),
                ts: Utc::now().timestamp_micros(),
                p: text.as_str().to_string(),
                end_user: None,
                auth_user: None,
                g: event.event.position(),
            })
        });
        let held = Held {
            event_type,
            audience: event.audience.clone(),
            topics: event.topics.clone(),
            text,
            pos: event.event.position(),
            published,
            remote,
        };
        match location_officer(event_type, &event.topics) {
            Some(officer) => self.coalesce(officer, held),
            None => self.emit(held),
        }
    }

    /// Sends one event: to matching local sockets, and to the other instances when it was
    /// produced here. Returns the number of local sockets it was queued for.
    fn emit(&self, h: Held) -> usize {
        let n = self.deliver_local(
            h.event_type,
            &h.audience,
            &h.topics,
            &h.text,
            h.published,
            h.pos,
        );
        if let (Some(s), Some(tx)) = (h.remote, self.publish_tx.get())
            && tx.try_send(s).is_err()
        {
            tracing::warn!("realtime: redis publish queue full; event delivered locally only");
        }
        n
    }

    /// A location event of `officer`: out now if none went out in the last
    /// `COALESCE_INTERVAL`, else held (replacing an older held one) until the interval is up.
    fn coalesce(&self, officer: i64, h: Held) -> usize {
        let now = self.now_ms();
        let interval = (COALESCE_INTERVAL + COALESCE_MARGIN).as_millis() as u64;
        let mut c = self.coalesce.lock();
        let recent = c
            .last_ms
            .get(&officer)
            .is_some_and(|&t| now.saturating_sub(t) < interval);
        if recent {
            let newer_is_foreign = h.remote.is_none();
            let displaced = c.held.insert(officer, h);
            drop(c);
            // An event produced here, displaced by one from another instance before it went
            // out, still goes to the other instances (they coalesce on their side).
            if newer_is_foreign
                && let Some(s) = displaced.and_then(|d| d.remote)
                && let Some(tx) = self.publish_tx.get()
            {
                let _ = tx.try_send(s);
            }
            return 0;
        }
        c.last_ms.insert(officer, now);
        c.held.remove(&officer);
        drop(c);
        self.emit(h)
    }

    /// Sends the held location events whose interval is up; forgets, now and then, officers
    /// that have been quiet for a whole interval.
    fn release_due(&self, prune: bool) -> usize {
        let now = self.now_ms();
        let interval = (COALESCE_INTERVAL + COALESCE_MARGIN).as_millis() as u64;
        let due: Vec<Held> = {
            let mut guard = self.coalesce.lock();
            let Coalesce { last_ms, held } = &mut *guard;
            let ids: Vec<i64> = held
                .keys()
                .filter(|id| {
                    last_ms
                        .get(id)
                        .is_none_or(|&t| now.saturating_sub(t) >= interval)
                })
                .copied()
                .collect();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(h) = held.remove(&id) {
                    last_ms.insert(id, now);
                    out.push(h);
                }
            }
            if prune {
                last_ms.retain(|id, t| now.saturating_sub(*t) < interval || held.contains_key(id));
            }
            out
        };
        let n = due.len();
        for h in due {
            self.emit(h);
        }
        n
    }

    /// Handles one message from the Redis channel.
    fn on_remote(&self, payload: &[u8]) {
        let r = match self.fanout.open(payload) {
            Ok(r) => r,
            Err(why) => {
                self.metrics.fanout_dropped.inc(why.as_str());
                tracing::warn!(reason = why.as_str(), "realtime: fan-out message dropped");
                return;
            }
        };
        if r.o == self.instance_id {
            return; // own echo: already delivered locally
        }
        if let Some(user_id) = r.end_user {
            self.auth_cache.forget_user(user_id);
            self.close_user_local(user_id);
            return;
        }
        if let Some(user_id) = r.auth_user {
            self.auth_cache.forget_user(user_id);
            return;
        }
        let age_us = (Utc::now().timestamp_micros() - r.ts).max(0) as u64;
        let published = Instant::now()
            .checked_sub(Duration::from_micros(age_us))
            .unwrap_or_else(Instant::now);
        let held = Held {
            event_type: r.e,
            audience: r.a,
            text: Utf8Bytes::from(r.p),
            pos: r.g,
            published,
            remote: None,
            topics: r.t,
        };
        match location_officer(held.event_type, &held.topics) {
            Some(officer) => self.coalesce(officer, held),
            None => self.emit(held),
        };
    }

    /// Ends a user's live sessions everywhere: closes (1008 "Session ended") every socket of
    /// `user_id` on this instance now and on the others through the fan-out channel. Called
    /// after logout, password change, deactivation, deletion and level change.
    pub fn end_user_sessions(&self, user_id: i64) -> usize {
        self.auth_cache.forget_user(user_id);
        let n = self.close_user_local(user_id);
        if let Some(tx) = self.publish_tx.get() {
            let remote = Envelope {
                v: ENVELOPE_VERSION,
                o: self.instance_id.clone(),
                e: EventType::Notification,
                a: Audience::Involved {
                    user_ids: vec![user_id],
                },
                t: Vec::new(),
                ts: Utc::now().timestamp_micros(),
                p: String::new(),
                end_user: Some(user_id),
                auth_user: None,
                g: None,
            };
            if let Some(s) = self.fanout.seal(&remote)
                && tx.try_send(s).is_err()
            {
                tracing::warn!(
                    user_id,
                    "realtime: publish queue full; sessions ended locally only"
                );
            }
        }
        n
    }

    /// Makes every instance read `user_id`'s sessions afresh on their next request (what they
    /// carry changed: second factor, officer link…) without ending them: forgets them in this
    /// instance's session cache now and in the others' through the fan-out channel.
    pub fn refresh_user_auth(&self, user_id: i64) {
        self.auth_cache.forget_user(user_id);
        if let Some(tx) = self.publish_tx.get() {
            let remote = Envelope {
                v: AUTH_ENVELOPE_VERSION,
                o: self.instance_id.clone(),
                e: EventType::Notification,
                a: Audience::Involved {
                    user_ids: vec![user_id],
                },
                t: Vec::new(),
                ts: Utc::now().timestamp_micros(),
                p: String::new(),
                end_user: None,
                auth_user: Some(user_id),
                g: None,
            };
            if let Some(s) = self.fanout.seal(&remote)
                && tx.try_send(s).is_err()
            {
                tracing::warn!(
                    user_id,
                    "realtime: publish queue full; cached authentication forgotten locally only"
                );
            }
        }
    }

    fn close_user_local(&self, user_id: i64) -> usize {
        let conns = self.conns.read();
        let mut n = 0;
        for c in conns.values().filter(|c| c.user_id == Some(user_id)) {
            c.close(1008);
            n += 1;
        }
        if n > 0 {
            tracing::info!(
                user_id,
                sockets = n,
                "realtime: closing sockets of an ended session"
            );
        }
        n
    }

    /// True when this socket may have a `dashboard_update` now (at most one per
    /// `DASHBOARD_INTERVAL`); records the time when it may.
    pub(crate) fn dashboard_allowed(&self, c: &Conn) -> bool {
        let now = self.now_ms().max(1);
        let last = c.last_dashboard.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < DASHBOARD_INTERVAL.as_millis() as u64 {
            return false;
        }
        c.last_dashboard
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// The stats overview (the same function as `GET /api/v1/stats/overview`), computed at most
    /// once per `DASHBOARD_INTERVAL` per instance however many sockets ask.
    pub(crate) async fn dashboard(&self, db: &Pool) -> gad_service::ServiceResult<Overview> {
        let mut cached = self.dashboard.lock().await;
        if let Some((at, v)) = cached.as_ref()
            && at.elapsed() < DASHBOARD_INTERVAL
        {
            return Ok(v.clone());
        }
        let v = gad_service::realtime::overview(db).await?;
        *cached = Some((Instant::now(), v.clone()));
        Ok(v)
    }
}

impl EventSink for Hub {
    fn deliver(&self, event: &DomainEvent) {
        self.broadcast(event);
    }
}

/// The officer of a location event (from its `efectivo:<id>` topic), None for other events.
fn location_officer(event_type: EventType, topics: &[String]) -> Option<i64> {
    if event_type != EventType::EfectivoLocationUpdate {
        return None;
    }
    topics
        .iter()
        .find_map(|t| t.strip_prefix("efectivo:").and_then(|id| id.parse().ok()))
}

/// Releases held location events every `COALESCE_TICK` while the hub lives.
async fn coalesce_loop(hub: std::sync::Weak<Hub>) {
    let mut tick = 0u64;
    loop {
        tokio::time::sleep(COALESCE_TICK).await;
        let Some(hub) = hub.upgrade() else { break };
        tick += 1;
        hub.release_due(tick.is_multiple_of(20));
    }
}

/// The contract's frame, serialised (one fresh `message_id`).
pub(crate) fn envelope(
    event: &Event,
    target_user_id: Option<i64>,
    target_role: Option<String>,
    topic: Option<&str>,
) -> Utf8Bytes {
    Utf8Bytes::from(Frame::text(event, target_user_id, target_role, topic))
}

async fn heartbeat_loop(hub: Arc<Hub>) {
    loop {
        let interval = hub.heartbeat_interval();
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = hub.heartbeat_changed.notified() => continue,
        }
        let interval_ms = hub.heartbeat_interval().as_millis() as u64;
        let now = hub.now_ms();
        let text = envelope(
            &Event::Ping(Ping {
                server_time: Utc::now(),
            }),
            None,
            None,
            None,
        );
        {
            let conns = hub.conns.read();
            for c in conns.values() {
                let seen = c.last_seen.load(Ordering::Relaxed);
                if now.saturating_sub(seen) > 2 * interval_ms {
                    c.close(1001);
                } else {
                    hub.push(c, &text, None);
                }
            }
        }
        hub.metrics
            .ws_heartbeat_last
            .store(Utc::now().timestamp(), Ordering::Relaxed);
        // One instance or many: expired tickets are cleaned up now and then.
        if let Some(db) = hub.db.get() {
            let _ = gad_service::realtime::purge_tickets(db).await;
        }
    }
}

/// Most events sent to Redis in one pipelined round trip.
const PUBLISH_BATCH: usize = 256;

/// Publishes queued events to the fan-out channel, pipelined: whatever has queued since the
/// last round trip goes out in one (a burst of thousands of writes per second costs a few
/// round trips, not one each, so the queue does not fill and no instance misses an event).
async fn publisher_loop(hub: Arc<Hub>, channel: String, mut rx: mpsc::Receiver<String>) {
    let mut batch: Vec<String> = Vec::with_capacity(PUBLISH_BATCH);
    while rx.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let Some(mut c) = hub.redis.conn() else {
            batch.clear();
            continue; // Redis down: local delivery only
        };
        let mut pipe = redis::pipe();
        for payload in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(&channel).arg(payload).ignore();
        }
        let res =
            gad_service::redis_conn::with_timeout(&hub.redis, pipe.query_async::<()>(&mut c)).await;
        if res.is_none() {
            hub.metrics.ws_send_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn subscriber_loop(hub: Arc<Hub>, url: String, channel: String) {
    let state = Arc::clone(&hub);
    gad_service::events::subscribe(
        url,
        channel,
        move |up| {
            state.fanout_up.store(up, Ordering::Relaxed);
            // While unsubscribed, another instance's "forget this user" may have been missed:
            // what was cached before is not trusted once the channel is back.
            state.auth_cache.forget_all();
            if up {
                tracing::info!("realtime: redis fan-out subscribed");
            } else {
                tracing::warn!("realtime: redis fan-out lost; delivering locally only");
            }
        },
        |payload| {
            hub.on_remote(payload);
            true
        },
    )
    .await;
}
