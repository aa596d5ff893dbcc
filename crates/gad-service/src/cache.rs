//! Shared cache (contract §11): JSON values under the `gad:` prefix with TTLs. Redis when it is
//! up; a bounded in-process map otherwise. Cache trouble never fails a request: a miss is always
//! an acceptable answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::redis_conn::{RedisHandle, with_timeout};

pub const PREFIX: &str = "gad:";
const MEMORY_MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSource {
    Redis,
    Memory,
}

impl CacheSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheSource::Redis => "redis",
            CacheSource::Memory => "memory",
        }
    }
}

pub struct Cache {
    pub(crate) redis: Arc<RedisHandle>,
    pub(crate) memory: DashMap<String, (Value, Instant)>,
    pub(crate) metrics: Arc<Metrics>,
    /// Key prefix ("gad:" in deployments; per-app in tests).
    namespace: String,
    /// Entries dropped from the in-process map to stay bounded.
    pub(crate) memory_evictions: AtomicU64,
}

/// Keys per SCAN step and per DEL batch.
const SCAN_COUNT: usize = 500;

/// Figures for `GET /api/v1/cache/stats`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    pub connected: bool,
    pub backend: &'static str,
    pub keys_count: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub hit_rate: f64,
    pub evicted_keys: u64,
    pub prefix: String,
}

impl Cache {
    pub fn new(redis: Arc<RedisHandle>, metrics: Arc<Metrics>, namespace: &str) -> Cache {
        Cache {
            redis,
            memory: DashMap::new(),
            metrics,
            namespace: namespace.to_string(),
            memory_evictions: AtomicU64::new(0),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn backend(&self) -> CacheSource {
        if self.redis.conn().is_some() {
            CacheSource::Redis
        } else {
            CacheSource::Memory
        }
    }

    /// The stored key of `key`: the namespace plus the key (a key already carrying the
    /// namespace is used as is).
    pub fn full_key(&self, key: &str) -> String {
        if key.starts_with(&self.namespace) {
            key.to_string()
        } else {
            format!("{}{key}", self.namespace)
        }
    }

    /// Rate-limiter windows share the namespace but are never cache entries.
    fn is_reserved(&self, full: &str) -> bool {
        full.strip_prefix(&self.namespace)
            .is_some_and(|rest| rest.starts_with("rl:"))
    }

    fn count(&self, hit: bool) {
        let counter = if hit {
            &self.metrics.cache_hits
        } else {
            &self.metrics.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Gets a value; counts the hit or miss.
    pub async fn get(&self, key: &str) -> Option<(Value, CacheSource)> {
        let k = self.full_key(key);
        if let Some(mut conn) = self.redis.conn() {
            let got = with_timeout(
                &self.redis,
                redis::cmd("GET")
                    .arg(&k)
                    .query_async::<Option<String>>(&mut conn),
            )
            .await;
            if let Some(raw) = got {
                let v = raw.and_then(|s| serde_json::from_str::<Value>(&s).ok());
                self.count(v.is_some());
                return v.map(|v| (v, CacheSource::Redis));
            }
        }
        let found = self.memory_get(&k).map(|v| (v, CacheSource::Memory));
        self.count(found.is_some());
        found
    }

    pub async fn set(&self, key: &str, value: &Value, ttl: Duration) {
        let k = self.full_key(key);
        if self.is_reserved(&k) {
            return;
        }
        if let Some(mut conn) = self.redis.conn() {
            let secs = ttl.as_secs().max(1);
            let stored = with_timeout(
                &self.redis,
                redis::cmd("SET")
                    .arg(&k)
                    .arg(value.to_string())
                    .arg("EX")
                    .arg(secs)
                    .query_async::<()>(&mut conn),
            )
            .await;
            if stored.is_some() {
                // An older in-process copy must not resurface during a later outage.
                self.memory.remove(&k);
                return;
            }
        }
        self.memory_set(&k, value, ttl);
    }

    /// Deletes one key; true when it existed.
    pub async fn delete(&self, key: &str) -> bool {
        let k = self.full_key(key);
        if self.is_reserved(&k) {
            return false;
        }
        let in_memory = self.memory.remove(&k).is_some();
        let in_redis = match self.redis.conn() {
            Some(mut conn) => with_timeout(
                &self.redis,
                redis::cmd("DEL").arg(&k).query_async::<u64>(&mut conn),
            )
            .await
            .unwrap_or(0),
            None => 0,
        };
        in_memory || in_redis > 0
    }

    /// Deletes keys matching a glob-style pattern (`*`, `?`) inside the namespace; returns how many.
    pub async fn delete_pattern(&self, pattern: &str) -> u64 {
        let p = self.full_key(pattern);
        let before = self.memory.len();
        self.memory
            .retain(|k, _| !glob_match(&p, k) || self.is_reserved(k));
        let from_memory = before.saturating_sub(self.memory.len()) as u64;
        let from_redis = self.redis_delete_matching(&p).await.unwrap_or(0);
        from_memory.max(from_redis)
    }

    /// Removes every cache entry of the namespace (never other namespaces' keys).
    pub async fn clear(&self) {
        self.memory.clear();
        let all = format!("{}*", self.namespace);
        let _ = self.redis_delete_matching(&all).await;
    }

    /// SCAN MATCH + DEL in batches; `None` when Redis is unavailable or fails.
    async fn redis_delete_matching(&self, pattern: &str) -> Option<u64> {
        let mut conn = self.redis.conn()?;
        let mut cursor: u64 = 0;
        let mut deleted = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = with_timeout(
                &self.redis,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut conn),
            )
            .await?;
            let keys: Vec<String> = keys.into_iter().filter(|k| !self.is_reserved(k)).collect();
            if !keys.is_empty() {
                deleted += with_timeout(
                    &self.redis,
                    redis::cmd("DEL").arg(&keys).query_async::<u64>(&mut conn),
                )
                .await?;
            }
            if next == 0 {
                return Some(deleted);
            }
            cursor = next;
        }
    }

    /// Counts the namespace's cache keys with SCAN; `None` when Redis is unavailable.
    async fn redis_count(&self, conn: &mut redis::aio::ConnectionManager) -> Option<u64> {
        let pattern = format!("{}*", self.namespace);
        let mut cursor: u64 = 0;
        let mut n = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = with_timeout(
                &self.redis,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(conn),
            )
            .await?;
            n += keys.iter().filter(|k| !self.is_reserved(k)).count() as u64;
            if next == 0 {
                return Some(n);
            }
            cursor = next;
        }
    }

    /// Figures for the stats endpoint: Redis's own (INFO stats) when it is up, else this
    /// process's counters and the in-process map.
    pub async fn stats(&self) -> CacheStats {
        if let Some(mut conn) = self.redis.conn() {
            let info = with_timeout(
                &self.redis,
                redis::cmd("INFO")
                    .arg("stats")
                    .query_async::<String>(&mut conn),
            )
            .await;
            let keys = match info {
                Some(_) => self.redis_count(&mut conn).await,
                None => None,
            };
            if let (Some(info), Some(keys_count)) = (info, keys) {
                let field = |name: &str| -> u64 {
                    info.lines()
                        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0)
                };
                let (hits, misses) = (field("keyspace_hits"), field("keyspace_misses"));
                return CacheStats {
                    connected: true,
                    backend: CacheSource::Redis.as_str(),
                    keys_count,
                    keyspace_hits: hits,
                    keyspace_misses: misses,
                    hit_rate: hit_rate(hits, misses),
                    evicted_keys: field("evicted_keys"),
                    prefix: self.namespace.clone(),
                };
            }
        }
        let now = Instant::now();
        let keys_count = self.memory.iter().filter(|e| e.value().1 > now).count() as u64;
        let hits = self.metrics.cache_hits.load(Ordering::Relaxed);
        let misses = self.metrics.cache_misses.load(Ordering::Relaxed);
        CacheStats {
            connected: true,
            backend: CacheSource::Memory.as_str(),
            keys_count,
            keyspace_hits: hits,
            keyspace_misses: misses,
            hit_rate: hit_rate(hits, misses),
            evicted_keys: self.memory_evictions.load(Ordering::Relaxed),
            prefix: self.namespace.clone(),
        }
    }

