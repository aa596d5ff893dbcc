//! Messages between the desk and the officers (`/api/v1/mensajes`), delivered through the bot
//! with a delivery record per recipient, and the officers' answers to the desk.
//!
//! Sending only writes the message and its recipients (`pendiente`) in one transaction: the
//! recipient rows are the durable send queue the bot takes with SKIP LOCKED ([`claim`]). An
//! officer without a linked Telegram chat is `fallido` ("sin vincular") at once.
//!
//! Who `{"zona_id": n}` reaches: the officers whose shift under way names that zone, and those
//! whose last reported position lies inside it. With `DUTY_MODE=turnos` an officer off duty is
//! left out (`gad_store::turnos::on_duty_sql`), unless the message is a `convocatoria`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
pub use gad_store::mensajes::Envio;
use gad_store::mensajes::{self as store, MensajeRow, NuevoMensaje, Seleccion};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{Audience, Event, MessageEvent, MessageNew, MessageState};

const NOT_FOUND: &str = "Mensaje no encontrado";
/// Longest text.
pub const MAX_TEXTO: usize = 2000;
/// Most officers named in one `{"efectivos": […]}`.
const MAX_EFECTIVOS: usize = 1000;
const DESTINOS: [&str; 7] = [
    "efectivos",
    "unidad",
    "zona_id",
    "en_turno",
    "tarea_id",
    "todos",
    "centro",
];

/// Failure reasons recorded on a recipient.
pub const SIN_VINCULAR: &str = "sin vincular";
pub const BLOQUEADO: &str = "bloqueó el bot";

/// `destino` as the OpenAPI document states it: exactly one of these objects.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum Destino {
    /// These officers (1–1000 ids).
    Efectivos {
        #[schema(min_items = 1, max_items = 1000)]
        efectivos: Vec<i64>,
    },
    /// The officers of a unit (`efectivos.unidad`).
    Unidad {
        #[schema(min_length = 1, max_length = 100)]
        unidad: String,
    },
    /// Officers whose current shift names the zone or whose last position is inside it.
    Zona { zona_id: i64 },
    /// Officers on duty now (`true` only).
    EnTurno {
        #[schema(value_type = Verdadero, inline)]
        en_turno: bool,
    },
    /// Officers assigned or dispatched (pending or accepted) to the incident.
    Tarea { tarea_id: i64 },
    /// Every officer (level 3; `true` only).
    Todos {
        #[schema(value_type = Verdadero, inline)]
        todos: bool,
    },
    /// The desk: every level 2+ (`true` only; the only destination level 1 may use).
    Centro {
        #[schema(value_type = Verdadero, inline)]
        centro: bool,
    },
}

/// A switch that only means something on: the schema of `en_turno`, `todos` and `centro`
/// (`true`; `false` is 422, since "to nobody" is not a destination).
pub struct Verdadero;

impl utoipa::PartialSchema for Verdadero {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Boolean)
            .enum_values(Some([true]))
            .into()
    }
}

impl utoipa::ToSchema for Verdadero {}

/// `normal` (default) or `urgente`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrioridadMensaje {
    #[default]
    Normal,
    Urgente,
}

impl PrioridadMensaje {
    pub fn as_str(self) -> &'static str {
        match self {
            PrioridadMensaje::Normal => "normal",
            PrioridadMensaje::Urgente => "urgente",
        }
    }
}

/// `POST /api/v1/mensajes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MensajeBody {
    #[schema(value_type = Destino)]
    pub destino: Value,
    /// 1–2000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub texto: String,
    #[serde(default)]
    pub prioridad: PrioridadMensaje,
    /// Asks each officer to press "Recibido".
    #[serde(default)]
    pub requiere_confirmacion: bool,
    /// A call-back (level 2+): with `DUTY_MODE=turnos`, reaches officers off duty too.
    #[serde(default)]
    pub convocatoria: bool,
}

/// The destination, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Para {
    Efectivos(Seleccion),
    Centro,
}

fn destino_error(path: &[&str], kind: &str, msg: &str, input: Value) -> FieldError {
    let mut loc = vec!["body", "destino"];
    loc.extend_from_slice(path);
    FieldError::new(kind, &loc, msg, input)
}

