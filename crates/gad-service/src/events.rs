//! Domain events: one internal publisher that every producer (tasks, dispatch, efectivos, admin)
//! calls. Sinks registered at start-up deliver them (the realtime hub); every event is also logged.
//!
//! An event is one typed [`Event`]: the variant is the wire `event_type`, its payload the wire
//! `data` (see [`payload`]). A use case builds it once, after its commit, with the audience and
//! topics that route it; the hub serialises it into the socket frame ([`Frame`]) and the same
//! text travels to the other processes inside the versioned [`Envelope`], where the bot reads
//! it back as an [`Event`] ([`Envelope::event`]).

pub mod payload;

use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

pub use payload::*;

/// The names of the event types, the vocabulary of a socket's `subscribe`/`unsubscribe`
/// (contract §13). `user_activity` and `warning` are accepted there but never sent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
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
    TaskNoteAdded,
    TaskAttachmentAdded,
    ShiftClock,
    AlertSeen,
    Message,
}

impl EventType {
    pub const ALL: [EventType; 22] = [
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
        EventType::TaskNoteAdded,
        EventType::TaskAttachmentAdded,
        EventType::ShiftClock,
        EventType::AlertSeen,
        EventType::Message,
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
            EventType::TaskNoteAdded => "task_note_added",
            EventType::TaskAttachmentAdded => "task_attachment_added",
            EventType::ShiftClock => "shift_clock",
            EventType::AlertSeen => "alert_seen",
            EventType::Message => "message",
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
    /// These users plus every level 2+ but `excepto`: the supervisors whose assigned
    /// comisarías do not include the incident's (an incident no supervisor covers has none).
    Jurisdiccion {
        user_ids: Vec<i64>,
        excepto: Vec<i64>,
    },
}

/// Everything the server sends on `/ws/connect`: one variant per event type, serialised as the
/// frame's `{"event_type": …, "data": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "event_type", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// First frame of every socket.
    ConnectionAck(ConnectionAck),
    /// The snapshot, in parts for level 2+ (`part`/`parts`), one frame for level 1.
    SystemStatus(Snapshot),
    /// A task created, emergencies included (`es_emergencia: true`): the task exactly as
    /// `GET /api/v1/tasks/{id}` returns it.
    TaskCreated(Tarea),
    /// A task changed or deleted.
    TaskUpdated(TaskUpdated),
    /// A task's state transition, or a step of its dispatch (`evento`).
    TaskStatusChanged(TaskStatusChanged),
    /// Officers assigned to a task, or an officer called by the dispatch.
    TaskAssigned(TaskAssigned),
    /// An officer's availability changed.
    EfectivoStatusChanged(EfectivoStatusChanged),
    /// An officer's current position (coalesced: at most one per officer and second).
    EfectivoLocationUpdate(EfectivoLocation),
    /// Emergencies (topic `emergencias`, to supervisors and the officer called) and
    /// monitoring alerts (topic `monitoreo`, to levels 2 and 3); always delivered, whatever the
    /// subscription.
    Alert(Alert),
    /// A broadcast from an administrator (`POST /api/v1/admin/agent/command`), or the
    /// confirmation of a `subscribe`.
    Notification(Notification),
    /// The same object as `GET /api/v1/stats/overview` (level 2+, on request, at most once per
    /// second per socket).
    DashboardUpdate(Overview),
    /// Request and socket figures of the instance (level 2+, on request).
    MetricsUpdate(MetricsUpdate),
    /// Heartbeat; answer with `pong` or the socket closes (1001).
    Ping(Ping),
    /// The answer to a client's `ping`.
    Pong(Pong),
    /// A client message refused; the socket stays open.
    Error(ErrorFrame),
    /// A note added to a task (desk or field): to supervisors and the task's officers.
    TaskNoteAdded(NoteAdded),
    /// A file attached to a task (its record, not its bytes): to supervisors and the task's
    /// officers.
    TaskAttachmentAdded(AttachmentAdded),
    /// An officer clocked in to or out of a shift (to supervisors, topic `turnos`): the roster
    /// page follows it.
    ShiftClock(ShiftClock),
    /// A persisted alert marked seen by a supervisor (to supervisors, topic `alertas`): every
    /// dashboard drops it.
    AlertSeen(AlertSeen),
    /// A message between the desk and officers written, or a recipient's delivery state
    /// changed: to its sender and every level 2+.
    Message(MessageEvent),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::ConnectionAck(_) => EventType::ConnectionAck,
            Event::SystemStatus(_) => EventType::SystemStatus,
            Event::TaskCreated(_) => EventType::TaskCreated,
            Event::TaskUpdated(_) => EventType::TaskUpdated,
            Event::TaskStatusChanged(_) => EventType::TaskStatusChanged,
            Event::TaskAssigned(_) => EventType::TaskAssigned,
            Event::EfectivoStatusChanged(_) => EventType::EfectivoStatusChanged,
            Event::EfectivoLocationUpdate(_) => EventType::EfectivoLocationUpdate,
            Event::Alert(_) => EventType::Alert,
            Event::Notification(_) => EventType::Notification,
            Event::DashboardUpdate(_) => EventType::DashboardUpdate,
            Event::MetricsUpdate(_) => EventType::MetricsUpdate,
            Event::Ping(_) => EventType::Ping,
            Event::Pong(_) => EventType::Pong,
            Event::Error(_) => EventType::Error,
            Event::TaskNoteAdded(_) => EventType::TaskNoteAdded,
            Event::TaskAttachmentAdded(_) => EventType::TaskAttachmentAdded,
            Event::ShiftClock(_) => EventType::ShiftClock,
            Event::AlertSeen(_) => EventType::AlertSeen,
            Event::Message(_) => EventType::Message,
        }
    }

    /// The task this event carries, if any.
    fn tarea_mut(&mut self) -> Option<&mut Tarea> {
        match self {
            Event::TaskCreated(t) | Event::TaskUpdated(TaskUpdated::Changed(t)) => Some(t),
            Event::TaskUpdated(TaskUpdated::Deleted(d)) => Some(&mut d.tarea),
            Event::TaskStatusChanged(TaskStatusChanged::Transition(t)) => Some(&mut t.tarea),
            Event::TaskAssigned(TaskAssigned::Officers(a)) => Some(&mut a.tarea),
            _ => None,
        }
    }

    /// This event for `audience` (no topic yet). Events reach officers, so a task they carry
    /// loses what only level 2+ may read (the incident's caller).
    pub fn to(mut self, audience: Audience) -> DomainEvent {
        if let Some(t) = self.tarea_mut() {
            t.hide_personal();
        }
        DomainEvent {
            event: self,
            audience,
            topics: Vec::new(),
        }
    }

    /// (lat, lng) of a location event, for the sockets' bounding boxes.
    pub fn position(&self) -> Option<(f64, f64)> {
        match self {
            Event::EfectivoLocationUpdate(l) => Some((l.lat, l.lng)),
            _ => None,
        }
    }
}

