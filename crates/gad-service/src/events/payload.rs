//! The payload (`data`) of every frame the server sends on `/ws/connect`, one type per shape.
//!
//! These types are the wire contract of the socket: their serde form is what clients receive
//! (field names, `null`s and absent keys included), and their `ToSchema` is what
//! `docs/asyncapi.yaml` states. An event type produced in more than one situation with
//! different fields is an untagged enum of the shapes it has; the variants are tried in order
//! when a frame is read back (the bot), so the one with the most distinctive required fields
//! comes first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gad_core::{EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

pub use crate::alerts::AlertStatus;
pub use gad_store::stats::Overview;
pub use gad_store::tareas::Tarea;

/// Severity of an `alert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    Info,
    Warning,
    Critical,
}

// ---------------------------------------------------------------------------------------------
// Tasks

/// `task_note_added`: a note added to a task (desk or field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NoteAdded {
    pub task_id: i64,
    /// The case number of an incident, else the task's code (what a person reads).
    pub codigo: String,
    /// The note exactly as `GET /api/v1/tasks/{id}/notas` lists it.
    pub nota: crate::evidencia::Nota,
}

/// `task_attachment_added`: a file attached to a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttachmentAdded {
    pub task_id: i64,
    pub codigo: String,
    /// The attachment exactly as `GET /api/v1/tasks/{id}/adjuntos` lists it.
    pub adjunto: crate::evidencia::Adjunto,
}

/// `task_updated`: the task after a change, or the deletion of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TaskUpdated {
    Deleted(TaskDeleted),
    /// The task as `GET /api/v1/tasks/{id}` returns it after the change.
    Changed(Tarea),
}

/// A task deleted by an administrator (its officers are released).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskDeleted {
    pub task_id: i64,
    pub codigo: String,
    /// Always true.
    pub deleted: bool,
    /// The task as it was deleted (`deleted_at` set).
    pub tarea: Tarea,
}

/// `task_assigned`: officers assigned by a supervisor, or an officer called by the dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TaskAssigned {
    Dispatch(DispatchCall),
    Officers(OfficersAssigned),
}

/// The task's officers changed (created with officers, or their list edited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OfficersAssigned {
    pub task_id: i64,
    pub codigo: String,
    pub efectivos_asignados: Vec<i64>,
    pub tarea: Box<Tarea>,
}

/// An officer called to an emergency by a re-dispatch (after a decline or a silence) or as
/// backup; the officer must acknowledge before `ack_deadline`. Announced to the officer with an
/// `alert` too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DispatchCall {
    pub task_id: i64,
    pub codigo: String,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    /// Metres from the incident (spheroid), 2 decimals.
    pub distance_m: f64,
    pub ack_status: AckPending,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub ack_deadline: DateTime<Utc>,
    /// Called as backup (true) or as the emergency's unit (false).
    pub refuerzo: bool,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

/// The state of a dispatch nobody has answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckPending {
    PendienteConfirmacion,
}

/// `task_status_changed`: a state transition of the task, or a step of its dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TaskStatusChanged {
    Transition(TaskTransition),
    Dispatch(DispatchStep),
}

/// The task moved from one state to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskTransition {
    pub task_id: i64,
    pub codigo: String,
    pub estado_anterior: EstadoTarea,
    pub estado_nuevo: EstadoTarea,
    /// Who made the change.
    pub usuario_id: i64,
    pub nota: Option<String>,
    pub tarea: Box<Tarea>,
}

/// An officer's answer to a dispatch, a silence past the deadline, or the arrival on scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DispatchStep {
    pub task_id: i64,
    /// Absent on `llegada`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codigo: Option<String>,
    pub evento: DispatchEvento,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    /// Present (maybe null) on `rechazado` and `vencido` only: why.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schema(value_type = Option<String>)]
    pub motivo: Option<Option<String>>,
}

/// A key that is present, even as `null` (`Some(None)`); `#[serde(default)]` makes an absent
/// one `None`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What happened to a dispatch (the timeline's `evento`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispatchEvento {
    Aceptado,
    Rechazado,
    Vencido,
    Llegada,
}

// ---------------------------------------------------------------------------------------------
// Officers

/// `efectivo_status_changed`: a unit moved by its task, or an availability set by a person or
/// by the arrival on scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EfectivoStatusChanged {
    Task(UnitStatus),
    Set(OfficerStatus),
}