fn must_be_true(key: &str, v: &Value) -> Result<(), FieldError> {
    if v == &Value::Bool(true) {
        Ok(())
    } else {
        Err(destino_error(
            &[key],
            "literal_error",
            "Input should be true",
            v.clone(),
        ))
    }
}

fn integer(key: &str, v: &Value) -> Result<i64, FieldError> {
    v.as_i64().filter(|n| *n > 0).ok_or_else(|| {
        destino_error(
            &[key],
            "int_type",
            "Input should be a positive integer",
            v.clone(),
        )
    })
}

/// Reads `destino`: an object with exactly one of the known keys.
pub fn parse_destino(v: &Value) -> Result<Para, FieldError> {
    let Some(obj) = v.as_object().filter(|o| o.len() == 1) else {
        return Err(destino_error(
            &[],
            "value_error",
            "destino must be an object with exactly one of efectivos, unidad, zona_id, en_turno, tarea_id, todos, centro",
            v.clone(),
        ));
    };
    let Some((key, val)) = obj.iter().next() else {
        return Err(destino_error(
            &[],
            "value_error",
            "destino is empty",
            v.clone(),
        ));
    };
    if !DESTINOS.contains(&key.as_str()) {
        return Err(destino_error(
            &[],
            "value_error",
            "destino must be an object with exactly one of efectivos, unidad, zona_id, en_turno, tarea_id, todos, centro",
            v.clone(),
        ));
    }
    let sel = match key.as_str() {
        "efectivos" => {
            let Some(items) = val.as_array() else {
                return Err(destino_error(
                    &["efectivos"],
                    "list_type",
                    "Input should be a valid list",
                    val.clone(),
                ));
            };
            if items.is_empty() || items.len() > MAX_EFECTIVOS {
                return Err(destino_error(
                    &["efectivos"],
                    "value_error",
                    "efectivos must name 1 to 1000 officers",
                    val.clone(),
                ));
            }
            let mut ids = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_i64().filter(|n| *n > 0) {
                    Some(n) => {
                        ids.insert(n);
                    }
                    None => {
                        return Err(FieldError::at(
                            "int_type",
                            vec![
                                json!("body"),
                                json!("destino"),
                                json!("efectivos"),
                                json!(i),
                            ],
                            "Input should be a positive integer",
                            item.clone(),
                        ));
                    }
                }
            }
            Seleccion::Efectivos(ids.into_iter().collect())
        }
        "unidad" => {
            let s = val.as_str().map(rules::trim).unwrap_or_default();
            if s.is_empty() || s.chars().count() > 100 {
                return Err(destino_error(
                    &["unidad"],
                    "string_type",
                    "unidad must be a text of 1 to 100 characters",
                    val.clone(),
                ));
            }
            Seleccion::Unidad(s.to_string())
        }
        "zona_id" => Seleccion::Zona(integer("zona_id", val)?),
        "tarea_id" => Seleccion::Tarea(integer("tarea_id", val)?),
        "en_turno" => {
            must_be_true("en_turno", val)?;
            Seleccion::EnTurno
        }
        "todos" => {
            must_be_true("todos", val)?;
            Seleccion::Todos
        }
        _ => {
            must_be_true("centro", val)?;
            return Ok(Para::Centro);
        }
    };
    Ok(Para::Efectivos(sel))
}

impl Validate for MensajeBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::len(errors, "texto", rules::trim(&self.texto), 1, MAX_TEXTO);
        if let Err(e) = parse_destino(&self.destino) {
            errors.push(e);
        }
    }
}

/// Recipients per delivery state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totales {
    pub total: i64,
    pub pendiente: i64,
    pub enviado: i64,
    pub fallido: i64,
    pub confirmado: i64,
}

impl Totales {
    fn add(&mut self, estado: &str, n: i64) {
        self.total += n;
        match estado {
            "pendiente" => self.pendiente += n,
            "enviado" => self.enviado += n,
            "fallido" => self.fallido += n,
            _ => self.confirmado += n,
        }
    }
}