/// An event with its routing: who may receive it and the topics it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub event: Event,
    pub audience: Audience,
    /// Topics this event belongs to (`task:<id>`, `efectivo:<id>`, `emergencias`).
    pub topics: Vec<String>,
}

impl DomainEvent {
    pub fn topic(mut self, t: impl Into<String>) -> DomainEvent {
        self.topics.push(t.into());
        self
    }
}

/// One frame on the socket: the event (`event_type`, `data`) and its delivery fields.
#[derive(Debug, Serialize)]
pub struct Frame<'a> {
    #[serde(flatten)]
    pub event: &'a Event,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// The fields every frame carries besides `event_type` and `data`.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// When the frame was written.
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// One per event: every copy of an event (every socket, every instance) shares it.
    #[schema(format = Uuid)]
    pub message_id: String,
    /// The one user the event is about when its audience is one user; the socket's own user
    /// on an answer to that socket.
    pub target_user_id: Option<i64>,
    /// `supervisor`, `efectivo` or `unidad:<name>` for an event to a whole group.
    pub target_role: Option<String>,
    /// The event's first topic (`task:<id>`, `efectivo:<id>`, `emergencias`, `monitoreo`).
    pub topic: Option<String>,
}

impl Frame<'_> {
    /// The frame's text with a fresh `message_id`.
    pub fn text(
        event: &Event,
        target_user_id: Option<i64>,
        target_role: Option<String>,
        topic: Option<&str>,
    ) -> String {
        let frame = Frame {
            event,
            delivery: Delivery {
                timestamp: gad_core::time::now_rfc3339(),
                message_id: uuid::Uuid::new_v4().to_string(),
                target_user_id,
                target_role,
                topic: topic.map(str::to_string),
            },
        };
        // Every payload is plain data with string keys: serialising cannot fail.
        serde_json::to_string(&frame).unwrap_or_default()
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
        tracing::info!(event_type = event.event.event_type().as_str(), topics = ?event.topics, "domain event");
        for s in self.sinks.read().iter() {
            s.deliver(&event);
        }
    }
}

