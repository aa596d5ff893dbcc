//! An incident's record beyond its state: notes (desk and field), evidence files and the one
//! ordered timeline of everything that happened to it — one function per use case, for the
//! HTTP API and the Telegram bot alike.
//!
//! Visibility is the task's (level 2+ every task; level 1 its own tasks) widened to the officers
//! on the task's dispatch: a level-1 user neither delegado, assigned nor dispatched gets the
//! task's 404. Notes and files are append-only (the tables refuse UPDATE and DELETE), each write
//! audited in its transaction (a file's SHA-256 goes into the audit chain), and its event
//! (`task_note_added`, `task_attachment_added`) published after the commit to supervisors and
//! the task's officers.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, EstadoTarea, FieldError, adjunto};
use gad_store::Pool;
use gad_store::audit::{self, AuditEntry};
use gad_store::evidencia::{self as store, AdjuntoRow, DespachoRow, HistoriaRow, NotaRow};
use gad_store::tareas::{self, Key, Scope, TASK_NOT_FOUND, Tarea};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::almacen::{Almacen, ReadError};
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{AttachmentAdded, Audience, Event, NoteAdded};

fn not_found() -> ServiceError {
    ServiceError::NotFound(TASK_NOT_FOUND.into())
}

/// Where a note or a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origen {
    /// The command centre (a browser session).
    Web,
    /// Another API client (a bearer token).
    Api,
    /// The Telegram bot.
    Telegram,
}

impl Origen {
    pub fn as_str(self) -> &'static str {
        match self {
            Origen::Web => "web",
            Origen::Api => "api",
            Origen::Telegram => "telegram",
        }
    }
    fn parse(s: &str) -> Origen {
        match s {
            "web" => Origen::Web,
            "telegram" => Origen::Telegram,
            _ => Origen::Api,
        }
    }
}

/// Who wrote or did something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Autor {
    pub usuario_id: i64,
    /// "Nombre Apellido"; null when the user has no name.
    pub nombre: Option<String>,
}

fn autor(id: Option<i64>, nombre: Option<String>) -> Option<Autor> {
    id.map(|usuario_id| Autor { usuario_id, nombre })
}

/// A note on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Nota {
    pub id: i64,
    pub task_id: i64,
    pub texto: String,
    pub autor: Option<Autor>,
    pub origen: Origen,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

impl From<NotaRow> for Nota {
    fn from(r: NotaRow) -> Nota {
        Nota {
            id: r.id,
            task_id: r.tarea_id,
            texto: r.texto,
            autor: autor(r.autor_usuario_id, r.autor_nombre),
            origen: Origen::parse(&r.origen),
            created_at: r.created_at,
        }
    }
}

/// A file attached to a task (its record; `GET …/adjuntos/{id}` serves the bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Adjunto {
    pub id: i64,
    pub task_id: i64,
    /// The file name as sent.
    pub nombre: String,
    /// Detected from the bytes: image/jpeg, image/png or application/pdf.
    #[schema(example = "image/jpeg")]
    pub tipo: String,
    pub bytes: i64,
    /// SHA-256 of the bytes, lowercase hex (also in the audit trail).
    pub sha256: String,
    pub autor: Option<Autor>,
    pub origen: Origen,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

impl From<AdjuntoRow> for Adjunto {
    fn from(r: AdjuntoRow) -> Adjunto {
        Adjunto {
            id: r.id,
            task_id: r.tarea_id,
            nombre: r.nombre,
            tipo: r.tipo,
            bytes: r.bytes,
            sha256: r.sha256,
            autor: autor(r.autor_usuario_id, r.autor_nombre),
            origen: Origen::parse(&r.origen),
            created_at: r.created_at,
        }
    }
}

/// `POST /api/v1/tasks/{id}/notas`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NotaBody {
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub texto: String,
}

impl Validate for NotaBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::len(errors, "texto", rules::trim(&self.texto), 1, 2000);
    }
}

// ---------------------------------------------------------------------------------------------
// Visibility