/// The unit's status moved by its task: `en_camino` on accepting a dispatch, back to
/// `disponible` after a decline, a silence or the end of the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnitStatus {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub estado_anterior: EstadoDisponibilidad,
    pub estado_nuevo: EstadoDisponibilidad,
    /// The same as `estado_nuevo`.
    pub estado_disponibilidad: EstadoDisponibilidad,
    pub tarea_id: i64,
}

/// The officer's availability as it now stands (availability route, record update, arrival).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OfficerStatus {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub estado_anterior: EstadoDisponibilidad,
    pub estado: EstadoDisponibilidad,
    pub unidad: Option<String>,
    /// When the status last changed.
    #[serde(serialize_with = "gad_core::time::ser")]
    pub timestamp: DateTime<Utc>,
}

/// `efectivo_location_update`: the officer's current position (at most one per officer and
/// second reaches a socket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EfectivoLocation {
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: Option<f64>,
    pub heading: Option<f64>,
    pub speed: Option<f64>,
    pub estado: EstadoDisponibilidad,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `shift_clock`: an officer clocked in to (`ingreso`) or out of (`egreso`) a shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShiftClock {
    /// `ingreso` | `egreso`.
    pub accion: String,
    pub turno_id: i64,
    pub efectivo_id: i64,
    /// Clocked in more than TURNO_TOLERANCIA_MINUTOS after the planned start.
    pub ingreso_tarde: bool,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub at: DateTime<Utc>,
}

/// `alert_seen`: a persisted alert (`GET /api/v1/alertas`) marked seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertSeen {
    pub alerta_id: i64,
    pub kind: String,
    /// The supervisor who marked it seen first.
    pub visto_por: i64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub visto_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Alerts and notifications

/// `alert`: always delivered, whatever the socket's subscription (topic `emergencias` for
/// emergencies, `monitoreo` for monitoring).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Alert {
    Monitoring(MonitoringAlert),
    Emergency(EmergencyAlert),
    Called(CalledAlert),
    Unassigned(UnassignedAlert),
    EmergencyRefused(EmergencyRefusedAlert),
    Checkin(CheckinAlert),
    Shift(ShiftAlert),
    Zona(ZonaAlert),
    // Last: an untagged enum tries its variants in order.
    Shortfall(ShortfallAlert),
}

/// An officer-safety check-in step: `checkin_pregunta` ("¿Todo bien?", to the officer, level
/// `info`), `checkin_apoyo` (the officer asked for help, `warning`) and `checkin_sin_respuesta`
/// (no answer within the grace period, `critical`), both to supervisors and kept in
/// `GET /api/v1/alertas` (`alerta_id`) until one of them marks it seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckinAlert {
    pub title: String,
    pub level: AlertLevel,
    /// `checkin_pregunta`, `checkin_apoyo` or `checkin_sin_respuesta`.
    pub kind: String,
    /// The persisted alert to mark seen (`POST /api/v1/alertas/{id}/visto`); null for a question.
    pub alerta_id: Option<i64>,
    pub task_id: i64,
    pub codigo: String,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub at: DateTime<Utc>,
}

/// A patrol outside its cuadrante (to the supervisors of the cuadrante's comisaría, topic
/// `alertas`, and the task's topic when a task names the cuadrante): `zona_salida` (outside
/// longer than `ZONA_SALIDA_MINUTOS`, `warning`, kept in `GET /api/v1/alertas` until seen) and
/// `zona_entrada` (back inside after an exit, `info`, recorded already seen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZonaAlert {
    pub title: String,
    pub level: AlertLevel,
    /// `zona_salida` | `zona_entrada`.
    pub kind: String,
    /// The persisted alert (`POST /api/v1/alertas/{id}/visto`).
    pub alerta_id: i64,
    /// The cuadrante.
    pub zona_id: i64,
    pub zona_nombre: String,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub codigo_interno: String,
    /// The task that names the cuadrante (null: the shift does).
    pub task_id: Option<i64>,
    /// The shift that names the cuadrante (null: a task does).
    pub turno_id: Option<i64>,
    /// When the officer was first seen outside.
    #[serde(serialize_with = "gad_core::time::ser")]
    pub fuera_desde: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub at: DateTime<Utc>,
}

/// The roster's watch (to supervisors, topic `turnos`): `Turno sin ingreso` (a shift not
/// clocked in 15 minutes after its start), or `Turno sin egreso` (an officer still clocked in
/// 2 h after the end; to that officer too, whom the bot reminds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShiftAlert {
    pub title: String,
    pub level: AlertLevel,
    /// `sin_ingreso` | `sin_egreso`.
    pub motivo: String,
    pub turno_id: i64,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub codigo_interno: String,
    pub unidad: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub inicio: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub fin: DateTime<Utc>,
}