/// The version of [`Envelope`] this build writes; a reader drops a newer one it cannot know.
pub const ENVELOPE_VERSION: u8 = 1;

/// The version of a message that only tells the other instances to forget a user's cached
/// authentication (`Envelope::auth_user`): a reader of version 1 drops it instead of taking it
/// for an event.
pub const AUTH_ENVELOPE_VERSION: u8 = 2;

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
    /// The socket frame ([`Frame`]), already serialised; empty for a control message.
    pub p: String,
    /// Control: close every socket of this user (session ended on some instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<i64>,
    /// Control: forget the cached authentication of this user (what their sessions carry
    /// changed; the sessions live on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_user: Option<i64>,
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
            .filter(|e| e.v <= AUTH_ENVELOPE_VERSION)
    }

    /// The event the frame carries; `None` for a control message or a frame this build cannot
    /// read.
    pub fn event(&self) -> Option<Event> {
        if self.end_user.is_some() || self.auth_user.is_some() {
            return None;
        }
        serde_json::from_str::<Event>(&self.p).ok()
    }
}

/// Authenticates the fan-out channel: every message between processes carries an HMAC-SHA256 of
/// its envelope under a key derived from the server's secret, so whoever can write to Redis but
/// does not hold the secret cannot inject an event (a fake emergency alert, a session close).
#[derive(Clone)]
pub struct FanoutKey(ring::hmac::Key);

/// Length of the hex signature that prefixes a signed message (`<64 hex>.<envelope JSON>`).
const SIGNATURE_HEX: usize = 64;

/// Why a fan-out message was dropped (the label of `fanout_messages_dropped_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// No signature (or not in the signed format).
    Unsigned,
    /// A signature that does not verify under this deployment's key.
    BadSignature,
    /// Authentic but unreadable (or of a newer envelope version).
    Unreadable,
}

impl Dropped {
    pub const ALL: [&'static str; 3] = ["unsigned", "bad_signature", "unreadable"];
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::Unsigned => "unsigned",
            Dropped::BadSignature => "bad_signature",
            Dropped::Unreadable => "unreadable",
        }
    }
}

impl FanoutKey {
    /// Derives the channel's key from the server's secret (HMAC-SHA256 under a fixed label, so
    /// the key is never the secret itself and differs from every other key derived from it).
    pub fn derive(secret: &str) -> FanoutKey {
        use ring::hmac;
        let label = hmac::Key::new(hmac::HMAC_SHA256, b"gad-fanout-key-v1");
        let raw = hmac::sign(&label, secret.as_bytes());
        FanoutKey(hmac::Key::new(hmac::HMAC_SHA256, raw.as_ref()))
    }

    /// The message to publish: `<hex HMAC of the JSON>.<envelope JSON>`.
    pub fn seal(&self, envelope: &Envelope) -> Option<String> {
        let json = serde_json::to_string(envelope).ok()?;
        let tag = ring::hmac::sign(&self.0, json.as_bytes());
        Some(format!("{}.{json}", hex::encode(tag.as_ref())))
    }