/// One recipient's delivery record.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Destinatario {
    pub efectivo_id: i64,
    /// pendiente | enviado | fallido | confirmado
    pub estado: String,
    /// Telegram's id of the message delivered.
    pub message_id: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub enviado_at: Option<DateTime<Utc>>,
    /// When the officer pressed "Recibido".
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confirmado_at: Option<DateTime<Utc>>,
    /// Why it failed: `sin vincular`, `bloqueó el bot`, `error de Telegram: …`.
    pub motivo: Option<String>,
}

/// A message with its delivery totals (and, read by id or just sent, its recipients). Named
/// `MensajeOperativo` in the OpenAPI: `Mensaje` is the plain acknowledgement of older routes.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = MensajeOperativo)]
pub struct Mensaje {
    pub id: i64,
    /// NULL: a message from the system.
    pub autor_usuario_id: Option<i64>,
    #[schema(value_type = Destino)]
    pub destino: Value,
    pub texto: String,
    pub prioridad: PrioridadMensaje,
    pub requiere_confirmacion: bool,
    pub convocatoria: bool,
    pub en_respuesta_a: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub totales: Totales,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destinatarios: Option<Vec<Destinatario>>,
}

fn to_wire(m: MensajeRow, dest: Option<Vec<store::DestinatarioRow>>, totales: Totales) -> Mensaje {
    Mensaje {
        id: m.id,
        autor_usuario_id: m.autor_usuario_id,
        destino: m.destino,
        texto: m.texto,
        prioridad: if m.prioridad == "urgente" {
            PrioridadMensaje::Urgente
        } else {
            PrioridadMensaje::Normal
        },
        requiere_confirmacion: m.requiere_confirmacion,
        convocatoria: m.convocatoria,
        en_respuesta_a: m.en_respuesta_a,
        created_at: m.created_at,
        totales,
        destinatarios: dest.map(|d| {
            d.into_iter()
                .map(|r| Destinatario {
                    efectivo_id: r.efectivo_id,
                    estado: r.estado,
                    message_id: r.message_id,
                    enviado_at: r.enviado_at,
                    confirmado_at: r.confirmado_at,
                    motivo: r.motivo_fallo,
                })
                .collect()
        }),
    }
}

fn totales_of(rows: &[store::DestinatarioRow]) -> Totales {
    let mut t = Totales::default();
    for r in rows {
        t.add(&r.estado, 1);
    }
    t
}

fn is_centro(destino: &Value) -> bool {
    destino.get("centro").is_some()
}

/// Who sees a message live: its sender, the sender of the message it answers, and every
/// level 2+.
fn audience(autor: Option<i64>, also: Option<i64>) -> Audience {
    Audience::Involved {
        user_ids: autor.into_iter().chain(also).collect(),
    }
}

/// Writes a message and queues its recipients (level 2+; `{"todos"}` level 3; level 1 only
/// `{"centro": true}`); audited. Answers the message with its recipients.
pub async fn send(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &MensajeBody,
) -> ServiceResult<Mensaje> {
    let para = parse_destino(&b.destino).map_err(ServiceError::validation)?;
    match &para {
        Para::Centro => {}
        Para::Efectivos(Seleccion::Todos) => require(me, Nivel::Administrador)?,
        Para::Efectivos(_) => require(me, Nivel::Supervisor)?,
    }
    if b.convocatoria {
        require(me, Nivel::Supervisor)?;
    }
    let (m, event) = write(
        ctx,
        &Escrito {
            autor: Some(me.id),
            para: &para,
            destino: &b.destino,
            texto: rules::trim(&b.texto),
            prioridad: b.prioridad,
            requiere_confirmacion: b.requiere_confirmacion,
            convocatoria: b.convocatoria,
            en_respuesta_a: None,
            origin: Some(origin),
        },
    )
    .await?;
    ctx.events.publish(event);
    get_unchecked(ctx, m.id).await
}

/// A message about to be written.
struct Escrito<'a> {
    autor: Option<i64>,
    para: &'a Para,
    destino: &'a Value,
    texto: &'a str,
    prioridad: PrioridadMensaje,
    requiere_confirmacion: bool,
    convocatoria: bool,
    /// The message answered, and its author.
    en_respuesta_a: Option<(i64, Option<i64>)>,
    origin: Option<&'a RequestContext>,
}

