//! Every series GAD exports, kept in a `prometheus-client` registry (the official Rust client).
//!
//! Each [`Metrics`] owns its own `Registry`, never a global recorder, so the several app
//! instances a test process runs never share series. The crate writes the exposition: HELP and
//! TYPE lines, labels, histogram buckets; [`Metrics::render`] adds no `# EOF` trailer and no
//! series has a unit, so there are no `# UNIT` lines either.
//!
//! Format. The contract asks for Prometheus text format 0.0.4, where a counter's HELP/TYPE lines
//! carry its full `…_total` name. The crate's `Counter` writes OpenMetrics instead (`# TYPE x
//! counter` above samples `x_total`), so GAD's counters are [`Total`]: the crate's `Counter`
//! registered under its full name and written as a plain sample. `Total` and [`Level`] (the
//! crate's `Gauge`) dereference to the crate's atomics, so the realtime, cache and Redis code
//! that counts with `fetch_add`/`store` did not need to change.
//!
//! Histograms. The crate's `Histogram` keeps its buckets private, but the performance and
//! government health endpoints and the realtime stats need quantiles. So the two histograms whose
//! quantiles are read (HTTP latency per route template and method, realtime message latency) are
//! [`Buckets`]: lock-free atomic buckets that the crate encodes through its `EncodeMetric` trait.
//! Each observation is stored once, and both `/metrics` and the JSON quantiles read that store.
//! Histograms that are only scraped (dispatch, emergency) are the crate's `Histogram`.
//!
//! Cardinality. HTTP series are labelled by route template (never the raw path) and one of eight
//! fixed methods. Every other label takes its values from a fixed list.
//!
//! Cost per request (`record_http`): one read-locked DashMap lookup by `&str` (a route template
//! is allocated only the first time it is seen), then two atomic adds for the latency bucket and
//! sum, a lookup in the method's small map of status codes plus an add, and one more add on a
//! 5xx. That is the same work as before, less one atomic (the histogram count is now the sum of
//! its buckets). Counters elsewhere cost one atomic add. A labelled counter costs one
//! read-locked hash lookup.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::iter;
use std::ops::Deref;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use dashmap::DashMap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabel, EncodeLabelSet, EncodeLabelValue, EncodeMetric,
    LabelSetEncoder, LabelValueEncoder, MetricEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

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
pub const ESCALATION_CAUSES: [&str; 5] = [
    "declined",
    "timeout",
    "undelivered",
    "max_attempts",
    "none_available",
];
/// Rate-limit classes (`rate_limit_rejected_total{class}`).
const RATE_LIMIT_CLASSES: [&str; 5] = [
    "auth",
    "ws_handshake",
    "admin_services",
    "citizen_services",
    "general_api",
];
/// Results of an emergency dispatch (`emergency_dispatch_total{result}`).
const DISPATCH_RESULTS: [&str; 4] = ["assigned", "none_available", "rate_limited", "error"];

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
];

fn method_index(m: &str) -> usize {
    METHODS
        .iter()
        .position(|x| *x == m)
        .unwrap_or(METHODS.len() - 1)
}