    /// The envelope of a message read from the channel, if it is signed with this key.
    pub fn open(&self, payload: &[u8]) -> Result<Envelope, Dropped> {
        if payload.len() <= SIGNATURE_HEX || payload[SIGNATURE_HEX] != b'.' {
            return Err(Dropped::Unsigned);
        }
        let (sig, body) = (&payload[..SIGNATURE_HEX], &payload[SIGNATURE_HEX + 1..]);
        let sig = hex::decode(sig).map_err(|_| Dropped::Unsigned)?;
        ring::hmac::verify(&self.0, body, &sig).map_err(|_| Dropped::BadSignature)?;
        Envelope::decode(body).ok_or(Dropped::Unreadable)
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

#[cfg(test)]
mod tests {
    //! The typed payloads serialise to exactly the objects the producers wrote by hand before
    //! (the expected values below are those objects), and every frame reads back as the same
    //! event (the bot's side of the fan-out).
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use gad_core::{EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad, TipoTarea};
    use serde_json::{Value, json};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 14, 3, 22).unwrap() + chrono::Duration::milliseconds(120)
    }
    const T0: &str = "2026-11-28T14:03:22.120Z";

    fn tarea() -> Tarea {
        Tarea {
            id: 7,
            uuid: uuid::Uuid::nil(),
            codigo: "T-7".into(),
            titulo: "Patrulla".into(),
            descripcion: None,
            tipo: TipoTarea::Patrullaje,
            prioridad: Prioridad::Media,
            estado: EstadoTarea::EnCurso,
            inicio_programado: t0(),
            fin_programado: None,
            inicio_real: Some(t0()),
            fin_real: None,
            pausado_en: None,
            tiempo_pausado_segundos: 0,
            duracion_real_horas: None,
            delegado_usuario_id: 3,
            creado_por_usuario_id: Some(2),
            efectivos_asignados: vec![11],
            ubicacion_lat: Some(-34.6),
            ubicacion_lon: Some(-58.38),
            ubicacion_descripcion: None,
            notas: json!({}),
            created_at: t0(),
            updated_at: t0(),
            deleted_at: None,
            es_emergencia: false,
            nro_incidente: None,
            incidente: None,
            zona_id: None,
            comisaria_id: None,
            cuadrante_id: None,
        }
    }