/// The write of [`send`] (and of an officer's answer), in one transaction with its audit row.
async fn write(
    ctx: &Ctx,
    w: &Escrito<'_>,
) -> ServiceResult<(MensajeRow, crate::events::DomainEvent)> {
    let mut tx = ctx.db.begin().await?;
    let out = write_in(ctx, &mut tx, w).await?;
    tx.commit().await?;
    Ok(out)
}

/// Writes the message, queues its recipients, records the audit row and, for an urgent message
/// to the desk, its console alarm, all inside the caller's transaction; answers the event to
/// publish once that transaction commits.
async fn write_in(
    ctx: &Ctx,
    tx: &mut gad_store::Conn,
    w: &Escrito<'_>,
) -> ServiceResult<(MensajeRow, crate::events::DomainEvent)> {
    match w.para {
        Para::Efectivos(Seleccion::Efectivos(ids)) => {
            let live: BTreeSet<i64> = store::live_efectivos(&mut *tx, ids)
                .await?
                .into_iter()
                .collect();
            if let Some((i, id)) = ids.iter().enumerate().find(|(_, id)| !live.contains(id)) {
                return Err(ServiceError::validation(FieldError::at(
                    "value_error",
                    vec![
                        json!("body"),
                        json!("destino"),
                        json!("efectivos"),
                        json!(i),
                    ],
                    "Unknown efectivo",
                    json!(id),
                )));
            }
        }
        Para::Efectivos(Seleccion::Zona(id)) if !store::zona_exists(&mut *tx, *id).await? => {
            return Err(ServiceError::validation(destino_error(
                &["zona_id"],
                "value_error",
                "Unknown zona",
                json!(id),
            )));
        }
        Para::Efectivos(Seleccion::Tarea(id)) if !store::tarea_exists(&mut *tx, *id).await? => {
            return Err(ServiceError::validation(destino_error(
                &["tarea_id"],
                "value_error",
                "Unknown tarea",
                json!(id),
            )));
        }
        _ => {}
    }
    let m = store::insert(
        &mut *tx,
        &NuevoMensaje {
            autor_usuario_id: w.autor,
            destino: w.destino,
            texto: w.texto,
            prioridad: w.prioridad.as_str(),
            requiere_confirmacion: w.requiere_confirmacion,
            convocatoria: w.convocatoria,
            en_respuesta_a: w.en_respuesta_a.map(|(id, _)| id),
        },
    )
    .await?;
    let total = match w.para {
        Para::Centro => 0,
        Para::Efectivos(sel) => {
            let on_duty = match (ctx.config.duty, sel) {
                (gad_store::turnos::Duty::Turnos { clock_in }, _) if !w.convocatoria => {
                    Some(gad_store::turnos::on_duty_sql(clock_in))
                }
                (gad_store::turnos::Duty::Turnos { clock_in }, Seleccion::EnTurno) => {
                    Some(gad_store::turnos::on_duty_sql(clock_in))
                }
                (gad_store::turnos::Duty::Libre, Seleccion::EnTurno) => {
                    Some(gad_store::turnos::on_duty_sql(false))
                }
                _ => None,
            };
            store::queue(&mut *tx, m.id, sel, on_duty.as_deref()).await?
        }
    };
    // An urgent message to the desk rings the console until someone marks it seen.
    let alerta_id = if matches!(w.para, Para::Centro) && w.prioridad == PrioridadMensaje::Urgente {
        Some(store::insert_alerta_urgente(&mut *tx, &m).await?)
    } else {
        None
    };
    let entry = AuditEntry::new("message_sent", w.autor)
        .resource("mensaje", m.id.to_string())
        .describe(format!("Mensaje a {} ({total} destinatarios)", w.destino))
        .values(
            None,
            Some(
                json!({"destino": w.destino, "prioridad": w.prioridad.as_str(),
                "requiere_confirmacion": w.requiere_confirmacion, "convocatoria": w.convocatoria,
                "en_respuesta_a": m.en_respuesta_a, "destinatarios": total,
                "alerta_id": alerta_id}),
            ),
        )
        .status(201);
    let entry = match w.origin {
        Some(o) => entry.context(o),
        None => entry,
    };
    audit::record(&mut *tx, &entry).await?;
    let event = Event::Message(MessageEvent::Nuevo(MessageNew {
        mensaje_id: m.id,
        autor_usuario_id: m.autor_usuario_id,
        texto: m.texto.clone(),
        prioridad: m.prioridad.clone(),
        centro: matches!(w.para, Para::Centro),
        en_respuesta_a: m.en_respuesta_a,
        destinatarios: i64::try_from(total).unwrap_or(i64::MAX),
        alerta_id,
    }))
    .to(audience(w.autor, w.en_respuesta_a.and_then(|(_, a)| a)))
    .topic(format!("mensaje:{}", m.id));
    Ok((m, event))
}