/// An SOS refused because its level-1 caller reached `EMERGENCY_MAX_PER_HOUR` (to supervisors,
/// topic `emergencias`): a refused emergency is never silently dropped, people see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmergencyRefusedAlert {
    /// `Emergencia rechazada por límite`.
    pub title: String,
    pub level: AlertLevel,
    /// The user whose emergency was refused.
    pub reported_by: i64,
    pub lat: f64,
    pub lng: f64,
    pub descripcion: Option<String>,
    /// Emergencies that user may raise in the window.
    pub limite: i64,
    pub window_seconds: i64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub refused_at: DateTime<Utc>,
}

/// An emergency raised and its nearest officer dispatched (to that officer and supervisors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmergencyAlert {
    /// `Emergencia`.
    pub title: String,
    pub level: AlertLevel,
    pub task_id: i64,
    pub codigo: String,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    /// Metres from the reported point (spheroid), 2 decimals.
    pub distance_m: f64,
    pub lat: f64,
    pub lng: f64,
    pub descripcion: Option<String>,
    /// The user who raised it.
    pub reported_by: i64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    /// The incident as recorded at intake (absent on emergencies raised before case numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incidente: Option<IncidentSummary>,
    /// The console alarm (`emergencia_nueva`) to mark seen with `POST /api/v1/alertas/{id}/visto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerta_id: Option<i64>,
}

/// What an officer called to an incident is told about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentSummary {
    /// `2026-000123`.
    pub nro_incidente: Option<String>,
    pub tipo_incidente: Option<String>,
    /// The type's name (`Robo`).
    pub tipo_nombre: Option<String>,
    /// 1–5, 5 most urgent.
    pub prioridad: i16,
    pub direccion: Option<String>,
    pub referencia: Option<String>,
}

/// A typed incident's response plan could not be filled (to supervisors, topic
/// `emergencias`): fewer officers were available than the type requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShortfallAlert {
    /// `Dotación incompleta`.
    pub title: String,
    pub level: AlertLevel,
    pub task_id: i64,
    pub codigo: String,
    pub nro_incidente: Option<String>,
    pub tipo_incidente: String,
    /// Officers the type requires.
    pub requeridos: i64,
    /// Officers dispatched.
    pub despachados: i64,
    /// Officers missing.
    pub faltantes: i64,
    pub lat: f64,
    pub lng: f64,
}

/// An officer called by a re-dispatch (`Emergencia`) or as backup (`Refuerzo solicitado`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CalledAlert {
    pub title: String,
    pub level: AlertLevel,
    pub task_id: i64,
    pub codigo: String,
    pub efectivo_id: i64,
    pub usuario_id: i64,
    pub distance_m: f64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub ack_deadline: DateTime<Utc>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// The incident as recorded at intake (absent on emergencies raised before case numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incidente: Option<IncidentSummary>,
}

/// `Emergencia sin asignar`: attempts exhausted or nobody in range (every level 2+).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnassignedAlert {
    pub title: String,
    pub level: AlertLevel,
    pub task_id: i64,
    pub codigo: String,
    /// Officers called before giving up.
    pub intentos: i64,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// The console alarm (`sin_asignar`) to mark seen with `POST /api/v1/alertas/{id}/visto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerta_id: Option<i64>,
}

/// One alert of an Alertmanager webhook, to levels 2 and 3 (topic `monitoreo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitoringAlert {
    /// `Alerta de monitoreo: <summary or alertname>`, `Alerta de monitoreo resuelta: …` once
    /// resolved.
    pub title: String,
    /// From the `severity` label; always `info` for a resolved alert.
    pub level: AlertLevel,
    pub source: AlertSource,
    pub status: AlertStatus,
    pub alertname: String,
    pub severity: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub starts_at: DateTime<Utc>,
    /// Null while firing.
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: Option<String>,
    pub fingerprint: Option<String>,
    pub receiver: String,
    pub group_key: String,
}

/// Where a monitoring alert comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertSource {
    Alertmanager,
}

/// `notification`: a broadcast from an administrator (`POST /api/v1/admin/agent/command`), or
/// the answer to a `subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub title: String,
    pub content: String,
    /// `info`, `warning`, `alert` or `critical`.
    pub level: String,
    /// A broadcast's audience as the administrator wrote it (`all`, `supervisores`,
    /// `efectivos`, `unidad:<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The administrator who sent the broadcast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "gad_core::time::ser_opt"
    )]
    pub timestamp: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------------------------