    /// Every shape each event type has, with the object it must serialise to.
    fn cases() -> Vec<(Event, Value)> {
        let t = tarea();
        let tj = serde_json::to_value(&t).unwrap();
        let step = |evento, codigo: Option<&str>, motivo: Option<Option<&str>>| {
            Event::TaskStatusChanged(TaskStatusChanged::Dispatch(DispatchStep {
                task_id: 7,
                codigo: codigo.map(str::to_string),
                evento,
                efectivo_id: 11,
                usuario_id: 5,
                motivo: motivo.map(|m| m.map(str::to_string)),
            }))
        };
        vec![
            (Event::TaskCreated(t.clone()), tj.clone()),
            (
                Event::TaskUpdated(TaskUpdated::Changed(t.clone())),
                tj.clone(),
            ),
            (
                Event::TaskUpdated(TaskUpdated::Deleted(TaskDeleted {
                    task_id: 7,
                    codigo: "T-7".into(),
                    deleted: true,
                    tarea: t.clone(),
                })),
                json!({"task_id": 7, "codigo": "T-7", "deleted": true, "tarea": tj}),
            ),
            (
                Event::TaskAssigned(TaskAssigned::Officers(OfficersAssigned {
                    task_id: 7,
                    codigo: "T-7".into(),
                    efectivos_asignados: vec![11],
                    tarea: Box::new(t.clone()),
                })),
                json!({"task_id": 7, "codigo": "T-7", "efectivos_asignados": [11], "tarea": tj}),
            ),
            (
                Event::TaskAssigned(TaskAssigned::Dispatch(DispatchCall {
                    task_id: 7,
                    codigo: "EMG-7".into(),
                    efectivo_id: 11,
                    usuario_id: 5,
                    distance_m: 120.5,
                    ack_status: AckPending::PendienteConfirmacion,
                    ack_deadline: t0(),
                    refuerzo: true,
                    lat: Some(-34.6),
                    lng: None,
                })),
                json!({"task_id": 7, "codigo": "EMG-7", "efectivo_id": 11, "usuario_id": 5,
                       "distance_m": 120.5, "ack_status": "pendiente_confirmacion",
                       "ack_deadline": T0, "refuerzo": true, "lat": -34.6, "lng": null}),
            ),
            (
                Event::TaskStatusChanged(TaskStatusChanged::Transition(TaskTransition {
                    task_id: 7,
                    codigo: "T-7".into(),
                    estado_anterior: EstadoTarea::Programada,
                    estado_nuevo: EstadoTarea::EnCurso,
                    usuario_id: 2,
                    nota: None,
                    tarea: Box::new(t.clone()),
                })),
                json!({"task_id": 7, "codigo": "T-7", "estado_anterior": "programada",
                       "estado_nuevo": "en_curso", "usuario_id": 2, "nota": null, "tarea": tj}),
            ),
            (
                step(DispatchEvento::Aceptado, Some("EMG-7"), None),
                json!({"task_id": 7, "codigo": "EMG-7", "evento": "aceptado", "efectivo_id": 11,
                       "usuario_id": 5}),
            ),
            (
                step(DispatchEvento::Rechazado, Some("EMG-7"), Some(None)),
                json!({"task_id": 7, "codigo": "EMG-7", "evento": "rechazado", "efectivo_id": 11,
                       "usuario_id": 5, "motivo": null}),
            ),
            (
                step(
                    DispatchEvento::Vencido,
                    Some("EMG-7"),
                    Some(Some("sin respuesta")),
                ),
                json!({"task_id": 7, "codigo": "EMG-7", "evento": "vencido", "efectivo_id": 11,
                       "usuario_id": 5, "motivo": "sin respuesta"}),
            ),
            (
                step(DispatchEvento::Llegada, None, None),
                json!({"task_id": 7, "evento": "llegada", "efectivo_id": 11, "usuario_id": 5}),
            ),
            (
                Event::EfectivoStatusChanged(EfectivoStatusChanged::Task(UnitStatus {
                    efectivo_id: 11,
                    usuario_id: 5,
                    estado_anterior: EstadoDisponibilidad::EnTarea,
                    estado_nuevo: EstadoDisponibilidad::Disponible,
                    estado_disponibilidad: EstadoDisponibilidad::Disponible,
                    tarea_id: 7,
                })),
                json!({"efectivo_id": 11, "usuario_id": 5, "estado_anterior": "en_tarea",
                       "estado_nuevo": "disponible", "estado_disponibilidad": "disponible",
                       "tarea_id": 7}),
            ),
            (
                Event::EfectivoStatusChanged(EfectivoStatusChanged::Set(OfficerStatus {
                    efectivo_id: 11,
                    usuario_id: 5,
                    estado_anterior: EstadoDisponibilidad::EnCamino,
                    estado: EstadoDisponibilidad::EnEscena,
                    unidad: None,
                    timestamp: t0(),
                })),
                json!({"efectivo_id": 11, "usuario_id": 5, "estado_anterior": "en_camino",
                       "estado": "en_escena", "unidad": null, "timestamp": T0}),
            ),
            (
                Event::EfectivoLocationUpdate(EfectivoLocation {
                    efectivo_id: 11,
                    usuario_id: 5,
                    lat: -34.6,
                    lng: -58.38,
                    accuracy_m: Some(5.0),
                    heading: None,
                    speed: None,
                    estado: EstadoDisponibilidad::Disponible,
                    updated_at: Some(t0()),
                }),
                json!({"efectivo_id": 11, "usuario_id": 5, "lat": -34.6, "lng": -58.38,
                       "accuracy_m": 5.0, "heading": null, "speed": null, "estado": "disponible",
                       "updated_at": T0}),
            ),
            (
                Event::Alert(Alert::Emergency(EmergencyAlert {
                    title: "Emergencia".into(),
                    level: AlertLevel::Critical,
                    task_id: 7,
                    codigo: "EMG-7".into(),
                    efectivo_id: 11,
                    usuario_id: 5,
                    distance_m: 12.34,
                    lat: -34.6,
                    lng: -58.38,
                    descripcion: None,
                    reported_by: 2,
                    created_at: t0(),
                    incidente: None,
                    alerta_id: None,
                })),
                json!({"title": "Emergencia", "level": "critical", "task_id": 7, "codigo": "EMG-7",
                       "efectivo_id": 11, "usuario_id": 5, "distance_m": 12.34, "lat": -34.6,
                       "lng": -58.38, "descripcion": null, "reported_by": 2, "created_at": T0}),
            ),
            (
                Event::Alert(Alert::Called(CalledAlert {
                    title: "Refuerzo solicitado".into(),
                    level: AlertLevel::Critical,
                    task_id: 7,
                    codigo: "EMG-7".into(),
                    efectivo_id: 11,
                    usuario_id: 5,
                    distance_m: 12.34,
                    ack_deadline: t0(),
                    lat: None,
                    lng: Some(-58.38),
                    incidente: None,
                })),
                json!({"title": "Refuerzo solicitado", "level": "critical", "task_id": 7,
                       "codigo": "EMG-7", "efectivo_id": 11, "usuario_id": 5, "distance_m": 12.34,
                       "ack_deadline": T0, "lat": null, "lng": -58.38}),
            ),
            (
                Event::Alert(Alert::Unassigned(UnassignedAlert {
                    title: "Emergencia sin asignar".into(),
                    level: AlertLevel::Critical,
                    task_id: 7,
                    codigo: "EMG-7".into(),
                    intentos: 3,
                    lat: Some(-34.6),
                    lng: Some(-58.38),
                    alerta_id: None,
                })),
                json!({"title": "Emergencia sin asignar", "level": "critical", "task_id": 7,
                       "codigo": "EMG-7", "intentos": 3, "lat": -34.6, "lng": -58.38}),
            ),
            (
                Event::Alert(Alert::EmergencyRefused(EmergencyRefusedAlert {
                    title: "Emergencia rechazada por límite".into(),
                    level: AlertLevel::Critical,
                    reported_by: 2,
                    lat: -34.6,
                    lng: -58.38,
                    descripcion: None,
                    limite: 10,
                    window_seconds: 3600,
                    refused_at: t0(),
                })),
                json!({"title": "Emergencia rechazada por límite", "level": "critical",
                       "reported_by": 2, "lat": -34.6, "lng": -58.38, "descripcion": null,
                       "limite": 10, "window_seconds": 3600, "refused_at": T0}),
            ),
            (
                Event::Alert(Alert::Monitoring(MonitoringAlert {
                    title: "Alerta de monitoreo: GadDown".into(),
                    level: AlertLevel::Warning,
                    source: AlertSource::Alertmanager,
                    status: AlertStatus::Firing,
                    alertname: "GadDown".into(),
                    severity: Some("warning".into()),
                    summary: None,
                    description: Some("down".into()),
                    labels: [("alertname".to_string(), "GadDown".to_string())].into(),
                    starts_at: t0(),
                    ends_at: None,
                    generator_url: None,
                    fingerprint: Some("abc".into()),
                    receiver: "gad".into(),
                    group_key: "{}:{}".into(),
                })),
                json!({"title": "Alerta de monitoreo: GadDown", "level": "warning",
                       "source": "alertmanager", "status": "firing", "alertname": "GadDown",
                       "severity": "warning", "summary": null, "description": "down",
                       "labels": {"alertname": "GadDown"}, "starts_at": T0, "ends_at": null,
                       "generator_url": null, "fingerprint": "abc", "receiver": "gad",
                       "group_key": "{}:{}"}),
            ),
            (
                Event::Notification(Notification {
                    title: "Aviso".into(),
                    content: "Texto".into(),
                    level: "warning".into(),
                    audience: Some("unidad:Norte".into()),
                    from_user_id: Some(1),
                    timestamp: Some(t0()),
                }),
                json!({"title": "Aviso", "content": "Texto", "level": "warning",
                       "audience": "unidad:Norte", "from_user_id": 1, "timestamp": T0}),
            ),
            (
                Event::Notification(Notification {
                    title: "Suscripción confirmada".into(),
                    content: "Suscrito a 2 tipos de eventos".into(),
                    level: "info".into(),
                    audience: None,
                    from_user_id: None,
                    timestamp: None,
                }),
                json!({"title": "Suscripción confirmada",
                       "content": "Suscrito a 2 tipos de eventos", "level": "info"}),
            ),
            (
                Event::ConnectionAck(ConnectionAck {
                    connection_id: "c".into(),
                    connected_at: t0(),
                    server_time: t0(),
                    user_id: None,
                    nivel: Nivel::Supervisor,
                }),
                json!({"connection_id": "c", "connected_at": T0, "server_time": T0,
                       "user_id": null, "nivel": 2}),
            ),
            (
                Event::SystemStatus(Snapshot::Part(SnapshotPart {
                    emergencias_activas: vec![TaskLine {
                        id: 7,
                        codigo: "EMG-7".into(),
                        titulo: "Emergencia".into(),
                        estado: EstadoTarea::EnCurso,
                        prioridad: Prioridad::Critica,
                    }],
                    efectivos: vec![OfficerDot {
                        id: 11,
                        lat: -34.6,
                        lng: -58.38,
                        estado: EstadoDisponibilidad::EnTarea,
                        nombre: Some("Ana Pérez".into()),
                    }],
                    part: 1,
                    parts: 1,
                    error: None,
                })),
                json!({"emergencias_activas": [{"id": 7, "codigo": "EMG-7", "titulo": "Emergencia",
                                                "estado": "en_curso", "prioridad": 5}],
                       "efectivos": [{"id": 11, "lat": -34.6, "lng": -58.38, "estado": "en_tarea",
                                      "nombre": "Ana Pérez"}],
                       "part": 1, "parts": 1}),
            ),
            (
                Event::SystemStatus(Snapshot::Own(OwnTasks {
                    tareas_abiertas: Vec::new(),
                    error: Some("snapshot unavailable".into()),
                })),
                json!({"tareas_abiertas": [], "error": "snapshot unavailable"}),
            ),
            (
                Event::ShiftClock(ShiftClock {
                    accion: "ingreso".into(),
                    turno_id: 3,
                    efectivo_id: 11,
                    ingreso_tarde: false,
                    at: t0(),
                }),
                json!({"accion": "ingreso", "turno_id": 3, "efectivo_id": 11,
                       "ingreso_tarde": false, "at": T0}),
            ),
            (
                Event::AlertSeen(AlertSeen {
                    alerta_id: 4,
                    kind: "checkin_sin_respuesta".into(),
                    visto_por: 2,
                    visto_at: t0(),
                }),
                json!({"alerta_id": 4, "kind": "checkin_sin_respuesta", "visto_por": 2,
                       "visto_at": T0}),
            ),
            (
                Event::Ping(Ping { server_time: t0() }),
                json!({"server_time": T0}),
            ),
            (
                Event::Pong(Pong { timestamp: t0() }),
                json!({"timestamp": T0}),
            ),
            (
                Event::Error(ErrorFrame {
                    error: "Invalid JSON format".into(),
                }),
                json!({"error": "Invalid JSON format"}),
            ),
            (
                Event::MetricsUpdate(MetricsUpdate {
                    http: HttpFigures {
                        requests_total: 10,
                        errors_5xx_total: 0,
                        p95_ms: 1.5,
                    },
                    websocket: SocketFigures {
                        active_connections: 2,
                        connections_total: 3,
                        connections_by_role: ByLevel {
                            efectivo: 1,
                            supervisor: 1,
                            administrador: 0,
                        },
                        unique_users: 2,
                        messages_sent: 9,
                        broadcasts: 4,
                        send_errors: 0,
                        message_latency_p95_ms: 0.2,
                        fanout: "local".into(),
                    },
                    uptime_seconds: 12.0,
                    timestamp: t0(),
                }),
                json!({"http": {"requests_total": 10, "errors_5xx_total": 0, "p95_ms": 1.5},
                       "websocket": {"active_connections": 2, "connections_total": 3,
                                     "connections_by_role": {"1": 1, "2": 1, "3": 0},
                                     "unique_users": 2, "messages_sent": 9, "broadcasts": 4,
                                     "send_errors": 0, "message_latency_p95_ms": 0.2,
                                     "fanout": "local"},
                       "uptime_seconds": 12.0, "timestamp": T0}),
            ),
        ]
    }