/// The officers' copy of an administrator's broadcast (`POST /api/v1/admin/agent/command`):
/// a message to `destino` written inside the broadcast's transaction, so the broadcast and its
/// delivery records commit together. Answers the message id, its recipients queued and the
/// event to publish after the commit.
pub async fn broadcast_in(
    ctx: &Ctx,
    tx: &mut gad_store::Conn,
    me: &Actor,
    origin: &RequestContext,
    destino: &Value,
    texto: &str,
    prioridad: PrioridadMensaje,
) -> ServiceResult<(i64, crate::events::DomainEvent)> {
    let para = parse_destino(destino).map_err(ServiceError::validation)?;
    let texto: String = texto.chars().take(MAX_TEXTO).collect();
    let (m, event) = write_in(
        ctx,
        tx,
        &Escrito {
            autor: Some(me.id),
            para: &para,
            destino,
            texto: rules::trim(&texto),
            prioridad,
            requiere_confirmacion: false,
            convocatoria: false,
            en_respuesta_a: None,
            origin: Some(origin),
        },
    )
    .await?;
    Ok((m.id, event))
}

async fn get_unchecked(ctx: &Ctx, id: i64) -> ServiceResult<Mensaje> {
    let Some(m) = store::by_id(&ctx.db, id).await? else {
        return Err(ServiceError::NotFound(NOT_FOUND.into()));
    };
    let dest = store::destinatarios(&ctx.db, id).await?;
    let t = totales_of(&dest);
    Ok(to_wire(m, Some(dest), t))
}

/// One message with its recipients: level 2+ any; level 1 one they sent or received (another
/// → 404, as unknown).
pub async fn get(ctx: &Ctx, me: &Actor, id: i64) -> ServiceResult<Mensaje> {
    let m = get_unchecked(ctx, id).await?;
    if !me.is_supervisor()
        && m.autor_usuario_id != Some(me.id)
        && !store::is_recipient(&ctx.db, id, me.id).await?
    {
        return Err(ServiceError::NotFound(NOT_FOUND.into()));
    }
    Ok(m)
}

/// Page of the listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl Validate for ListQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
    }
}