    /// `full` is an already namespaced key.
    pub(crate) fn memory_get(&self, full: &str) -> Option<Value> {
        let hit = self.memory.get(full).map(|e| (e.0.clone(), e.1));
        match hit {
            Some((v, exp)) if exp > Instant::now() => Some(v),
            Some(_) => {
                self.memory.remove(full);
                None
            }
            None => None,
        }
    }

    /// `full` is an already namespaced key.
    pub(crate) fn memory_set(&self, full: &str, value: &Value, ttl: Duration) {
        if self.memory.len() >= MEMORY_MAX_ENTRIES {
            let now = Instant::now();
            self.memory.retain(|_, (_, exp)| *exp > now);
            if self.memory.len() >= MEMORY_MAX_ENTRIES {
                // Still full of live entries: drop an arbitrary tenth rather than grow without bound.
                let victims: Vec<String> = self
                    .memory
                    .iter()
                    .take(MEMORY_MAX_ENTRIES / 10)
                    .map(|e| e.key().clone())
                    .collect();
                for v in victims {
                    if self.memory.remove(&v).is_some() {
                        self.memory_evictions.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        self.memory
            .insert(full.to_string(), (value.clone(), Instant::now() + ttl));
    }
}

/// Percentage of lookups that hit, two decimals.
fn hit_rate(hits: u64, misses: u64) -> f64 {
    let total = hits + misses;
    if total == 0 {
        0.0
    } else {
        (hits as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

/// The key as stored under the default prefix (for callers without a `Cache` at hand).
pub fn full_key(key: &str) -> String {
    if key.starts_with(PREFIX) {
        key.to_string()
    } else {
        format!("{PREFIX}{key}")
    }
}

/// Glob match supporting `*` and `?` (the subset of Redis patterns the API accepts).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;
    #[test]
    fn globs() {
        assert!(glob_match("gad:stats:user:5:*", "gad:stats:user:5:days:30"));
        assert!(!glob_match(
            "gad:stats:user:5:*",
            "gad:stats:user:50:days:30"
        ));
        assert!(glob_match("gad:*", "gad:x"));
        assert!(glob_match("a?c", "abc"));
    }
}
