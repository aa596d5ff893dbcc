//! The bot's Prometheus series, served on its own `/metrics`: updates by kind, Telegram API
//! call time by method, errors by cause, pushes by event. One registry per bot (no global
//! recorder), so several bots can run in one test process.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabel {
    pub cause: String,
}

fn api_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

pub struct BotMetrics {
    registry: Registry,
    pub updates: Family<KindLabel, Counter>,
    pub api_seconds: Family<MethodLabel, Histogram, fn() -> Histogram>,
    pub service_seconds: Family<KindLabel, Histogram, fn() -> Histogram>,
    pub errors: Family<CauseLabel, Counter>,
    pub pushes: Family<KindLabel, Counter>,
}

impl Default for BotMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl BotMetrics {
    pub fn new() -> BotMetrics {
        let mut registry = Registry::with_prefix("gad_bot");
        let updates = Family::<KindLabel, Counter>::default();
        let api_seconds = Family::<MethodLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            api_histogram,
        );
        let service_seconds =
            Family::<KindLabel, Histogram, fn() -> Histogram>::new_with_constructor(api_histogram);
        let errors = Family::<CauseLabel, Counter>::default();
        let pushes = Family::<KindLabel, Counter>::default();
        registry.register(
            "updates",
            "Telegram updates handled, by kind",
            updates.clone(),
        );
        registry.register(
            "telegram_api_seconds",
            "Time of Telegram Bot API calls, by method",
            api_seconds.clone(),
        );
        registry.register(
            "service_seconds",
            "Time of GAD service-layer operations run for an update, by operation",
            service_seconds.clone(),
        );
        registry.register("errors", "Errors by cause", errors.clone());
        registry.register(
            "pushes",
            "Push notifications sent, by event",
            pushes.clone(),
        );
        BotMetrics {
            registry,
            updates,
            api_seconds,
            service_seconds,
            errors,
            pushes,
        }
    }

    pub fn update(&self, kind: &str) {
        self.updates
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub fn error(&self, cause: &str) {
        self.errors
            .get_or_create(&CauseLabel {
                cause: cause.into(),
            })
            .inc();
    }

    pub fn push(&self, kind: &str) {
        self.pushes
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub fn api_call(&self, method: &str, seconds: f64) {
        self.api_seconds
            .get_or_create(&MethodLabel {
                method: method.into(),
            })
            .observe(seconds);
    }

    pub fn service_call(&self, operation: &str, seconds: f64) {
        self.service_seconds
            .get_or_create(&KindLabel {
                kind: operation.into(),
            })
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
