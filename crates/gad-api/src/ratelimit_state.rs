//! Per-process state of the rate limiter: the in-process sliding windows used when Redis is not
//! configured or failing. Bounded (at most `MAX_KEYS` client/class windows, each at most `limit`
//! timestamps) and pruned periodically so idle clients do not accumulate.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dashmap::DashMap;

use gad_service::config::Config;

/// Sliding window length.
pub const WINDOW_MS: u64 = 60_000;
/// Upper bound of tracked (class, client) windows.
pub const MAX_KEYS: usize = 50_000;
/// Idle windows are swept at most this often.
const PRUNE_EVERY_MS: u64 = 10_000;

/// Result of one counting attempt in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowResult {
    pub admitted: bool,
    /// Requests counted in the window after this one.
    pub count: u32,
    /// Milliseconds until the oldest counted request leaves the window.
    pub oldest_expires_in_ms: u64,
}

pub struct LimiterState {
    started: Instant,
    windows: DashMap<(u8, IpAddr), VecDeque<u64>>,
    last_prune_ms: AtomicU64,
    /// Makes every Redis sorted-set member unique within this process.
    pub seq: AtomicU64,
    /// Short id of this process for Redis members (unique across instances).
    pub member_prefix: String,
}

impl LimiterState {
    pub fn new(_config: &Config) -> LimiterState {
        LimiterState {
            started: Instant::now(),
            windows: DashMap::new(),
            last_prune_ms: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            member_prefix: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        }
    }

    /// Milliseconds since start, offset by one window so `now - WINDOW_MS` never underflows.
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + WINDOW_MS
    }

    /// Number of tracked windows (tests, diagnostics).
    pub fn tracked(&self) -> usize {
        self.windows.len()
    }

    /// Counts one request of `class` from `ip` against `limit` in the sliding window.
    /// A rejected request is not counted.
    pub fn hit(&self, class: u8, ip: IpAddr, limit: u32) -> WindowResult {
        let now = self.now_ms();
        self.maybe_prune(now);
        let key = (class, ip);
        if !self.windows.contains_key(&key) && self.windows.len() >= MAX_KEYS {
            self.prune(now);
            if self.windows.len() >= MAX_KEYS {
                // Still full of live windows: drop an arbitrary tenth rather than grow.
                let victims: Vec<(u8, IpAddr)> = self
                    .windows
                    .iter()
                    .take(MAX_KEYS / 10)
                    .map(|e| *e.key())
                    .collect();
                for v in victims {
                    self.windows.remove(&v);
                }
            }
        }
        let mut w = self.windows.entry(key).or_default();
        let cutoff = now - WINDOW_MS;
        while w.front().is_some_and(|t| *t <= cutoff) {
            w.pop_front();
        }
        let admitted = (w.len() as u64) < limit as u64;
        if admitted {
            w.push_back(now);
        }
        let oldest = w.front().copied().unwrap_or(now);
        WindowResult {
            admitted,
            count: w.len() as u32,
            oldest_expires_in_ms: (oldest + WINDOW_MS).saturating_sub(now),
        }
    }

    fn maybe_prune(&self, now: u64) {
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PRUNE_EVERY_MS
            && self
                .last_prune_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.prune(now);
        }
    }

    /// Drops windows whose newest request has left the window.
    fn prune(&self, now: u64) {
        let cutoff = now - WINDOW_MS;
        self.windows
            .retain(|_, w| w.back().is_some_and(|t| *t > cutoff));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> LimiterState {
        LimiterState {
            started: Instant::now(),
            windows: DashMap::new(),
            last_prune_ms: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            member_prefix: "t".into(),
        }
    }

    #[test]
    fn counts_up_to_limit_then_rejects() {
        let s = state();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 1..=3 {
            let r = s.hit(0, ip, 3);
            assert!(r.admitted);
            assert_eq!(r.count, i);
        }
        let r = s.hit(0, ip, 3);
        assert!(!r.admitted);
        assert_eq!(r.count, 3);
        assert!(r.oldest_expires_in_ms > 59_000 && r.oldest_expires_in_ms <= 60_000);
        // Another class and another client have their own windows.
        assert!(s.hit(1, ip, 3).admitted);
        assert!(s.hit(0, "10.0.0.2".parse().unwrap(), 3).admitted);
        assert_eq!(s.tracked(), 3);
    }
}
