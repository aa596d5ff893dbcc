//! Delivery records of the bot's pushes: a dispatch call, a check-in question or an alert sent
//! to Telegram leaves a record of the send (sent with Telegram's message id, or failed and
//! why) and, for a push with answer buttons, of the officer's answer. The incident timeline
//! shows them (`tipo` `entrega`), so the desk reads "enviado 12:01:03 · sin respuesta".

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ctx::Ctx;
use crate::error::ServiceResult;
use gad_store::entregas::{self as store, EntregaRow, NewEntrega};

/// Why a push did not reach its recipient, when the cause is permanent (the same words the
/// desk's messages use).
pub const SIN_VINCULAR: &str = crate::mensajes::SIN_VINCULAR;
pub const BLOQUEADO: &str = crate::mensajes::BLOQUEADO;

/// What a push was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TipoEntrega)]
pub enum Tipo {
    /// A dispatch call (first call, re-dispatch, backup) with Aceptar / Rechazar.
    Despacho,
    /// "¿Todo bien?" with Estoy bien / Necesito apoyo.
    Checkin,
    /// An alert (monitoring, the clock-out reminder).
    Alerta,
}

impl Tipo {
    pub fn as_str(self) -> &'static str {
        match self {
            Tipo::Despacho => "despacho",
            Tipo::Checkin => "checkin",
            Tipo::Alerta => "alerta",
        }
    }
    fn from_db(s: &str) -> Option<Tipo> {
        [Tipo::Despacho, Tipo::Checkin, Tipo::Alerta]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A send's result on the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EstadoEntrega {
    /// Telegram accepted it (`message_id`).
    Enviado,
    /// Not delivered (`motivo`).
    Fallido,
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resultado {
    /// Telegram accepted it: its message id.
    Enviado { message_id: i64 },
    /// Not delivered, and why.
    Fallido { motivo: String },
}

/// One push to record.
#[derive(Debug, Clone)]
pub struct Envio {
    pub tipo: Tipo,
    pub usuario_id: Option<i64>,
    pub chat_id: Option<i64>,
    pub tarea_id: Option<i64>,
    pub resultado: Resultado,
}

/// Records one push's outcome.
pub async fn record(ctx: &Ctx, e: &Envio) -> ServiceResult<i64> {
    let (estado, message_id, motivo) = match &e.resultado {
        Resultado::Enviado { message_id } => ("enviado", Some(*message_id), None),
        Resultado::Fallido { motivo } => ("fallido", None, Some(motivo.as_str())),
    };
    let row = NewEntrega {
        tipo: e.tipo.as_str(),
        usuario_id: e.usuario_id,
        chat_id: e.chat_id,
        tarea_id: e.tarea_id,
        estado,
        message_id,
        motivo,
    };
    Ok(store::insert(&ctx.db, &row).await?)
}

/// The officer's answer to a push's buttons (whatever face it came from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RespuestaEntrega {
    Aceptado,
    Rechazado,
    EstoyBien,
    NecesitoApoyo,
}

impl RespuestaEntrega {
    fn as_str(self) -> &'static str {
        match self {
            RespuestaEntrega::Aceptado => "aceptado",
            RespuestaEntrega::Rechazado => "rechazado",
            RespuestaEntrega::EstoyBien => "estoy_bien",
            RespuestaEntrega::NecesitoApoyo => "necesito_apoyo",
        }
    }
    fn from_db(s: &str) -> Option<RespuestaEntrega> {
        [
            RespuestaEntrega::Aceptado,
            RespuestaEntrega::Rechazado,
            RespuestaEntrega::EstoyBien,
            RespuestaEntrega::NecesitoApoyo,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Writes the answer on the officer's unanswered pushes of this kind about this task, inside the
/// answer's own transaction.
pub async fn answered(
    db: &mut gad_store::Conn,
    tipo: Tipo,
    tarea_id: i64,
    efectivo_id: i64,
    respuesta: RespuestaEntrega,
) -> Result<(), gad_store::DbError> {
    store::answered(db, tipo.as_str(), tarea_id, efectivo_id, respuesta.as_str()).await?;
    Ok(())
}

/// `datos` of a timeline entry with `tipo` `entrega`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntregaDatos {
    pub entrega_id: i64,
    /// `telegram`.
    pub canal: String,
    pub tipo: Tipo,
    pub efectivo_id: Option<i64>,
    pub usuario_id: Option<i64>,
    /// The dispatch a call was about.
    pub despacho_id: Option<i64>,
    pub estado: EstadoEntrega,
    /// Telegram's id of the message sent (null when it failed).
    pub message_id: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub enviado_at: DateTime<Utc>,
    /// Null: no answer (yet).
    pub respuesta: Option<RespuestaEntrega>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    pub respondido_at: Option<DateTime<Utc>>,
    /// Why it failed: `sin vincular`, `bloqueó el bot`, `error de Telegram: …` (permanent),
    /// `error transitorio de Telegram: …` (retries spent).
    pub motivo: Option<String>,
}

impl From<EntregaRow> for EntregaDatos {
    fn from(r: EntregaRow) -> Self {
        EntregaDatos {
            entrega_id: r.id,
            canal: r.canal,
            // The table's check constraint admits only the three kinds.
            tipo: Tipo::from_db(&r.tipo).unwrap_or(Tipo::Alerta),
            efectivo_id: r.efectivo_id,
            usuario_id: r.usuario_id,
            despacho_id: r.despacho_id,
            estado: if r.estado == "enviado" {
                EstadoEntrega::Enviado
            } else {
                EstadoEntrega::Fallido
            },
            message_id: r.message_id,
            enviado_at: r.enviado_at,
            respuesta: r.respuesta.as_deref().and_then(RespuestaEntrega::from_db),
            respondido_at: r.respondido_at,
            motivo: r.motivo,
        }
    }
}

/// The deliveries about a task, oldest first (the caller checked the task is visible).
pub async fn of_task(ctx: &Ctx, tarea_id: i64) -> ServiceResult<Vec<EntregaDatos>> {
    Ok(store::of_task(&ctx.db, tarea_id)
        .await?
        .into_iter()
        .map(EntregaDatos::from)
        .collect())
}

/// Each linked user's chat: `(usuario_id, chat_id)`; users without Telegram are absent.
pub async fn chats_by_user(ctx: &Ctx, users: &[i64]) -> ServiceResult<Vec<(i64, i64)>> {
    Ok(store::chats_by_user(&ctx.db, users).await?)
}