// Socket frames (answers to this socket only)

/// `connection_ack`: the first frame of every socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionAck {
    #[schema(format = Uuid)]
    pub connection_id: String,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub connected_at: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub server_time: DateTime<Utc>,
    /// Null on an anonymous socket (development only).
    pub user_id: Option<i64>,
    pub nivel: Nivel,
}

/// `system_status`: the snapshot after `connection_ack` (and after a `subscribe` with a
/// `bbox`, level 2+). Level 2+ gets it in parts, level 1 in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Snapshot {
    Part(SnapshotPart),
    Own(OwnTasks),
}

/// One part of a level 2+ snapshot: at most 500 officers and about 48 KiB of items;
/// emergencies first, then officers by id. Merge the arrays of parts `1..parts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotPart {
    /// Open emergencies, newest first.
    pub emergencias_activas: Vec<TaskLine>,
    /// Located officers (inside the socket's `bbox`, if any).
    pub efectivos: Vec<OfficerDot>,
    /// 1-based.
    pub part: usize,
    pub parts: usize,
    /// `snapshot unavailable` when the data could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A level-1 snapshot: the user's own open tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OwnTasks {
    pub tareas_abiertas: Vec<TaskLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A short task line of the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskLine {
    pub id: i64,
    pub codigo: String,
    pub titulo: String,
    pub estado: EstadoTarea,
    pub prioridad: Prioridad,
}

/// A located officer on the snapshot's map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OfficerDot {
    pub id: i64,
    pub lat: f64,
    pub lng: f64,
    pub estado: EstadoDisponibilidad,
    /// First and last name, so the unit list can name each officer without a request per row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nombre: Option<String>,
}

/// `metrics_update` (level 2+, on request): request and WebSocket figures of this instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsUpdate {
    pub http: HttpFigures,
    pub websocket: SocketFigures,
    pub uptime_seconds: f64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HttpFigures {
    pub requests_total: u64,
    pub errors_5xx_total: u64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SocketFigures {
    pub active_connections: i64,
    pub connections_total: u64,
    pub connections_by_role: ByLevel,
    pub unique_users: usize,
    pub messages_sent: u64,
    pub broadcasts: u64,
    pub send_errors: u64,
    pub message_latency_p95_ms: f64,
    /// `redis` when events reach the other instances, `local` otherwise.
    pub fanout: String,
}

/// Open sockets by the user's level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ByLevel {
    #[serde(rename = "1")]
    pub efectivo: usize,
    #[serde(rename = "2")]
    pub supervisor: usize,
    #[serde(rename = "3")]
    pub administrador: usize,
}

/// `ping`: the server's heartbeat; answer with `pong` or the socket closes (1001).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ping {
    #[serde(serialize_with = "gad_core::time::ser")]
    pub server_time: DateTime<Utc>,
}

/// `pong`: the server's answer to a client's `ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pong {
    #[serde(serialize_with = "gad_core::time::ser")]
    pub timestamp: DateTime<Utc>,
}

/// `error`: a client message the server refused (invalid JSON, unknown `event_type`, a bad
/// `bbox`, too many topics, not enough privileges…); the socket stays open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorFrame {
    pub error: String,
}

// ---------------------------------------------------------------------------------------------
// Messages (`/api/v1/mensajes`)

/// `message`: a message written (`kind: nuevo`), or one recipient's delivery state changed
/// (`kind: estado`). To the sender and every level 2+ (a message to the desk: every level 2+
/// and the sender of the message it answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageEvent {
    Nuevo(MessageNew),
    Estado(MessageState),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageNew {
    pub mensaje_id: i64,
    /// NULL: a message from the system.
    pub autor_usuario_id: Option<i64>,
    pub texto: String,
    /// `normal` or `urgente`.
    pub prioridad: String,
    /// Written to the desk (`{"centro": true}`): an officer's reply or `/mensaje`.
    pub centro: bool,
    pub en_respuesta_a: Option<i64>,
    /// Recipients queued.
    pub destinatarios: i64,
    /// An urgent message to the desk: its console alarm (`mensaje_urgente`), kept in
    /// `GET /api/v1/alertas` until someone marks it seen (`POST /api/v1/alertas/{id}/visto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerta_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageState {
    pub mensaje_id: i64,
    pub efectivo_id: i64,
    /// `enviado`, `fallido` or `confirmado`.
    pub estado: String,
    /// Why it failed (`sin vincular`, `bloqueó el bot`, `error de Telegram…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motivo: Option<String>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub at: DateTime<Utc>,
}