/// The live task `me` may see: its own rule, or (level 1) an officer on its dispatch.
async fn visible(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<Tarea> {
    if let Some(t) = tareas::find(&ctx.db, Scope::of(me), Key::Id(task_id), false).await? {
        return Ok(t);
    }
    if let Some(own) = me.efectivo_id
        && !me.is_supervisor()
        && store::officer_on_task(&ctx.db, task_id, own).await?
    {
        let any = Scope {
            user_id: me.id,
            efectivo_id: None,
            all: true,
        };
        if let Some(t) = tareas::find(&ctx.db, any, Key::Id(task_id), false).await? {
            return Ok(t);
        }
    }
    Err(not_found())
}

/// Supervisors (always) and the task's delegado and officers.
async fn audience(ctx: &Ctx, t: &Tarea) -> ServiceResult<Audience> {
    let mut user_ids = store::task_officer_users(&ctx.db, t.id).await?;
    user_ids.push(t.delegado_usuario_id);
    user_ids.sort_unstable();
    user_ids.dedup();
    Ok(Audience::Involved { user_ids })
}

// ---------------------------------------------------------------------------------------------
// Notes

/// Appends a note to a task `me` may see (422 at `texto` when empty or over 2,000 characters).
pub async fn add_note(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    texto: &str,
    origen: Origen,
) -> ServiceResult<Nota> {
    let body = crate::error::validated(NotaBody {
        texto: texto.to_string(),
    })?;
    let texto = body.texto.trim();
    let t = visible(ctx, me, task_id).await?;
    let mut tx = ctx.db.begin().await?;
    let nota = Nota::from(store::insert_nota(&mut tx, t.id, me.id, texto, origen.as_str()).await?);
    let entry = AuditEntry::new("task_note_added", Some(me.id))
        .resource("tarea_nota", nota.id)
        .values(
            None,
            Some(json!({"task_id": t.id, "nota_id": nota.id, "texto": texto, "origen": origen})),
        )
        .status(201)
        .context(origin);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;

    let event = Event::TaskNoteAdded(NoteAdded {
        task_id: t.id,
        codigo: t.nro_incidente.clone().unwrap_or_else(|| t.codigo.clone()),
        nota: nota.clone(),
    });
    publish(ctx, event, &t).await;
    Ok(nota)
}

async fn publish(ctx: &Ctx, event: Event, t: &Tarea) {
    // The write is committed: a failure to find the officers narrows the audience to
    // supervisors rather than failing the request.
    let audience = audience(ctx, t).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, task_id = t.id, "event audience not loaded");
        Audience::Supervisors
    });
    ctx.events
        .publish(event.to(audience).topic(format!("task:{}", t.id)));
}

/// The notes of a task `me` may see, oldest first.
pub async fn list_notes(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<Vec<Nota>> {
    visible(ctx, me, task_id).await?;
    let rows = store::list_notas(&ctx.db, task_id).await?;
    Ok(rows.into_iter().map(Nota::from).collect())
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// A file as received: its name, the type the sender declared (if any) and its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    pub nombre: String,
    pub declarado: Option<String>,
    pub bytes: Bytes,
}

/// 413 past `ADJUNTO_MAX_MB`, the message every door shows.
pub fn too_big(ctx: &Ctx) -> ServiceError {
    ServiceError::PayloadTooLarge(format!(
        "File larger than {} MB (ADJUNTO_MAX_MB)",
        ctx.config.adjuntos.max_bytes / (1024 * 1024)
    ))
}

fn archivo_error(kind: &str, msg: String, input: Value) -> ServiceError {
    ServiceError::validation(FieldError::body("archivo", kind, msg, input))
}

/// The kind of the file, from its bytes: 413 past the bound; 422 at `archivo` for a kind that
/// is not JPEG, PNG or PDF, or for bytes that are not what the sender declared.
pub fn check_upload(ctx: &Ctx, u: &Upload) -> ServiceResult<&'static str> {
    if u.bytes.len() > ctx.config.adjuntos.max_bytes {
        return Err(too_big(ctx));
    }
    if u.bytes.is_empty() {
        return Err(archivo_error(
            "missing",
            "The file is empty".into(),
            Value::Null,
        ));
    }
    let Some(tipo) = adjunto::detect(&u.bytes) else {
        return Err(archivo_error(
            "value_error",
            format!(
                "The file is not one of {} (detected from its content)",
                adjunto::TIPOS.join(", ")
            ),
            json!(u.declarado),
        ));
    };
    if !adjunto::declared_matches(u.declarado.as_deref(), tipo) {
        return Err(archivo_error(
            "value_error",
            format!(
                "The file's content is {tipo}, not the declared {}",
                u.declarado.as_deref().unwrap_or("")
            ),
            json!(u.declarado),
        ));
    }
    Ok(tipo)
}