/// Messages the user sent or received, newest first; level 2+ also every message to the desk.
pub async fn list(ctx: &Ctx, me: &Actor, q: &ListQuery) -> ServiceResult<Vec<Mensaje>> {
    let rows = store::list(
        &ctx.db,
        me.id,
        me.is_supervisor(),
        q.skip.unwrap_or(0),
        q.limit.unwrap_or(100),
    )
    .await?;
    let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    let mut totals: BTreeMap<i64, Totales> = BTreeMap::new();
    for (id, estado, n) in store::totales(&ctx.db, &ids).await? {
        totals.entry(id).or_default().add(&estado, n);
    }
    Ok(rows
        .into_iter()
        .map(|m| {
            let t = totals.remove(&m.id).unwrap_or_default();
            to_wire(m, None, t)
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// The bot's side: the send queue, receipts and answers.

/// Claims up to `limit` due recipients for sending (see `gad_store::mensajes::claim_due`).
pub async fn claim(ctx: &Ctx, limit: i64, lease_s: i64) -> ServiceResult<Vec<Envio>> {
    Ok(store::claim_due(&ctx.db, limit, lease_s).await?)
}

fn publish_state(ctx: &Ctx, e: &Envio, estado: &str, motivo: Option<&str>, at: DateTime<Utc>) {
    ctx.events.publish(
        Event::Message(MessageEvent::Estado(MessageState {
            mensaje_id: e.mensaje_id,
            efectivo_id: e.efectivo_id,
            estado: estado.to_string(),
            motivo: motivo.map(str::to_string),
            at,
        }))
        .to(audience(e.autor_usuario_id, None))
        .topic(format!("mensaje:{}", e.mensaje_id)),
    );
}

/// Telegram took the message.
pub async fn sent(ctx: &Ctx, e: &Envio, chat_id: i64, message_id: i64) -> ServiceResult<()> {
    if let Some(at) = store::mark_sent(&ctx.db, e.id, chat_id, message_id).await? {
        publish_state(ctx, e, "enviado", None, at);
    }
    Ok(())
}

/// Delivery failed for good.
pub async fn failed(ctx: &Ctx, e: &Envio, motivo: &str) -> ServiceResult<()> {
    if store::mark_failed(&ctx.db, e.id, motivo).await? {
        publish_state(ctx, e, "fallido", Some(motivo), Utc::now());
    }
    Ok(())
}

/// Back to the queue, due in `after_ms`; `attempt`: whether this try counts against the limit
/// (a chat's pace does not).
pub async fn retry(
    ctx: &Ctx,
    e: &Envio,
    after_ms: i64,
    motivo: Option<&str>,
    attempt: bool,
) -> ServiceResult<()> {
    Ok(store::retry_later(&ctx.db, e.id, after_ms, motivo, attempt).await?)
}

/// "Recibido" pressed by the officer `usuario_id`: `Some(time)` the first time.
pub async fn confirm(
    ctx: &Ctx,
    usuario_id: i64,
    mensaje_id: i64,
) -> ServiceResult<Option<DateTime<Utc>>> {
    let Some((efectivo_id, at, autor)) = store::confirm(&ctx.db, mensaje_id, usuario_id).await?
    else {
        return Ok(None);
    };
    ctx.events.publish(
        Event::Message(MessageEvent::Estado(MessageState {
            mensaje_id,
            efectivo_id,
            estado: "confirmado".into(),
            motivo: None,
            at,
        }))
        .to(audience(autor, None))
        .topic(format!("mensaje:{mensaje_id}")),
    );
    Ok(Some(at))
}

/// An officer's answer to the desk: a Telegram reply to a message delivered to `chat`
/// (`reply_to`: its Telegram message id), or `/mensaje texto`. Becomes a message
/// `{"centro": true}` answering the original, live to its sender and every level 2+.
pub async fn answer(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    chat: i64,
    reply_to: Option<i64>,
    texto: &str,
) -> ServiceResult<Mensaje> {
    let texto = rules::trim(texto);
    let mut errors = Vec::new();
    rules::len(&mut errors, "texto", texto, 1, MAX_TEXTO);
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let original = match reply_to {
        Some(mid) => {
            let mut conn = ctx.db.acquire().await?;
            match store::by_telegram(&mut conn, chat, mid).await? {
                Some(id) => store::by_id(&ctx.db, id).await?,
                None => None,
            }
        }
        None => None,
    };
    let destino = json!({"centro": true});
    let (m, event) = write(
        ctx,
        &Escrito {
            autor: Some(me.id),
            para: &Para::Centro,
            destino: &destino,
            texto,
            prioridad: PrioridadMensaje::Normal,
            requiere_confirmacion: false,
            convocatoria: false,
            en_respuesta_a: original.as_ref().map(|o| (o.id, o.autor_usuario_id)),
            origin: Some(origin),
        },
    )
    .await?;
    ctx.events.publish(event);
    get_unchecked(ctx, m.id).await
}

/// Whether a Telegram message (chat, id) is a delivered message (a reply to it is an answer).
pub async fn delivered_in(ctx: &Ctx, chat: i64, message_id: i64) -> ServiceResult<bool> {
    let mut conn = ctx.db.acquire().await?;
    Ok(store::by_telegram(&mut conn, chat, message_id)
        .await?
        .is_some())
}

/// Whether a message is to the desk.
pub fn to_centro(m: &Mensaje) -> bool {
    is_centro(&m.destino)
}