    #[test]
    fn payloads_serialise_to_the_wire_objects() {
        for (event, data) in cases() {
            let v = serde_json::to_value(&event).unwrap();
            assert_eq!(v["event_type"], event.event_type().as_str(), "{event:?}");
            assert_eq!(v["data"], data, "{}", event.event_type().as_str());
        }
    }

    #[test]
    fn fanout_messages_open_only_when_signed_with_the_deployments_key() {
        let key = FanoutKey::derive("the-server-secret");
        let envelope = Envelope {
            v: ENVELOPE_VERSION,
            o: "instance".into(),
            e: EventType::Notification,
            a: Audience::Everyone,
            t: Vec::new(),
            ts: 1,
            p: String::new(),
            end_user: Some(7),
            auth_user: None,
            g: None,
        };
        let sealed = key.seal(&envelope).unwrap();
        assert_eq!(key.open(sealed.as_bytes()).unwrap().end_user, Some(7));
        // The bare envelope (what a writer without the secret can produce) is dropped.
        let bare = serde_json::to_string(&envelope).unwrap();
        assert_eq!(key.open(bare.as_bytes()).err(), Some(Dropped::Unsigned));
        // Signed with another secret, or altered after signing.
        let other = FanoutKey::derive("another-secret").seal(&envelope).unwrap();
        assert_eq!(
            key.open(other.as_bytes()).err(),
            Some(Dropped::BadSignature)
        );
        let altered = sealed.replace("\"end_user\":7", "\"end_user\":8");
        assert_eq!(
            key.open(altered.as_bytes()).err(),
            Some(Dropped::BadSignature)
        );
    }