/// The name to keep: the last path segment, without control characters, at most 200
/// characters; "adjunto.<ext>" when nothing is left.
fn clean_name(nombre: &str, tipo: &str) -> String {
    let last = nombre.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        format!("adjunto.{}", adjunto::extension(tipo))
    } else {
        clean.to_string()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Stores a file (JPEG, PNG or PDF, by its bytes) as evidence of a task `me` may see.
pub async fn add_attachment(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    upload: Upload,
    origen: Origen,
) -> ServiceResult<Adjunto> {
    let t = visible(ctx, me, task_id).await?;
    let tipo = check_upload(ctx, &upload)?;
    let sha256 = sha256_hex(&upload.bytes);
    let nombre = clean_name(&upload.nombre, tipo);
    let clave = format!(
        "tareas/{}/{}.{}",
        t.id,
        uuid::Uuid::new_v4().simple(),
        adjunto::extension(tipo)
    );
    let size = upload.bytes.len() as i64;
    ctx.adjuntos.put(&clave, upload.bytes).await.map_err(|e| {
        tracing::error!(error = %e, "attachment not stored");
        ServiceError::Unavailable
    })?;
    let mut tx = ctx.db.begin().await?;
    let row = store::insert_adjunto(
        &mut tx,
        &store::NewAdjunto {
            tarea_id: t.id,
            autor: me.id,
            nombre: &nombre,
            tipo,
            bytes: size,
            sha256: &sha256,
            clave: &clave,
            origen: origen.as_str(),
        },
    )
    .await?;
    let adjunto = Adjunto::from(row);
    let entry = AuditEntry::new("task_attachment_added", Some(me.id))
        .resource("tarea_adjunto", adjunto.id)
        .values(
            None,
            Some(
                json!({"task_id": t.id, "adjunto_id": adjunto.id, "archivo": nombre,
                        "tipo": tipo, "bytes": size, "sha256": sha256, "clave": clave,
                        "origen": origen}),
            ),
        )
        .status(201)
        .context(origin);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;

    let event = Event::TaskAttachmentAdded(AttachmentAdded {
        task_id: t.id,
        codigo: t.nro_incidente.clone().unwrap_or_else(|| t.codigo.clone()),
        adjunto: adjunto.clone(),
    });
    publish(ctx, event, &t).await;
    Ok(adjunto)
}

/// The attachments of a task `me` may see, oldest first.
pub async fn list_attachments(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<Vec<Adjunto>> {
    visible(ctx, me, task_id).await?;
    let rows = store::list_adjuntos(&ctx.db, task_id).await?;
    Ok(rows.into_iter().map(Adjunto::from).collect())
}

pub const ADJUNTO_NOT_FOUND: &str = "The attachment does not exist for this task";

/// One attachment of a task `me` may see, with its bytes.
pub async fn get_attachment(
    ctx: &Ctx,
    me: &Actor,
    task_id: i64,
    adjunto_id: i64,
) -> ServiceResult<(Adjunto, Bytes)> {
    visible(ctx, me, task_id).await?;
    let row = store::get_adjunto(&ctx.db, task_id, adjunto_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(ADJUNTO_NOT_FOUND.into()))?;
    let bytes = ctx.adjuntos.get(&row.clave).await.map_err(|e| {
        ServiceError::internal(format!("attachment {} ({}): {e}", row.id, row.clave))
    })?;
    Ok((Adjunto::from(row), bytes))
}

// ---------------------------------------------------------------------------------------------
// Stored files against the audit trail

/// What `gad audit verify --adjuntos` found.
#[derive(Debug, Default)]
pub struct StoredCheck {
    pub checked: usize,
    /// One line per attachment whose file is missing, unreadable or not the audited bytes.
    pub problems: Vec<String>,
}

/// Reads every stored attachment and compares its SHA-256 with the one its audit row holds.
pub async fn verify_stored(db: &Pool, almacen: &Almacen) -> ServiceResult<StoredCheck> {
    let mut out = StoredCheck::default();
    for a in store::audited_adjuntos(db).await? {
        out.checked += 1;
        let Some(audited) = a.audited_sha256.as_deref() else {
            out.problems.push(format!(
                "adjunto {} ({}): no audit row records it",
                a.id, a.clave
            ));
            continue;
        };
        if audited != a.sha256 {
            out.problems.push(format!(
                "adjunto {} ({}): its record says sha256 {} but the audit trail {audited}",
                a.id, a.clave, a.sha256
            ));
        }
        match almacen.get(&a.clave).await {
            Ok(bytes) => {
                let actual = sha256_hex(&bytes);
                if actual != audited {
                    out.problems.push(format!(
                        "adjunto {} ({}): stored file has sha256 {actual}, audited {audited}",
                        a.id, a.clave
                    ));
                }
            }
            Err(ReadError::Missing) => out
                .problems
                .push(format!("adjunto {} ({}): file missing", a.id, a.clave)),
            Err(ReadError::Other(e)) => out.problems.push(format!(
                "adjunto {} ({}): file unreadable: {e}",
                a.id, a.clave
            )),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Timeline

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TipoEntrada {
    /// The intake (first history row).
    Alta,
    /// An officer called (primary unit).
    DespachoEnviado,
    /// A backup officer called.
    Refuerzo,
    DespachoAceptado,
    DespachoRechazado,
    /// No answer before the deadline.
    DespachoVencido,
    /// An officer arrived on scene.
    Llegada,
    /// A state change (or a dispatch step such as an escalation, in `datos.evento`).
    Estado,
    Nota,
    Adjunto,
    /// The bot asked an officer on scene "¿Todo bien?".
    CheckinPregunta,
    /// The officer answered "Estoy bien".
    CheckinOk,
    /// The officer answered "Necesito apoyo" (backup called, supervisors alerted).
    CheckinApoyo,
    /// No answer within the grace period (red alert to supervisors).
    CheckinSinRespuesta,
    /// An officer of the task outside its cuadrante longer than `ZONA_SALIDA_MINUTOS`.
    ZonaSalida,
    /// That officer back inside the cuadrante.
    ZonaEntrada,
    /// The closure with its code (history row with evento `cierre`).
    Cierre,
    /// A push the bot sent about the task (a call, a check-in question): sent or failed, and
    /// the officer's answer to its buttons (`datos`: `EntregaDatos`).
    Entrega,
}

/// One thing that happened to the task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Entrada {
    pub tipo: TipoEntrada,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub at: DateTime<Utc>,
    /// Who did it; null for the system (a call, an expiry).
    pub actor: Option<Autor>,
    /// What `tipo` carries: ids, states, texts (see docs/API.md); for `entrega`, an
    /// `EntregaDatos` (components/schemas).
    #[schema(value_type = Object)]
    pub datos: Value,
}

/// `GET /api/v1/tasks/{id}/timeline`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Timeline {
    pub task_id: i64,
    /// Ordered by `at` (the same instant: intake, calls, answers, arrival, states, notes, files,
    /// closure).
    pub entradas: Vec<Entrada>,
}

/// Dispatch steps the `despachos` rows already tell, with their exact times.
const DISPATCH_EVENTOS: [&str; 6] = [
    "despachado",
    "aceptado",
    "rechazado",
    "vencido",
    "refuerzo",
    "llegada",
];

fn estado_wire(db: &str) -> Value {
    EstadoTarea::from_db(db)
        .map(|e| json!(e))
        .unwrap_or(Value::Null)
}

fn from_history(rows: Vec<HistoriaRow>, out: &mut Vec<Entrada>) {
    for (i, h) in rows.into_iter().enumerate() {
        let actor = autor(h.usuario_id, h.usuario_nombre);
        let evento = h.evento.as_deref();
        let (tipo, datos) = if i == 0 {
            (
                TipoEntrada::Alta,
                json!({"estado": estado_wire(&h.estado_nuevo), "nota": h.nota}),
            )
        } else if evento == Some("cierre") {
            (
                TipoEntrada::Cierre,
                json!({"estado": estado_wire(&h.estado_nuevo), "resumen": h.nota,
                       "codigo_cierre": h.codigo_cierre}),
            )
        } else if evento.is_some_and(|e| DISPATCH_EVENTOS.contains(&e)) {
            continue;
        } else {
            (
                TipoEntrada::Estado,
                json!({"estado_anterior": h.estado_anterior.as_deref().map(estado_wire),
                       "estado_nuevo": estado_wire(&h.estado_nuevo), "nota": h.nota,
                       "evento": h.evento}),
            )
        };
        out.push(Entrada {
            tipo,
            at: h.created_at,
            actor,
            datos,
        });
    }
}

fn from_dispatches(rows: Vec<DespachoRow>, out: &mut Vec<Entrada>) {
    for d in rows {
        let officer = json!({"despacho_id": d.id, "efectivo_id": d.efectivo_id,
                             "usuario_id": d.efectivo_usuario_id, "nombre": d.efectivo_nombre});
        let mut called = officer.clone();
        called["intento"] = json!(d.intento);
        called["refuerzo"] = json!(d.refuerzo);
        called["distancia_m"] = json!(d.distancia_m.map(|m| (m * 100.0).round() / 100.0));
        out.push(Entrada {
            tipo: if d.refuerzo {
                TipoEntrada::Refuerzo
            } else {
                TipoEntrada::DespachoEnviado
            },
            at: d.asignado_at,
            actor: None,
            datos: called,
        });
        let answered = d.respondido_at.unwrap_or(d.asignado_at);
        let answer = match d.estado.as_str() {
            "ACEPTADO" => Some(TipoEntrada::DespachoAceptado),
            "RECHAZADO" => Some(TipoEntrada::DespachoRechazado),
            "VENCIDO" => Some(TipoEntrada::DespachoVencido),
            _ => None,
        };
        if let Some(tipo) = answer {
            let mut datos = officer.clone();
            datos["motivo"] = json!(d.motivo);
            out.push(Entrada {
                tipo,
                at: answered,
                actor: autor(d.respondido_por, d.respondido_por_nombre.clone()),
                datos,
            });
        }
        if let Some(at) = d.llegada_at {
            out.push(Entrada {
                tipo: TipoEntrada::Llegada,
                at,
                actor: autor(d.efectivo_usuario_id, d.efectivo_nombre.clone()),
                datos: officer,
            });
        }
    }
}

/// Everything that happened to a task `me` may see, in order: four queries, whatever its size.
pub async fn timeline(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<Timeline> {
    visible(ctx, me, task_id).await?;
    let (historia, despachos, notas, adjuntos, checkins, zonas, entregas) = tokio::try_join!(
        store::historia(&ctx.db, task_id),
        store::despachos(&ctx.db, task_id),
        store::list_notas(&ctx.db, task_id),
        store::list_adjuntos(&ctx.db, task_id),
        crate::checkins::rows(ctx, task_id),
        gad_store::zona_vigilancias::of_task(&ctx.db, task_id),
        gad_store::entregas::of_task(&ctx.db, task_id),
    )?;
    let mut entradas =
        Vec::with_capacity(historia.len() + 2 * despachos.len() + notas.len() + adjuntos.len());
    from_history(historia, &mut entradas);
    from_dispatches(despachos, &mut entradas);
    for n in notas.into_iter().map(Nota::from) {
        entradas.push(Entrada {
            tipo: TipoEntrada::Nota,
            at: n.created_at,
            actor: n.autor.clone(),
            datos: json!({"nota_id": n.id, "texto": n.texto, "origen": n.origen}),
        });
    }
    for a in adjuntos.into_iter().map(Adjunto::from) {
        entradas.push(Entrada {
            tipo: TipoEntrada::Adjunto,
            at: a.created_at,
            actor: a.autor.clone(),
            datos: json!({"adjunto_id": a.id, "nombre": a.nombre, "tipo": a.tipo,
                          "bytes": a.bytes, "sha256": a.sha256, "origen": a.origen}),
        });
    }
    for k in checkins {
        let tipo = match k.paso.as_str() {
            "pregunta" => TipoEntrada::CheckinPregunta,
            "ok" => TipoEntrada::CheckinOk,
            "apoyo" => TipoEntrada::CheckinApoyo,
            _ => TipoEntrada::CheckinSinRespuesta,
        };
        // The question and the silence are the system's; the answers are the officer's.
        let actor = match tipo {
            TipoEntrada::CheckinOk | TipoEntrada::CheckinApoyo => {
                autor(k.usuario_id, k.usuario_nombre)
            }
            _ => None,
        };
        entradas.push(Entrada {
            tipo,
            at: k.created_at,
            actor,
            datos: json!({"checkin_id": k.id, "efectivo_id": k.efectivo_id,
                          "usuario_id": k.usuario_id, "alerta_id": k.alerta_id}),
        });
    }
    for z in zonas {
        let mut datos = z.payload;
        datos["alerta_id"] = json!(z.id);
        datos["efectivo_id"] = json!(z.efectivo_id);
        entradas.push(Entrada {
            tipo: if z.kind == crate::zona_vigilancia::KIND_SALIDA {
                TipoEntrada::ZonaSalida
            } else {
                TipoEntrada::ZonaEntrada
            },
            at: z.created_at,
            actor: None,
            datos,
        });
    }
    for e in entregas
        .into_iter()
        .map(crate::entregas::EntregaDatos::from)
    {
        entradas.push(Entrada {
            tipo: TipoEntrada::Entrega,
            at: e.enviado_at,
            actor: None,
            datos: serde_json::to_value(&e).map_err(ServiceError::internal)?,
        });
    }
    // Stable: rows of one source keep their own order at the same instant.
    entradas.sort_by(|a, b| a.at.cmp(&b.at).then(a.tipo.cmp(&b.tipo)));
    Ok(Timeline { task_id, entradas })
}

// ---------------------------------------------------------------------------------------------
// The bot's side

/// The officer's current incident: the most recent open task they are dispatched or assigned
/// to (emergencies first); None when there is none.
pub async fn current_task(ctx: &Ctx, me: &Actor) -> ServiceResult<Option<i64>> {
    let Some(own) = me.efectivo_id else {
        return Ok(None);
    };
    Ok(store::current_task_of(&ctx.db, own).await?)
}

/// The code of a task `me` may see (what a confirmation shows).
pub async fn task_code(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<String> {
    let t = visible(ctx, me, task_id).await?;
    Ok(t.nro_incidente.unwrap_or(t.codigo))
}

/// Remembers that the bot sent `message_id` in `chat_id` about this task.
pub async fn remember_message(
    ctx: &Ctx,
    chat_id: i64,
    message_id: i64,
    task_id: i64,
) -> ServiceResult<()> {
    Ok(store::remember_message(&ctx.db, chat_id, message_id, task_id).await?)
}

/// The task a bot message (in this chat) was about.
pub async fn task_of_message(
    ctx: &Ctx,
    chat_id: i64,
    message_id: i64,
) -> ServiceResult<Option<i64>> {
    Ok(store::task_of_message(&ctx.db, chat_id, message_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_is_its_last_segment_without_control_characters() {
        assert_eq!(clean_name("../../etc/passwd", "image/png"), "passwd");
        assert_eq!(clean_name("C:\\fotos\\a.jpg", "image/jpeg"), "a.jpg");
        assert_eq!(clean_name("a\u{0}b\n.pdf", "application/pdf"), "ab.pdf");
        assert_eq!(clean_name("", "application/pdf"), "adjunto.pdf");
    }
}
