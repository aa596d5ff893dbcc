//! The optional Redis connection. Lazy and self-healing: `gad serve` starts while Redis is down,
//! a background task keeps trying, and every caller asks `conn()` and gets `None` while Redis is
//! unavailable, so Redis trouble degrades features and never fails a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::metrics::Metrics;

/// Upper bound for one Redis round trip on a request path.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

pub struct RedisHandle {
    url: Option<String>,
    conn: RwLock<Option<ConnectionManager>>,
    up: AtomicBool,
    outage_logged: AtomicBool,
    metrics: Arc<Metrics>,
}

impl RedisHandle {
    pub fn new(url: Option<String>, metrics: Arc<Metrics>) -> Arc<RedisHandle> {
        Arc::new(RedisHandle {
            url,
            conn: RwLock::new(None),
            up: AtomicBool::new(false),
            outage_logged: AtomicBool::new(false),
            metrics,
        })
    }

    pub fn configured(&self) -> bool {
        self.url.is_some()
    }

    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// True while the last command (or ping) succeeded.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// A connection when Redis is believed healthy; `None` otherwise.
    pub fn conn(&self) -> Option<ConnectionManager> {
        if !self.is_up() {
            return None;
        }
        self.conn.read().clone()
    }

    /// Record a failed command: the caller falls back, the monitor notices recovery.
    pub fn mark_down(&self, err: &dyn std::fmt::Display) {
        if self.up.swap(false, Ordering::Relaxed)
            || !self.outage_logged.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(error = %err, "redis unavailable; using in-process fallbacks");
        }
        self.metrics.redis_up.store(0, Ordering::Relaxed);
    }

    fn mark_up(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("redis available");
            self.outage_logged.store(false, Ordering::Relaxed);
        }
        self.metrics.redis_up.store(1, Ordering::Relaxed);
    }

    /// Connects in the background and pings every second to track health. Returns at once.
    pub fn spawn_monitor(self: &Arc<Self>) {
        let Some(url) = self.url.clone() else { return };
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                if failures >= 3 {
                    // The manager keeps failing: start over with a fresh connection.
                    *this.conn.write() = None;
                    failures = 0;
                }
                let existing = this.conn.read().clone();
                match existing {
                    None => match connect(&url).await {
                        Ok(cm) => {
                            *this.conn.write() = Some(cm);
                            this.mark_up();
                        }
                        Err(e) => this.mark_down(&e),
                    },
                    Some(mut cm) => {
                        let ping = tokio::time::timeout(
                            COMMAND_TIMEOUT * 4,
                            redis::cmd("PING").query_async::<String>(&mut cm),
                        )
                        .await;
                        match ping {
                            Ok(Ok(_)) => {
                                failures = 0;
                                this.mark_up();
                            }
                            Ok(Err(e)) => {
                                failures += 1;
                                this.mark_down(&e);
                            }
                            Err(_) => {
                                failures += 1;
                                this.mark_down(&"ping timed out");
                            }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Waits until Redis is up (tests, start-up logs). Returns false on timeout.
    pub async fn wait_up(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.is_up() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.is_up()
    }
}

async fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(1))
        .set_response_timeout(COMMAND_TIMEOUT)
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client, cfg).await
}

/// Runs one Redis future with the request-path timeout; any failure marks Redis down and
/// returns `None` so the caller uses its fallback.
pub async fn with_timeout<T, F>(redis: &RedisHandle, fut: F) -> Option<T>
where
    F: std::future::Future<Output = redis::RedisResult<T>>,
{
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            redis.mark_down(&e);
            None
        }
        Err(_) => {
            redis.mark_down(&"command timed out");
            None
        }
    }
}
