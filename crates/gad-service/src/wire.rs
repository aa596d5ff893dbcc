//! Small response bodies shared by several routes. The big wire objects live beside the query
//! that reads them (`store::tareas::Tarea`, `store::usuarios::Usuario`,
//! `store::efectivos::Efectivo`); each type here is exactly what its route serializes, so the
//! OpenAPI schema and the bytes on the wire cannot disagree.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A bearer token (login, own password change).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Token {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// Present (true) when the user's level requires a second factor they have not enrolled:
    /// this token only reaches `/users/me`, `/users/me/totp*` and logout until they do.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub totp_enrolment_required: bool,
}

/// The password step of a login for a user with a second factor: no token yet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpChallenge {
    /// Always true.
    pub totp_required: bool,
    /// Send it back with the code to `POST /api/v1/auth/totp` (valid 5 minutes, once).
    pub challenge: String,
}

/// A plain acknowledgement with a human message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Mensaje {
    pub message: String,
    /// Keys deleted, where the action deletes keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_count: Option<u64>,
}

/// `POST /auth/logout`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedOut {
    /// Always `logged_out`.
    pub status: &'static str,
}

/// A single-use WebSocket ticket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ticket {
    /// 64 hex characters; connect with `/ws/connect?ticket=…`.
    pub ticket: String,
    /// Seconds the ticket stays valid.
    pub expires_in: i64,
}

/// A one-time code that links a Telegram account through the bot.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TelegramLinkCode {
    /// 8 characters.
    pub code: String,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub expires_at: DateTime<Utc>,
}

/// The next officer called after a decline (dispatch acknowledgement).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Llamado {
    pub efectivo_id: i64,
    pub distance_m: f64,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub ack_deadline: DateTime<Utc>,
}

/// `POST /tasks/{id}/ack`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AckAnswer {
    pub task_id: i64,
    pub efectivo_id: i64,
    /// `aceptado` or `rechazado`.
    pub ack_status: &'static str,
    /// After a decline: the officer called next, if any.
    pub next: Option<Llamado>,
    /// After a decline with nobody left to call: supervisors were alerted.
    pub sin_asignar: bool,
}

/// One officer added as backup.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Refuerzo {
    pub efectivo_id: i64,
    pub distance_m: f64,
    /// Always `pendiente_confirmacion`.
    pub ack_status: &'static str,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub ack_deadline: DateTime<Utc>,
}

/// `POST /tasks/{id}/backup`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackupAnswer {
    pub task_id: i64,
    pub requested: i64,
    pub added: Vec<Refuerzo>,
}

/// `POST /tasks/emergency` (201; stored for idempotent replays).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmergencyAssigned {
    pub assigned_efectivo_id: i64,
    /// Metres from the reported point (spheroid), 2 decimals.
    pub distance_m: f64,
    /// When the server received the report (RFC 3339).
    pub received_at: String,
    /// Always `assigned`.
    pub status: String,
    pub task_id: i64,
    pub codigo: String,
    /// Always `pendiente_confirmacion` at first: the officer must acknowledge.
    pub ack_status: String,
    /// When the call passes to the next officer if unanswered (RFC 3339).
    pub ack_deadline: String,
    /// The incident's case number (`2026-000123`).
    pub nro_incidente: String,
    /// Every officer dispatched, the primary first (the rest are backup dispatches).
    pub despachados: Vec<Despachado>,
    /// Officers the incident type's response plan requires and nobody could fill (0 when fully
    /// staffed; an `alert` tells supervisors otherwise).
    pub faltantes: i64,
}

/// One officer an emergency dispatched.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Despachado {
    pub efectivo_id: i64,
    /// Metres from the incident, 2 decimals.
    pub distance_m: f64,
    /// A backup dispatch (response plan), not the primary unit.
    pub refuerzo: bool,
}