fn sample(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A counter, exposed in text format 0.0.4: registered under its full `…_total` name, which
/// its HELP and TYPE lines then carry too. Dereferences to the crate counter's atomic, so
/// callers count with `fetch_add` and read with `load`.
#[derive(Clone, Debug, Default)]
pub struct Total(Counter);

impl Total {
    pub fn inc(&self) {
        self.0.inc();
    }
}

impl Deref for Total {
    type Target = AtomicU64;
    fn deref(&self) -> &AtomicU64 {
        self.0.inner()
    }
}

impl TypedMetric for Total {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for Total {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        // A plain sample under the registered name (no suffix added).
        encoder.encode_gauge(&sample(self.0.get()))
    }
    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A gauge (the crate's); dereferences to its atomic, so callers use `store`/`fetch_add`/`load`.
#[derive(Clone, Debug, Default)]
pub struct Level(Gauge);

impl Deref for Level {
    type Target = AtomicI64;
    fn deref(&self) -> &AtomicI64 {
        self.0.inner()
    }
}

impl TypedMetric for Level {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for Level {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), fmt::Error> {
        self.0.encode(encoder)
    }
    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

type OneLabel = [(&'static str, &'static str); 1];

/// Counters over one label whose values are static strings (bounded cardinality); the
/// values known up front are exported at 0 from the start.
#[derive(Debug)]
pub struct TotalsBy {
    label: &'static str,
    family: Family<OneLabel, Total>,
}

impl TotalsBy {
    fn new(label: &'static str, values: &[&'static str]) -> TotalsBy {
        let t = TotalsBy {
            label,
            family: Family::default(),
        };
        for &v in values {
            drop(t.family.get_or_create(&[(label, v)]));
        }
        t
    }

    pub fn inc(&self, value: &'static str) {
        self.family.get_or_create(&[(self.label, value)]).inc();
    }

    pub fn get(&self, value: &'static str) -> u64 {
        self.family
            .get_or_create(&[(self.label, value)])
            .load(Relaxed)
    }
}

/// A histogram of seconds with fixed buckets, lock-free, whose quantiles can be read back.
/// The crate encodes it like its own `Histogram`.
#[derive(Clone, Debug)]
pub struct Buckets(Arc<BucketsInner>);

#[derive(Debug)]
struct BucketsInner {
    bounds: &'static [f64],
    /// Per-bucket (not cumulative) counts; one more than `bounds`, the last is `+Inf`.
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl Buckets {
    pub fn new(bounds: &'static [f64]) -> Buckets {
        Buckets(Arc::new(BucketsInner {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }))
    }

    pub fn observe(&self, secs: f64) {
        let b = &self.0;
        let i = b
            .bounds
            .iter()
            .position(|ub| secs <= *ub)
            .unwrap_or(b.bounds.len());
        if let Some(c) = b.counts.get(i) {
            c.fetch_add(1, Relaxed);
        }
        b.sum_nanos.fetch_add((secs.max(0.0) * 1e9) as u64, Relaxed);
    }

    fn counts(&self) -> Vec<u64> {
        self.0.counts.iter().map(|c| c.load(Relaxed)).collect()
    }

    pub fn count(&self) -> u64 {
        self.0.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Quantile estimated by linear interpolation inside the bucket (seconds).
    pub fn quantile(&self, q: f64) -> f64 {
        quantile(self.0.bounds, &self.counts(), q)
    }
}

/// `counts` holds one count per bound plus the `+Inf` bucket; a rank that falls there reports
/// the highest finite bound (as PromQL's histogram_quantile does).
fn quantile(bounds: &[f64], counts: &[u64], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    let mut lower = 0.0;
    for (&upper, &n) in bounds.iter().zip(counts) {
        if n > 0 && seen + n >= rank {
            return lower + (upper - lower) * (rank - seen) as f64 / n as f64;
        }
        seen += n;
        lower = upper;
    }
    bounds.last().copied().unwrap_or(0.0)
}

impl TypedMetric for Buckets {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Buckets {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let counts = self.counts();
        let count = counts.iter().sum();
        // The crate writes an upper bound of f64::MAX as le="+Inf".
        let buckets: Vec<(f64, u64)> = self
            .0
            .bounds
            .iter()
            .copied()
            .chain(iter::once(f64::MAX))
            .zip(counts)
            .collect();
        let sum = self.0.sum_nanos.load(Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<()>(sum, count, &buckets, None)
    }
    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A label value escaped for the text format (the crate writes values verbatim).
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        if !self.0.contains(['\\', '"', '\n']) {
            return encoder.write_str(self.0);
        }
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// `{method, route[, status]}` of the HTTP series.
struct HttpLabels<'a> {
    method: &'a str,
    route: &'a str,
    status: Option<u16>,
}

impl EncodeLabelSet for HttpLabels<'_> {
    fn encode(&self, mut encoder: LabelSetEncoder) -> Result<(), fmt::Error> {
        ("method", self.method).encode(encoder.encode_label())?;
        ("route", Escaped(self.route)).encode(encoder.encode_label())?;
        if let Some(s) = self.status {
            ("status", s).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct MethodStats {
    latency: OnceLock<Buckets>,
    errors: AtomicU64,
    statuses: DashMap<u16, AtomicU64>,
}

#[derive(Default)]
struct RouteStats {
    methods: [MethodStats; 8],
}

impl RouteStats {
    fn record(&self, method: usize, status: u16, secs: f64) {
        let Some(m) = self.methods.get(method) else {
            return;
        };
        m.latency
            .get_or_init(|| Buckets::new(&HTTP_BUCKETS))
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

/// HTTP RED data by route template and method; the one store behind `http_requests_total`,
/// `http_request_duration_seconds` and the performance JSON.
#[derive(Default)]
struct HttpStats {
    routes: DashMap<Box<str>, RouteStats>,
}

impl HttpStats {
    fn sorted_routes(&self) -> Vec<Box<str>> {
        let mut keys: Vec<Box<str>> = self.routes.iter().map(|r| r.key().clone()).collect();
        keys.sort_unstable();
        keys
    }
}

/// Writes the HTTP series at scrape time from [`HttpStats`].
struct HttpCollector(Arc<HttpStats>);

impl fmt::Debug for HttpCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCollector")
            .field("routes", &self.0.routes.len())
            .finish()
    }
}

impl Collector for HttpCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let routes = self.0.sorted_routes();
        let mut requests = encoder.encode_descriptor(
            "http_requests_total",
            "HTTP requests by method, route template and status.",
            None,
            MetricType::Counter,
        )?;
        for route in &routes {
            let Some(stats) = self.0.routes.get(route) else {
                continue;
            };
            for (method, m) in METHODS.into_iter().zip(&stats.methods) {
                let mut statuses: Vec<(u16, u64)> = m
                    .statuses
                    .iter()
                    .map(|s| (*s.key(), s.value().load(Relaxed)))
                    .collect();
                statuses.sort_unstable();
                for (status, n) in statuses {
                    let labels = HttpLabels {
                        method,
                        route,
                        status: Some(status),
                    };
                    requests.encode_family(&labels)?.encode_gauge(&sample(n))?;
                }
            }
        }
        let mut latency = encoder.encode_descriptor(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            None,
            MetricType::Histogram,
        )?;
        for route in &routes {
            let Some(stats) = self.0.routes.get(route) else {
                continue;
            };
            for (method, m) in METHODS.into_iter().zip(&stats.methods) {
                if let Some(h) = m.latency.get() {
                    let labels = HttpLabels {
                        method,
                        route,
                        status: None,
                    };
                    h.encode(latency.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }
}

/// Every series GAD exports.
pub struct Metrics {
    started: Instant,
    registry: Registry,
    http: Arc<HttpStats>,
    uptime: Gauge<f64, AtomicU64>,
    db_pool: Family<OneLabel, Gauge>,
    pub rate_limit_rejected: TotalsBy,
    pub cache_hits: Total,
    pub cache_misses: Total,
    pub redis_up: Level,
    pub ws_connections_active: Level,
    pub ws_connections_total: Total,
    /// Exported as `ggrt_messages_sent_total` only ( dropped the `ws_messages_sent` twin).
    pub ws_messages_sent: Total,
    pub ws_broadcasts: Total,
    pub ws_send_errors: Total,
    pub ws_heartbeat_last: Level,
    /// Open sockets by role (level) 1, 2, 3.
    pub ws_role_connections: [Level; 3],
    pub ws_users_active: Level,
    pub ws_message_latency: Buckets,
    pub emergency_dispatch_seconds: Histogram,
    pub emergency_dispatch: TotalsBy,
    pub dispatch_ack_seconds: Histogram,
    pub dispatch_arrival_seconds: Histogram,
    pub dispatch_escalations: TotalsBy,
    /// Fan-out messages dropped (unsigned, badly signed, unreadable).
    pub fanout_dropped: TotalsBy,
    /// Committed audit rows waiting for the sealer, at the start of the last pass.
    pub audit_unsealed_rows: Level,
    /// Age of the oldest of them (seconds): the sealer's lag.
    pub audit_seal_lag_seconds: Gauge<f64, AtomicU64>,
    /// Audit rows this instance linked into the chain.
    pub audit_sealed_rows: Total,
    /// Authenticated requests answered from this instance's session cache, and those that read
    /// the session from the database.
    pub auth_cache_hits: Total,
    pub auth_cache_misses: Total,
}

impl Metrics {
    /// `env` labels the realtime (`ggrt_*`) series.
    pub fn new(env: &str) -> Metrics {
        let roles: Family<[(&'static str, &'static str); 1], Level> = Family::default();
        let m = Metrics {
            started: Instant::now(),
            registry: Registry::default(),
            http: Arc::default(),
            uptime: Gauge::default(),
            db_pool: Family::default(),
            rate_limit_rejected: TotalsBy::new("class", &RATE_LIMIT_CLASSES),
            cache_hits: Total::default(),
            cache_misses: Total::default(),
            redis_up: Level::default(),
            ws_connections_active: Level::default(),
            ws_connections_total: Total::default(),
            ws_messages_sent: Total::default(),
            ws_broadcasts: Total::default(),
            ws_send_errors: Total::default(),
            ws_heartbeat_last: Level::default(),
            ws_role_connections: ["1", "2", "3"]
                .map(|r| roles.get_or_create(&[("role", r)]).clone()),
            ws_users_active: Level::default(),
            ws_message_latency: Buckets::new(&LATENCY_BUCKETS),
            emergency_dispatch_seconds: Histogram::new(LATENCY_BUCKETS.into_iter()),
            emergency_dispatch: TotalsBy::new("result", &DISPATCH_RESULTS),
            dispatch_ack_seconds: Histogram::new(ACK_BUCKETS.into_iter()),
            dispatch_arrival_seconds: Histogram::new(ARRIVAL_BUCKETS.into_iter()),
            dispatch_escalations: TotalsBy::new("cause", &ESCALATION_CAUSES),
            fanout_dropped: TotalsBy::new("reason", &crate::events::Dropped::ALL),
            audit_unsealed_rows: Level::default(),
            audit_seal_lag_seconds: Gauge::default(),
            audit_sealed_rows: Total::default(),
            auth_cache_hits: Total::default(),
            auth_cache_misses: Total::default(),
        };
        m.register(env, roles)
    }

    fn register(mut self, env: &str, roles: Family<OneLabel, Level>) -> Metrics {
        let r = &mut self.registry;
        r.register(
            "app_uptime_seconds",
            "Seconds since the process started",
            self.uptime.clone(),
        );
        r.register_collector(Box::new(HttpCollector(Arc::clone(&self.http))));
        r.register(
            "rate_limit_rejected_total",
            "Requests rejected by the rate limiter, by class",
            self.rate_limit_rejected.family.clone(),
        );
        r.register("cache_hits_total", "Cache hits", self.cache_hits.clone());
        r.register(
            "auth_cache_hits_total",
            "Authenticated requests whose session came from this instance's cache",
            self.auth_cache_hits.clone(),
        );
        r.register(
            "auth_cache_misses_total",
            "Authenticated requests whose session was read from the database",
            self.auth_cache_misses.clone(),
        );
        r.register(
            "cache_misses_total",
            "Cache misses",
            self.cache_misses.clone(),
        );
        r.register(
            "redis_up",
            "1 when Redis is configured and answering",
            self.redis_up.clone(),
        );
        r.register(
            "db_pool_connections",
            "Database pool connections by state",
            self.db_pool.clone(),
        );
        r.register(
            "emergency_dispatch_seconds",
            "Emergency dispatch latency",
            self.emergency_dispatch_seconds.clone(),
        );
        r.register(
            "emergency_dispatch_total",
            "Emergency dispatches by result",
            self.emergency_dispatch.family.clone(),
        );
        r.register(
            "dispatch_ack_seconds",
            "Time from dispatch to the officer's answer (accept or decline)",
            self.dispatch_ack_seconds.clone(),
        );
        r.register(
            "dispatch_arrival_seconds",
            "Time from acceptance to arrival on scene",
            self.dispatch_arrival_seconds.clone(),
        );
        r.register(
            "fanout_messages_dropped_total",
            "Messages from the Redis fan-out channel dropped, by reason (unsigned, bad_signature, unreadable)",
            self.fanout_dropped.family.clone(),
        );
        r.register(
            "audit_unsealed_rows",
            "Committed audit rows not yet linked into the hash chain (start of the last seal pass)",
            self.audit_unsealed_rows.clone(),
        );
        r.register(
            "audit_seal_lag_seconds",
            "Age of the oldest audit row not yet linked into the hash chain (start of the last seal pass)",
            self.audit_seal_lag_seconds.clone(),
        );
        r.register(
            "audit_sealed_rows_total",
            "Audit rows this instance linked into the hash chain",
            self.audit_sealed_rows.clone(),
        );
        r.register(
            "dispatch_escalations_total",
            "Dispatch escalations by cause",
            self.dispatch_escalations.family.clone(),
        );
        r.register(
            "ws_connections_active",
            "Open WebSocket connections",
            self.ws_connections_active.clone(),
        );
        r.register(
            "ws_broadcasts_total",
            "WebSocket broadcasts",
            self.ws_broadcasts.clone(),
        );

        // The realtime gateway's series, labelled with the environment.
        let g = r.sub_registry_with_label((Cow::Borrowed("env"), Cow::Owned(env.to_owned())));
        g.register(
            "ggrt_active_connections",
            "Open WebSocket connections",
            self.ws_connections_active.clone(),
        );
        g.register(
            "ggrt_connections_total",
            "WebSocket connections accepted",
            self.ws_connections_total.clone(),
        );
        g.register(
            "ggrt_messages_sent_total",
            "WebSocket messages written to sockets",
            self.ws_messages_sent.clone(),
        );
        g.register(
            "ggrt_broadcasts_total",
            "WebSocket broadcasts",
            self.ws_broadcasts.clone(),
        );
        g.register(
            "ggrt_send_errors_total",
            "WebSocket sends that failed or were dropped",
            self.ws_send_errors.clone(),
        );
        g.register(
            "ggrt_heartbeat_last_timestamp",
            "Unix time of the last heartbeat round",
            self.ws_heartbeat_last.clone(),
        );
        g.register(
            "ggrt_role_connections",
            "WebSocket connections by role (level)",
            roles,
        );
        g.register(
            "ggrt_user_active",
            "Distinct users with an open WebSocket",
            self.ws_users_active.clone(),
        );
        g.register(
            "ggrt_message_latency_seconds",
            "Event publish to socket write latency",
            self.ws_message_latency.clone(),
        );
        self
    }

    pub fn escalated(&self, cause: &'static str) {
        if ESCALATION_CAUSES.contains(&cause) {
            self.dispatch_escalations.inc(cause);
        }
    }

    pub fn inc(totals: &TotalsBy, key: &'static str) {
        totals.inc(key);
    }

    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Records one HTTP request under its route template.
    pub fn record_http(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mi = method_index(method);
        let routes = &self.http.routes;
        match routes.get(route) {
            Some(r) => r.record(mi, status, secs),
            None => routes
                .entry(route.into())
                .or_default()
                .record(mi, status, secs),
        }
    }

    /// Totals over every route: (requests, 5xx).
    pub fn http_totals(&self) -> (u64, u64) {
        let mut total = 0;
        let mut errors = 0;
        for r in self.http.routes.iter() {
            for m in &r.methods {
                if let Some(h) = m.latency.get() {
                    total += h.count();
                }
                errors += m.errors.load(Relaxed);
            }
        }
        (total, errors)
    }

    /// Quantile over every route (seconds), from the merged histograms.
    pub fn http_quantile_all(&self, q: f64) -> f64 {
        let mut merged = vec![0u64; HTTP_BUCKETS.len() + 1];
        for r in self.http.routes.iter() {
            for m in &r.methods {
                if let Some(h) = m.latency.get() {
                    for (acc, c) in merged.iter_mut().zip(h.0.counts.iter()) {
                        *acc += c.load(Relaxed);
                    }
                }
            }
        }
        quantile(&HTTP_BUCKETS, &merged, q)
    }

    /// Per route template and method: count, errors, p50/p95/p99 in ms.
    pub fn performance(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for route in self.http.sorted_routes() {
            let Some(r) = self.http.routes.get(&route) else {
                continue;
            };
            for (method, m) in METHODS.into_iter().zip(&r.methods) {
                if let Some(h) = m.latency.get() {
                    let counts = h.counts();
                    let q = |q| round3(quantile(&HTTP_BUCKETS, &counts, q) * 1000.0);
                    out.push(serde_json::json!({
                        "route": &*route,
                        "method": method,
                        "count": counts.iter().sum::<u64>(),
                        "error_count": m.errors.load(Relaxed),
                        "p50_ms": q(0.50),
                        "p95_ms": q(0.95),
                        "p99_ms": q(0.99),
                    }));
                }
            }
        }
        out
    }

    /// The text exposition (format 0.0.4). `db_pool` is (size, idle), read at scrape time.
    pub fn render(&self, db_pool: (u32, u32)) -> String {
        self.uptime.set(self.uptime_seconds());
        let (size, idle) = db_pool;
        for (state, n) in [
            ("total", size),
            ("idle", idle),
            ("in_use", size.saturating_sub(idle)),
        ] {
            self.db_pool
                .get_or_create(&[("state", state)])
                .set(i64::from(n));
        }
        let mut out = String::with_capacity(16 * 1024);
        if let Err(e) = encode_registry(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics encoding failed");
            out.clear();
        }
        out
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_render() {
        let m = Metrics::new("test");
        for _ in 0..99 {
            m.record_http("GET", "/api/v1/tasks/{task_id}", 200, 0.002);
        }
        m.record_http("GET", "/api/v1/tasks/{task_id}", 500, 2.0);
        let text = m.render((5, 3));
        assert!(text.contains("http_requests_total{method=\"GET\",route=\"/api/v1/tasks/{task_id}\",status=\"200\"} 99"), "{text}");
        assert!(text.contains("# TYPE ggrt_message_latency_seconds histogram"));
        let p = m.performance();
        assert_eq!(p[0]["count"], 100);
        assert_eq!(p[0]["error_count"], 1);
        let p50 = p[0]["p50_ms"].as_f64().unwrap_or(f64::NAN);
        assert!(p50 > 1.0 && p50 <= 2.5, "{p50}");
        assert_eq!(m.http_totals(), (100, 1));
        // The 2 s request is the 100th: p99 ≤ 2.5 ms, p100 in the (1, 2.5] s bucket.
        assert!(m.http_quantile_all(0.99) <= 0.0025);
        assert!(m.http_quantile_all(1.0) > 1.0);
    }

    /// Text format 0.0.4: every sample belongs to the family its TYPE line declares (counters
    /// carry `_total` there too), no OpenMetrics-only lines, one name per series.
    #[test]
    fn exposition_is_text_format_0_0_4() {
        let m = Metrics::new("development");
        m.record_http("POST", "/api/v1/a\"b", 201, 0.01);
        m.ws_messages_sent.fetch_add(3, Relaxed);
        m.ws_role_connections[0].fetch_add(2, Relaxed);
        m.ws_message_latency.observe(0.002);
        m.emergency_dispatch_seconds.observe(0.3);
        Metrics::inc(&m.rate_limit_rejected, "general_api");
        m.escalated("timeout");
        m.escalated("not-a-cause");
        let text = m.render((4, 1));
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        let mut declared: Option<(String, String)> = None;
        let mut types = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
                assert!(!types.contains(&name.to_string()), "{name} declared twice");
                types.push(name.to_string());
                declared = Some((name.to_string(), kind.to_string()));
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap_or("");
            let (family, kind) = declared.clone().unwrap_or_default();
            let ok = match kind.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(family.as_str())),
                _ => name == family,
            };
            assert!(ok, "sample {line} under # TYPE {family} {kind}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{name}");
            }
        }
        for (series, kind) in [
            ("http_requests_total", "counter"),
            ("http_request_duration_seconds", "histogram"),
            ("rate_limit_rejected_total", "counter"),
            ("db_pool_connections", "gauge"),
            ("app_uptime_seconds", "gauge"),
            ("ggrt_messages_sent_total", "counter"),
            ("ggrt_role_connections", "gauge"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {series} {kind}\n")),
                "{series}"
            );
        }
        assert!(!text.contains("ws_messages_sent"), "dropped in issue 14");
        for want in [
            "ggrt_messages_sent_total{env=\"development\"} 3\n",
            "ggrt_role_connections{env=\"development\",role=\"1\"} 2\n",
            "ggrt_message_latency_seconds_count{env=\"development\"} 1\n",
            "rate_limit_rejected_total{class=\"general_api\"} 1\n",
            "rate_limit_rejected_total{class=\"auth\"} 0\n",
            "dispatch_escalations_total{cause=\"timeout\"} 1\n",
            "db_pool_connections{state=\"in_use\"} 3\n",
            "emergency_dispatch_seconds_count 1\n",
            "route=\"/api/v1/a\\\"b\",status=\"201\"} 1\n",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
        assert!(!text.contains("not-a-cause"));
        assert_eq!(m.dispatch_escalations.get("timeout"), 1);
    }

    #[test]
    fn registries_are_per_instance() {
        let a = Metrics::new("a");
        let b = Metrics::new("b");
        a.cache_hits.inc();
        assert!(a.render((0, 0)).contains("cache_hits_total 1\n"));
        assert!(b.render((0, 0)).contains("cache_hits_total 0\n"));
    }
}