    #[test]
    fn a_frame_carries_the_delivery_fields_and_reads_back_as_the_same_event() {
        for (event, data) in cases() {
            let text = Frame::text(&event, Some(5), None, Some("task:7"));
            let v: Value = serde_json::from_str(&text).unwrap();
            let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "data",
                    "event_type",
                    "message_id",
                    "target_role",
                    "target_user_id",
                    "timestamp",
                    "topic"
                ]
            );
            assert_eq!(v["data"], data);
            assert_eq!(v["target_user_id"], 5);
            assert_eq!(v["target_role"], Value::Null);
            assert_eq!(v["topic"], "task:7");
            let envelope = Envelope {
                v: ENVELOPE_VERSION,
                o: "instance".into(),
                e: event.event_type(),
                a: Audience::Supervisors,
                t: Vec::new(),
                ts: 0,
                p: text,
                end_user: None,
                auth_user: None,
                g: event.position(),
            };
            let wire = serde_json::to_vec(&envelope).unwrap();
            let read = Envelope::decode(&wire).unwrap();
            assert_eq!(read.event(), Some(event));
        }
    }

    #[test]
    fn every_event_type_of_a_variant_is_its_tag() {
        for (event, _) in cases() {
            assert_eq!(
                EventType::parse(event.event_type().as_str()),
                Some(event.event_type())
            );
        }
    }
}
