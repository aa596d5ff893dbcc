//! Domain events: one internal publisher that every producer (tasks, dispatch, efectivos, admin)
//! calls. Sinks registered at start-up deliver them (the realtime hub); every event is also logged.

use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    SystemStatus,
    UserActivity,
    DashboardUpdate,
    MetricsUpdate,
    TaskCreated,
    TaskUpdated,
    TaskStatusChanged,
    TaskAssigned,
    EfectivoStatusChanged,
    EfectivoLocationUpdate,
    Notification,
    Alert,
    Warning,
    Error,
    ConnectionAck,
    Ping,
    Pong,
}

impl EventType {
    pub const ALL: [EventType; 17] = [
        EventType::SystemStatus,
        EventType::UserActivity,
        EventType::DashboardUpdate,
        EventType::MetricsUpdate,
        EventType::TaskCreated,
        EventType::TaskUpdated,
        EventType::TaskStatusChanged,
        EventType::TaskAssigned,
        EventType::EfectivoStatusChanged,
        EventType::EfectivoLocationUpdate,
        EventType::Notification,
        EventType::Alert,
        EventType::Warning,
        EventType::Error,
        EventType::ConnectionAck,
        EventType::Ping,
        EventType::Pong,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SystemStatus => "system_status",
            EventType::UserActivity => "user_activity",
            EventType::DashboardUpdate => "dashboard_update",
            EventType::MetricsUpdate => "metrics_update",
            EventType::TaskCreated => "task_created",
            EventType::TaskUpdated => "task_updated",
            EventType::TaskStatusChanged => "task_status_changed",
            EventType::TaskAssigned => "task_assigned",
            EventType::EfectivoStatusChanged => "efectivo_status_changed",
            EventType::EfectivoLocationUpdate => "efectivo_location_update",
            EventType::Notification => "notification",
            EventType::Alert => "alert",
            EventType::Warning => "warning",
            EventType::Error => "error",
            EventType::ConnectionAck => "connection_ack",
            EventType::Ping => "ping",
            EventType::Pong => "pong",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|e| e.as_str() == s)
    }
}

/// Who may receive an event (contract §13, Routing).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Audience {
    /// Every connected user.
    Everyone,
    /// Level 2 and 3 only.
    Supervisors,
    /// Level 1 only.
    Efectivos,
    /// Level-1 users whose efectivo belongs to this unidad, plus level 2+.
    Unidad { name: String, user_ids: Vec<i64> },
    /// These users (delegado, assigned officers…) plus every level 2+.
    Involved { user_ids: Vec<i64> },
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DomainEvent {
    pub event_type: EventType,
    pub data: Value,
    pub audience: Audience,
    /// Topics this event belongs to (`task:<id>`, `efectivo:<id>`, `emergencias`).
    pub topics: Vec<String>,
}

impl DomainEvent {
    pub fn new(event_type: EventType, data: Value, audience: Audience) -> DomainEvent {
        DomainEvent {
            event_type,
            data,
            audience,
            topics: Vec::new(),
        }
    }
    pub fn topic(mut self, t: impl Into<String>) -> DomainEvent {
        self.topics.push(t.into());
        self
    }
}

/// Something that delivers events (the WebSocket hub).
pub trait EventSink: Send + Sync {
    fn deliver(&self, event: &DomainEvent);
}

#[derive(Default)]
pub struct EventBus {
    sinks: RwLock<Vec<Arc<dyn EventSink>>>,
}

impl EventBus {
    pub fn register(&self, sink: Arc<dyn EventSink>) {
        self.sinks.write().push(sink);
    }

    /// Publishes after the transaction that produced the event has committed.
    pub fn publish(&self, event: DomainEvent) {
        tracing::info!(event_type = event.event_type.as_str(), topics = ?event.topics, "domain event");
        for s in self.sinks.read().iter() {
            s.deliver(&event);
        }
    }
}

/// The version of [`Envelope`] this build writes; a reader drops a newer one it cannot know.
pub const ENVELOPE_VERSION: u8 = 1;

/// One message on the Redis fan-out channel, the same for every process that publishes or reads
/// it (API instances, the bot): the event's routing and its serialised wire envelope.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Envelope {
    /// Format version (messages from before versioning read as 1).
    #[serde(default = "first_version")]
    pub v: u8,
    /// Origin instance id (a reader drops its own echoes).
    pub o: String,
    pub e: EventType,
    pub a: Audience,
    #[serde(default)]
    pub t: Vec<String>,
    /// Publish time, microseconds since the epoch.
    pub ts: i64,
    /// The wire envelope (`{"type", "data", …}`), already serialised; empty for a control message.
    pub p: String,
    /// Control: close every socket of this user (session ended on some instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<i64>,
    /// (lat, lng) of a location event, for the receivers' bounding boxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<(f64, f64)>,
}

fn first_version() -> u8 {
    1
}

impl Envelope {
    /// Reads a message from the channel; `None` when it is unreadable or of a newer version.
    pub fn decode(payload: &[u8]) -> Option<Envelope> {
        serde_json::from_slice::<Envelope>(payload)
            .ok()
            .filter(|e| e.v <= ENVELOPE_VERSION)
    }

    /// The event's payload (`data` of the wire envelope); null for a control message.
    pub fn data(&self) -> Value {
        serde_json::from_str::<Value>(&self.p)
            .map(|mut env| env["data"].take())
            .unwrap_or(Value::Null)
    }
}

/// Reads the fan-out channel for as long as `on_message` wants (it answers false to stop):
/// connects, subscribes, and reconnects with a back-off (100 ms doubling to 5 s) whenever Redis
/// goes away. `on_up(true)` when subscribed, `on_up(false)` when the subscription is lost. The one
/// subscriber every process uses (each API instance's hub, the bot).
pub async fn subscribe(
    url: String,
    channel: String,
    mut on_up: impl FnMut(bool) + Send,
    mut on_message: impl FnMut(&[u8]) -> bool + Send,
) {
    use futures::StreamExt;
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        let connected = async {
            let client = redis::Client::open(url.as_str())?;
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(ps)
        };
        match tokio::time::timeout(std::time::Duration::from_secs(2), connected).await {
            Ok(Ok(mut ps)) => {
                backoff = std::time::Duration::from_millis(100);
                on_up(true);
                let mut stream = ps.on_message();
                while let Some(msg) = stream.next().await {
                    if !on_message(msg.get_payload_bytes()) {
                        return;
                    }
                }
                on_up(false);
            }
            Ok(Err(e)) => tracing::debug!(error = %e, channel, "fan-out: connect failed"),
            Err(_) => tracing::debug!(channel, "fan-out: connect timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
    }
}
