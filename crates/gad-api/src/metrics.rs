//! Prometheus text exposition (format 0.0.4) from lock-free counters. The HTTP RED metrics are
//! keyed by route template, so label cardinality is bounded by the router, never by clients.

use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use dashmap::DashMap;

/// Upper bounds (seconds) of the HTTP latency histogram.
pub const HTTP_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the contract's ggrt_message_latency_seconds and emergency dispatch histograms.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Buckets of the time an officer takes to acknowledge a dispatch (seconds).
pub const ACK_BUCKETS: [f64; 10] = [1.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0];
/// Buckets of the time from acceptance to arrival on scene (seconds).
pub const ARRIVAL_BUCKETS: [f64; 9] = [
    60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];
/// Causes of an escalation (the next officer is called, or supervisors are alerted).
pub const ESCALATION_CAUSES: [&str; 4] = ["declined", "timeout", "max_attempts", "none_available"];

/// A fixed-bucket histogram of seconds.
pub struct Histogram<const N: usize> {
    bounds: [f64; N],
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    pub fn new(bounds: [f64; N]) -> Self {
        Histogram {
            bounds,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, secs: f64) {
        // Non-cumulative storage; cumulated when rendered.
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((secs * 1e6) as u64, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Quantile estimated by linear interpolation inside the bucket (seconds).
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        let mut lower = 0.0;
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Relaxed);
            if seen + n >= rank && n > 0 {
                let frac = (rank - seen) as f64 / n as f64;
                return lower + (self.bounds[i] - lower) * frac;
            }
            seen += n;
            lower = self.bounds[i];
        }
        *self.bounds.last().unwrap_or(&0.0)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cum = 0u64;
        for (i, b) in self.bounds.iter().enumerate() {
            cum += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
];

fn method_index(m: &str) -> usize {
    METHODS.iter().position(|x| *x == m).unwrap_or(7)
}

#[derive(Default)]
struct MethodStats {
    hist: OnceLock<Histogram<13>>,
    errors: AtomicU64,
    statuses: DashMap<u16, AtomicU64>,
}

#[derive(Default)]
struct RouteStats {
    methods: [MethodStats; 8],
}

/// Every series GAD exports.
pub struct Metrics {
    started: Instant,
    routes: DashMap<String, RouteStats>,
    pub rate_limit_rejected: DashMap<&'static str, AtomicU64>,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub redis_up: AtomicI64,
    pub ws_connections_active: AtomicI64,
    pub ws_connections_total: AtomicU64,
    pub ws_messages_sent: AtomicU64,
    pub ws_broadcasts: AtomicU64,
    pub ws_send_errors: AtomicU64,
    pub ws_heartbeat_last: AtomicI64,
    pub ws_role_connections: [AtomicI64; 3],
    pub ws_users_active: AtomicI64,
    pub ws_message_latency: Histogram<11>,
    pub emergency_dispatch_seconds: Histogram<11>,
    pub emergency_dispatch: DashMap<&'static str, AtomicU64>,
    pub dispatch_ack_seconds: Histogram<10>,
    pub dispatch_arrival_seconds: Histogram<9>,
    pub dispatch_escalations: DashMap<&'static str, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn escalated(&self, cause: &'static str) {
        if let Some(c) = self.dispatch_escalations.get(cause) {
            c.fetch_add(1, Relaxed);
        }
    }

    pub fn new() -> Metrics {
        let m = Metrics {
            started: Instant::now(),
            routes: DashMap::new(),
            rate_limit_rejected: DashMap::new(),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            redis_up: AtomicI64::new(0),
            ws_connections_active: AtomicI64::new(0),
            ws_connections_total: AtomicU64::new(0),
            ws_messages_sent: AtomicU64::new(0),
            ws_broadcasts: AtomicU64::new(0),
            ws_send_errors: AtomicU64::new(0),
            ws_heartbeat_last: AtomicI64::new(0),
            ws_role_connections: std::array::from_fn(|_| AtomicI64::new(0)),
            ws_users_active: AtomicI64::new(0),
            ws_message_latency: Histogram::new(LATENCY_BUCKETS),
            emergency_dispatch_seconds: Histogram::new(LATENCY_BUCKETS),
            emergency_dispatch: DashMap::new(),
            dispatch_ack_seconds: Histogram::new(ACK_BUCKETS),
            dispatch_arrival_seconds: Histogram::new(ARRIVAL_BUCKETS),
            dispatch_escalations: DashMap::new(),
        };
        for cause in ESCALATION_CAUSES {
            m.dispatch_escalations.insert(cause, AtomicU64::new(0));
        }
        for class in [
            "auth",
            "ws_handshake",
            "admin_services",
            "citizen_services",
            "general_api",
        ] {
            m.rate_limit_rejected.insert(class, AtomicU64::new(0));
        }
        for result in ["assigned", "none_available", "error"] {
            m.emergency_dispatch.insert(result, AtomicU64::new(0));
        }
        m
    }

    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Records one HTTP request under its route template.
    pub fn record_http(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mi = method_index(method);
        if !self.routes.contains_key(route) {
            self.routes.entry(route.to_string()).or_default();
        }
        if let Some(r) = self.routes.get(route) {
            let m = &r.methods[mi];
            m.hist
                .get_or_init(|| Histogram::new(HTTP_BUCKETS))
                .observe(secs);
            if status >= 500 {
                m.errors.fetch_add(1, Relaxed);
            }
            match m.statuses.get(&status) {
                Some(c) => {
                    c.fetch_add(1, Relaxed);
                }
                None => {
                    m.statuses
                        .entry(status)
                        .or_insert_with(|| AtomicU64::new(0))
                        .fetch_add(1, Relaxed);
                }
            }
        }
    }

    pub fn inc(map: &DashMap<&'static str, AtomicU64>, key: &'static str) {
        match map.get(key) {
            Some(c) => {
                c.fetch_add(1, Relaxed);
            }
            None => {
                map.entry(key)
                    .or_insert_with(|| AtomicU64::new(0))
                    .fetch_add(1, Relaxed);
            }
        }
    }

    /// Totals over every route: (requests, 5xx).
    pub fn http_totals(&self) -> (u64, u64) {
        let mut total = 0;
        let mut errors = 0;
        for r in self.routes.iter() {
            for m in &r.methods {
                if let Some(h) = m.hist.get() {
                    total += h.count();
                }
                errors += m.errors.load(Relaxed);
            }
        }
        (total, errors)
    }

    /// p95 over every route (seconds), from the merged histograms.
    pub fn http_quantile_all(&self, q: f64) -> f64 {
        let merged = Histogram::new(HTTP_BUCKETS);
        for r in self.routes.iter() {
            for m in &r.methods {
                if let Some(h) = m.hist.get() {
                    for (i, b) in h.buckets.iter().enumerate() {
                        merged.buckets[i].fetch_add(b.load(Relaxed), Relaxed);
                    }
                    merged.count.fetch_add(h.count(), Relaxed);
                }
            }
        }
        merged.quantile(q)
    }

    /// Per route template and method: count, errors, p50/p95/p99 in ms.
    pub fn performance(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for r in self.routes.iter() {
            for (i, m) in r.methods.iter().enumerate() {
                if let Some(h) = m.hist.get() {
                    out.push(serde_json::json!({
                        "route": r.key(),
                        "method": METHODS[i],
                        "count": h.count(),
                        "error_count": m.errors.load(Relaxed),
                        "p50_ms": round3(h.quantile(0.50) * 1000.0),
                        "p95_ms": round3(h.quantile(0.95) * 1000.0),
                        "p99_ms": round3(h.quantile(0.99) * 1000.0),
                    }));
                }
            }
        }
        out.sort_by(|a, b| a["route"].as_str().cmp(&b["route"].as_str()));
        out
    }

    /// Renders every series. `extra` lets the caller append gauges it computes at scrape time
    /// (pool sizes).
    pub fn render(&self, env: &str, db_pool: (u32, u32)) -> String {
        let mut o = String::with_capacity(16 * 1024);
        let g = |o: &mut String, name: &str, help: &str, kind: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        g(
            &mut o,
            "app_uptime_seconds",
            "Seconds since the process started",
            "gauge",
        );
        let _ = writeln!(o, "app_uptime_seconds {:.3}", self.uptime_seconds());

        g(
            &mut o,
            "http_requests_total",
            "HTTP requests by method, route template and status",
            "counter",
        );
        let mut rows: Vec<(String, usize, u16, u64)> = Vec::new();
        for r in self.routes.iter() {
            for (i, m) in r.methods.iter().enumerate() {
                for s in m.statuses.iter() {
                    rows.push((r.key().clone(), i, *s.key(), s.value().load(Relaxed)));
                }
            }
        }
        rows.sort();
        for (route, i, status, n) in &rows {
            let _ = writeln!(
                o,
                "http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                METHODS[*i],
                escape(route),
                status,
                n
            );
        }
        g(
            &mut o,
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            "histogram",
        );
        let mut keys: Vec<String> = self.routes.iter().map(|r| r.key().clone()).collect();
        keys.sort();
        for k in keys {
            if let Some(r) = self.routes.get(&k) {
                for (i, m) in r.methods.iter().enumerate() {
                    if let Some(h) = m.hist.get() {
                        let labels = format!("method=\"{}\",route=\"{}\"", METHODS[i], escape(&k));
                        h.render(&mut o, "http_request_duration_seconds", &labels);
                    }
                }
            }
        }

        g(
            &mut o,
            "rate_limit_rejected_total",
            "Requests rejected by the rate limiter, by class",
            "counter",
        );
        let mut classes: Vec<(&str, u64)> = self
            .rate_limit_rejected
            .iter()
            .map(|e| (*e.key(), e.value().load(Relaxed)))
            .collect();
        classes.sort();
        for (c, n) in classes {
            let _ = writeln!(o, "rate_limit_rejected_total{{class=\"{c}\"}} {n}");
        }
        g(&mut o, "cache_hits_total", "Cache hits", "counter");
        let _ = writeln!(o, "cache_hits_total {}", self.cache_hits.load(Relaxed));
        g(&mut o, "cache_misses_total", "Cache misses", "counter");
        let _ = writeln!(o, "cache_misses_total {}", self.cache_misses.load(Relaxed));
        g(
            &mut o,
            "redis_up",
            "1 when Redis is configured and answering",
            "gauge",
        );
        let _ = writeln!(o, "redis_up {}", self.redis_up.load(Relaxed));
        g(
            &mut o,
            "db_pool_connections",
            "Database pool connections by state",
            "gauge",
        );
        let _ = writeln!(o, "db_pool_connections{{state=\"total\"}} {}", db_pool.0);
        let _ = writeln!(o, "db_pool_connections{{state=\"idle\"}} {}", db_pool.1);
        let _ = writeln!(
            o,
            "db_pool_connections{{state=\"in_use\"}} {}",
            db_pool.0.saturating_sub(db_pool.1)
        );

        g(
            &mut o,
            "emergency_dispatch_seconds",
            "Emergency dispatch latency",
            "histogram",
        );
        self.emergency_dispatch_seconds
            .render(&mut o, "emergency_dispatch_seconds", "");
        g(
            &mut o,
            "emergency_dispatch_total",
            "Emergency dispatches by result",
            "counter",
        );
        let mut results: Vec<(&str, u64)> = self
            .emergency_dispatch
            .iter()
            .map(|e| (*e.key(), e.value().load(Relaxed)))
            .collect();
        results.sort();
        for (r, n) in results {
            let _ = writeln!(o, "emergency_dispatch_total{{result=\"{r}\"}} {n}");
        }

        g(
            &mut o,
            "dispatch_ack_seconds",
            "Time from dispatch to the officer's answer (accept or decline)",
            "histogram",
        );
        self.dispatch_ack_seconds
            .render(&mut o, "dispatch_ack_seconds", "");
        g(
            &mut o,
            "dispatch_arrival_seconds",
            "Time from acceptance to arrival on scene",
            "histogram",
        );
        self.dispatch_arrival_seconds
            .render(&mut o, "dispatch_arrival_seconds", "");
        g(
            &mut o,
            "dispatch_escalations_total",
            "Dispatch escalations by cause",
            "counter",
        );
        for cause in ESCALATION_CAUSES {
            let n = self
                .dispatch_escalations
                .get(cause)
                .map_or(0, |v| v.load(Relaxed));
            let _ = writeln!(o, "dispatch_escalations_total{{cause=\"{cause}\"}} {n}");
        }

        let active = self.ws_connections_active.load(Relaxed);
        g(
            &mut o,
            "ws_connections_active",
            "Open WebSocket connections",
            "gauge",
        );
        let _ = writeln!(o, "ws_connections_active {active}");
        g(
            &mut o,
            "ws_messages_sent",
            "WebSocket messages sent",
            "counter",
        );
        let _ = writeln!(
            o,
            "ws_messages_sent {}",
            self.ws_messages_sent.load(Relaxed)
        );
        g(
            &mut o,
            "ws_broadcasts_total",
            "WebSocket broadcasts",
            "counter",
        );
        let _ = writeln!(
            o,
            "ws_broadcasts_total {}",
            self.ws_broadcasts.load(Relaxed)
        );

        let e = escape(env);
        let simple = [
            ("ggrt_active_connections", "gauge", active as f64),
            (
                "ggrt_connections_total",
                "counter",
                self.ws_connections_total.load(Relaxed) as f64,
            ),
            (
                "ggrt_messages_sent_total",
                "counter",
                self.ws_messages_sent.load(Relaxed) as f64,
            ),
            (
                "ggrt_broadcasts_total",
                "counter",
                self.ws_broadcasts.load(Relaxed) as f64,
            ),
            (
                "ggrt_send_errors_total",
                "counter",
                self.ws_send_errors.load(Relaxed) as f64,
            ),
            (
                "ggrt_heartbeat_last_timestamp",
                "gauge",
                self.ws_heartbeat_last.load(Relaxed) as f64,
            ),
            (
                "ggrt_user_active",
                "gauge",
                self.ws_users_active.load(Relaxed) as f64,
            ),
        ];
        for (name, kind, v) in simple {
            g(&mut o, name, "Realtime (WebSocket) gateway series", kind);
            let _ = writeln!(o, "{name}{{env=\"{e}\"}} {v}");
        }
        g(
            &mut o,
            "ggrt_role_connections",
            "WebSocket connections by role (level)",
            "gauge",
        );
        for (i, c) in self.ws_role_connections.iter().enumerate() {
            let _ = writeln!(
                o,
                "ggrt_role_connections{{env=\"{e}\",role=\"{}\"}} {}",
                i + 1,
                c.load(Relaxed)
            );
        }
        g(
            &mut o,
            "ggrt_message_latency_seconds",
            "Event publish to socket write latency",
            "histogram",
        );
        self.ws_message_latency.render(
            &mut o,
            "ggrt_message_latency_seconds",
            &format!("env=\"{e}\""),
        );
        o
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quantiles_and_render() {
        let m = Metrics::new();
        for _ in 0..99 {
            m.record_http("GET", "/api/v1/tasks/{task_id}", 200, 0.002);
        }
        m.record_http("GET", "/api/v1/tasks/{task_id}", 500, 2.0);
        let text = m.render("test", (5, 3));
        assert!(text.contains("http_requests_total{method=\"GET\",route=\"/api/v1/tasks/{task_id}\",status=\"200\"} 99"));
        assert!(text.contains("# TYPE ggrt_message_latency_seconds histogram"));
        let p = m.performance();
        assert_eq!(p[0]["error_count"], 1);
        assert!(p[0]["p50_ms"].as_f64().unwrap_or(0.0) <= 2.5);
    }
}
