//! Shared cache (contract §11): JSON values under the `gad:` prefix with TTLs. Redis when it is
//! up; a bounded in-process map otherwise. Cache trouble never fails a request: a miss is always
//! an acceptable answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::redis_conn::RedisHandle;

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
}

impl Cache {
    pub fn new(redis: Arc<RedisHandle>, metrics: Arc<Metrics>) -> Cache {
        Cache {
            redis,
            memory: DashMap::new(),
            metrics,
        }
    }

    pub fn backend(&self) -> CacheSource {
        if self.redis.conn().is_some() {
            CacheSource::Redis
        } else {
            CacheSource::Memory
        }
    }

    /// Gets a value; counts the hit or miss.
    pub async fn get(&self, key: &str) -> Option<(Value, CacheSource)> {
        let found = self.memory_get(key).map(|v| (v, CacheSource::Memory));
        let counter = if found.is_some() {
            &self.metrics.cache_hits
        } else {
            &self.metrics.cache_misses
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        found
    }

    pub async fn set(&self, key: &str, value: &Value, ttl: Duration) {
        self.memory_set(key, value, ttl);
    }

    /// Deletes one key; true when it existed.
    pub async fn delete(&self, key: &str) -> bool {
        self.memory.remove(&full_key(key)).is_some()
    }

    /// Deletes keys matching a glob-style pattern (`*` wildcard); returns how many.
    pub async fn delete_pattern(&self, pattern: &str) -> u64 {
        let p = full_key(pattern);
        let before = self.memory.len();
        self.memory.retain(|k, _| !glob_match(&p, k));
        (before - self.memory.len()) as u64
    }

    pub async fn clear(&self) {
        self.memory.clear();
    }

    pub(crate) fn memory_get(&self, key: &str) -> Option<Value> {
        let k = full_key(key);
        let hit = self.memory.get(&k).map(|e| (e.0.clone(), e.1));
        match hit {
            Some((v, exp)) if exp > Instant::now() => Some(v),
            Some(_) => {
                self.memory.remove(&k);
                None
            }
            None => None,
        }
    }

    pub(crate) fn memory_set(&self, key: &str, value: &Value, ttl: Duration) {
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
                    self.memory.remove(&v);
                }
            }
        }
        self.memory
            .insert(full_key(key), (value.clone(), Instant::now() + ttl));
    }
}

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
