//! Officer-safety check-ins, and the alerts a supervisor must mark as seen.
//!
//! While an officer is on scene (or accepted on an emergency), every `checkin_minutos` of the
//! incident's type (`CHECKIN_MINUTOS` when it sets none) without a report from them, the bot asks
//! "¿Todo bien?" [Estoy bien] [Necesito apoyo]. Any report resets the clock: a note, a state
//! change, a dispatch answer or arrival, a check-in answer (`gad_store::checkins` says what counts,
//! in one query). "Necesito apoyo" calls backup through the same use case as the API's
//! `/backup` and alerts supervisors; no answer within `CHECKIN_GRACIA_MINUTOS` raises a red
//! alert. Both alerts are kept in `alertas` until a supervisor marks them seen.
//!
//! The job ([`spawn`]) runs in every `gad serve`: each pass claims the due clocks with
//! `FOR UPDATE SKIP LOCKED` and takes each step in the transaction that holds the row, so with
//! any number of instances a question is sent once and a silence alerted once. Events go out
//! after the commit; the bot turns the question into the Telegram message with the buttons.

use std::time::Duration;

use chrono::{DateTime, Utc};
use gad_core::request_context::RequestContext;
use gad_core::{Actor, Nivel};
use gad_store::audit::{self, AuditEntry};
use gad_store::checkins::{self as store, AlertaRow, CheckinRow, Claimed, Due};
use gad_store::evidencia::officer_on_task;
use gad_store::tareas::TASK_NOT_FOUND;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::emergency::BackupBody;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{Alert, AlertLevel, AlertSeen, Audience, CheckinAlert, DomainEvent, Event};
use crate::evidencia::Autor;

/// Kinds of the check-in alerts (the `kind` of the event and of the `alertas` row).
pub const KIND_PREGUNTA: &str = "checkin_pregunta";
pub const KIND_APOYO: &str = "checkin_apoyo";
pub const KIND_SIN_RESPUESTA: &str = "checkin_sin_respuesta";

const TITLE_PREGUNTA: &str = "¿Todo bien?";
const TITLE_APOYO: &str = "Efectivo pide apoyo";
const TITLE_SIN_RESPUESTA: &str = "Efectivo sin respuesta al control de seguridad";
const ALERT_NOT_FOUND: &str = "Alerta no encontrada";

/// Clocks one pass claims at most (the rest wait for the next pass).
const BATCH: i64 = 50;

fn task_not_found() -> ServiceError {
    ServiceError::NotFound(TASK_NOT_FOUND.into())
}

/// Who is told about a check-in alert. All supervisors for now; once zones exist, the zone's
/// supervisors of the incident (this is the one place to narrow it).
pub fn recipients(_tarea_id: i64) -> Audience {
    Audience::Supervisors
}

// ---------------------------------------------------------------------------------------------
// The job

/// How often a pass runs: a quarter of the shorter setting, between 200 ms and 15 s, so a step
/// is never late by more than that.
fn period(ctx: &Ctx) -> Duration {
    let c = ctx.config.checkin;
    (c.intervalo.min(c.gracia) / 4).clamp(Duration::from_millis(200), Duration::from_secs(15))
}

/// Starts the check-in job (it ends with the application).
pub fn spawn(state: Ctx) {
    let every = period(&state);
    crate::jobs::every(
        state,
        every,
        every,
        |state| async move { run_due(&state).await },
        |pass| match pass {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(steps = n, "check-ins: steps taken"),
            Ok(Err(e)) => tracing::warn!(error = %e, "check-ins: pass failed"),
            Err(e) => tracing::error!(error = %e, "check-ins: pass aborted"),
        },
    );
}

fn event(kind: &str, c: &Claimed, alerta_id: Option<i64>, at: DateTime<Utc>) -> Event {
    let (title, level) = match kind {
        KIND_PREGUNTA => (TITLE_PREGUNTA, AlertLevel::Info),
        KIND_APOYO => (TITLE_APOYO, AlertLevel::Warning),
        _ => (TITLE_SIN_RESPUESTA, AlertLevel::Critical),
    };
    Event::Alert(Alert::Checkin(CheckinAlert {
        title: title.into(),
        level,
        kind: kind.into(),
        alerta_id,
        task_id: c.tarea_id,
        codigo: c.codigo.clone(),
        efectivo_id: c.efectivo_id,
        usuario_id: c.usuario_id,
        at,
    }))
}

/// One pass: starts and stops clocks, then takes every due step (question or silence alert).
/// Returns the steps taken.
pub async fn run_due(ctx: &Ctx) -> Result<usize, gad_store::DbError> {
    let c = ctx.config.checkin;
    {
        let mut conn = ctx.db.acquire().await?;
        store::sync_watched(&mut conn).await?;
    }
    let mut tx = ctx.db.begin().await?;
    let due = store::claim_due(
        &mut tx,
        c.intervalo.as_secs_f64(),
        c.gracia.as_secs_f64(),
        BATCH,
    )
    .await?;
    let mut events: Vec<DomainEvent> = Vec::with_capacity(due.len());
    for d in &due {
        match d.due() {
            Due::Pregunta => {
                let row = store::insert(
                    &mut tx,
                    d.tarea_id,
                    d.efectivo_id,
                    Some(d.usuario_id),
                    "pregunta",
                    None,
                )
                .await?;
                store::mark_asked(&mut tx, d.tarea_id, d.efectivo_id).await?;
                events.push(
                    event(KIND_PREGUNTA, d, None, row.created_at)
                        .to(Audience::Involved {
                            user_ids: vec![d.usuario_id],
                        })
                        .topic(format!("task:{}", d.tarea_id)),
                );
            }
            Due::SinRespuesta => {
                let payload = json!({"codigo": d.codigo, "usuario_id": d.usuario_id,
                                     "pregunta_at": d.pregunta_at.map(gad_core::time::rfc3339),
                                     "ultimo_reporte": gad_core::time::rfc3339(d.ultimo_reporte)});
                let alerta = store::insert_alerta(
                    &mut tx,
                    KIND_SIN_RESPUESTA,
                    "critical",
                    Some(d.tarea_id),
                    Some(d.efectivo_id),
                    &payload,
                )
                .await?;
                store::insert(
                    &mut tx,
                    d.tarea_id,
                    d.efectivo_id,
                    Some(d.usuario_id),
                    "sin_respuesta",
                    Some(alerta.id),
                )
                .await?;
                store::mark_alerted(&mut tx, d.tarea_id, d.efectivo_id).await?;
                tracing::warn!(
                    tarea_id = d.tarea_id,
                    efectivo_id = d.efectivo_id,
                    "check-in not answered: supervisors alerted"
                );
                events.push(
                    event(KIND_SIN_RESPUESTA, d, Some(alerta.id), alerta.created_at)
                        .to(recipients(d.tarea_id))
                        .topic(format!("task:{}", d.tarea_id))
                        .topic("alertas"),
                );
            }
        }
    }
    tx.commit().await?;
    let n = events.len();
    for e in events {
        ctx.events.publish(e);
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// The officer's answer

/// The officer's answer to "¿Todo bien?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Respuesta {
    /// "Estoy bien".
    Ok,
    /// "Necesito apoyo": backup is called and supervisors alerted.
    Apoyo,
}

/// `POST /api/v1/tasks/{id}/checkins` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckinBody {
    pub respuesta: Respuesta,
}

impl gad_core::validate::Validate for CheckinBody {}

/// One step of a check-in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Checkin {
    pub id: i64,
    pub task_id: i64,
    pub efectivo_id: i64,
    /// `pregunta` (the bot asked), `ok`, `apoyo`, `sin_respuesta`.
    pub paso: String,
    /// The officer (who was asked, or who answered).
    pub usuario: Option<Autor>,
    /// The alert raised by this step (`apoyo`, `sin_respuesta`).
    pub alerta_id: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
}

impl From<CheckinRow> for Checkin {
    fn from(r: CheckinRow) -> Checkin {
        Checkin {
            id: r.id,
            task_id: r.tarea_id,
            efectivo_id: r.efectivo_id,
            paso: r.paso,
            usuario: r.usuario_id.map(|usuario_id| Autor {
                usuario_id,
                nombre: r.usuario_nombre,
            }),
            alerta_id: r.alerta_id,
            created_at: r.created_at,
        }
    }
}

/// What answering did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckinAnswer {
    pub checkin: Checkin,
    /// Backup officers called ("Necesito apoyo"; empty when none could be).
    pub refuerzos: Vec<i64>,
    /// Why no backup was called, when none was.
    pub refuerzo_motivo: Option<String>,
}

/// The officer `me` is on this task (dispatched or assigned): their efectivo id; the task's 404
/// otherwise.
pub async fn on_task(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<i64> {
    let Some(efectivo_id) = me.efectivo_id else {
        return Err(task_not_found());
    };
    if !officer_on_task(&ctx.db, task_id, efectivo_id).await? {
        return Err(task_not_found());
    }
    Ok(efectivo_id)
}

/// The officer `me` answers the check-in of a task they are on (404 otherwise, as the task).
pub async fn answer(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    respuesta: Respuesta,
) -> ServiceResult<CheckinAnswer> {
    let efectivo_id = on_task(ctx, me, task_id).await?;
    let codigo = crate::evidencia::task_code(ctx, me, task_id).await?;
    let (refuerzos, refuerzo_motivo) = match respuesta {
        Respuesta::Ok => (Vec::new(), None),
        // The backup request is the same use case as the API's: its bounds and audit apply.
        Respuesta::Apoyo => {
            let body = BackupBody {
                efectivos: 1,
                radius_m: None,
            };
            match crate::emergency::backup(ctx, me, origin, task_id, &body).await {
                Ok(a) => (a.added.iter().map(|r| r.efectivo_id).collect(), None),
                Err(e) if e.is_server_error() => return Err(e),
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        }
    };
    let mut tx = ctx.db.begin().await?;
    let alerta = match respuesta {
        Respuesta::Ok => None,
        Respuesta::Apoyo => Some(
            store::insert_alerta(
                &mut tx,
                KIND_APOYO,
                "warning",
                Some(task_id),
                Some(efectivo_id),
                &json!({"codigo": codigo, "usuario_id": me.id, "refuerzos": refuerzos,
                        "refuerzo_motivo": refuerzo_motivo}),
            )
            .await?,
        ),
    };
    let paso = match respuesta {
        Respuesta::Ok => "ok",
        Respuesta::Apoyo => "apoyo",
    };
    let contestada = match respuesta {
        Respuesta::Ok => crate::entregas::RespuestaEntrega::EstoyBien,
        Respuesta::Apoyo => crate::entregas::RespuestaEntrega::NecesitoApoyo,
    };
    crate::entregas::answered(
        &mut tx,
        crate::entregas::Tipo::Checkin,
        task_id,
        efectivo_id,
        contestada,
    )
    .await?;
    let row = store::insert(
        &mut tx,
        task_id,
        efectivo_id,
        Some(me.id),
        paso,
        alerta.as_ref().map(|a| a.id),
    )
    .await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new(&format!("checkin_{paso}"), Some(me.id))
            .resource("tarea", task_id)
            .values(
                None,
                Some(
                    json!({"checkin_id": row.id, "efectivo_id": efectivo_id, "paso": paso,
                            "alerta_id": alerta.as_ref().map(|a| a.id), "refuerzos": refuerzos}),
                ),
            )
            .status(201)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    if let Some(a) = &alerta {
        let claimed = Claimed {
            tarea_id: task_id,
            efectivo_id,
            usuario_id: me.id,
            codigo,
            ultimo_reporte: row.created_at,
            pregunta_at: None,
            pregunta: false,
        };
        ctx.events.publish(
            event(KIND_APOYO, &claimed, Some(a.id), a.created_at)
                .to(recipients(task_id))
                .topic(format!("task:{task_id}"))
                .topic("alertas"),
        );
    }
    Ok(CheckinAnswer {
        checkin: Checkin::from(row),
        refuerzos,
        refuerzo_motivo,
    })
}

/// The check-in steps of a task `me` may see, oldest first.
pub async fn list(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<Vec<Checkin>> {
    crate::evidencia::task_code(ctx, me, task_id).await?;
    Ok(store::list(&ctx.db, task_id)
        .await?
        .into_iter()
        .map(Checkin::from)
        .collect())
}

/// The rows the timeline shows.
pub(crate) async fn rows(ctx: &Ctx, task_id: i64) -> Result<Vec<CheckinRow>, gad_store::DbError> {
    store::list(&ctx.db, task_id).await
}

// ---------------------------------------------------------------------------------------------
// Persisted alerts

/// An alert kept until a supervisor marks it seen.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alerta {
    pub id: i64,
    /// What raised it (`checkin_sin_respuesta`, `checkin_apoyo`).
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub tarea_id: Option<i64>,
    pub efectivo_id: Option<i64>,
    #[schema(value_type = Object)]
    pub payload: Value,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    /// The supervisor who marked it seen first; null while pending.
    pub visto_por: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub visto_at: Option<DateTime<Utc>>,
}

impl From<AlertaRow> for Alerta {
    fn from(a: AlertaRow) -> Alerta {
        Alerta {
            id: a.id,
            kind: a.kind,
            severity: a.severity,
            tarea_id: a.tarea_id,
            efectivo_id: a.efectivo_id,
            payload: a.payload,
            created_at: a.created_at,
            visto_por: a.visto_por,
            visto_at: a.visto_at,
        }
    }
}

/// `GET /api/v1/alertas` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertasQuery {
    /// Only the alerts nobody has marked seen yet.
    pub pendientes: Option<bool>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl gad_core::validate::Validate for AlertasQuery {
    fn validate(&self, errors: &mut Vec<gad_core::FieldError>) {
        if let Some(l) = self.limit
            && !(1..=500).contains(&l)
        {
            errors.push(gad_core::FieldError::query(
                "limit",
                "value_error",
                "Input should be between 1 and 500",
                json!(l),
            ));
        }
    }
}

/// The persisted alerts, newest first (level 2+).
pub async fn list_alertas(ctx: &Ctx, me: &Actor, q: &AlertasQuery) -> ServiceResult<Vec<Alerta>> {
    require(me, Nivel::Supervisor)?;
    let rows = store::list_alertas(
        &ctx.db,
        q.pendientes.unwrap_or(false),
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(rows.into_iter().map(Alerta::from).collect())
}

/// A supervisor marks an alert seen (the first one to do so is kept; later calls answer the
/// alert as it is). Audited.
pub async fn mark_seen(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
) -> ServiceResult<Alerta> {
    require(me, Nivel::Supervisor)?;
    let mut tx = ctx.db.begin().await?;
    let (row, changed) = store::mark_seen(&mut tx, id, me.id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(ALERT_NOT_FOUND.into()))?;
    if changed {
        audit::record(
            &mut *tx,
            &AuditEntry::new("alerta_vista", Some(me.id))
                .resource("alerta", id)
                .values(
                    None,
                    Some(json!({"kind": row.kind, "tarea_id": row.tarea_id,
                                "efectivo_id": row.efectivo_id})),
                )
                .status(200)
                .context(origin),
        )
        .await?;
    }
    tx.commit().await?;
    // Every dashboard drops the alert, whoever marked it (only the first marking announces it).
    if changed && let (Some(visto_por), Some(visto_at)) = (row.visto_por, row.visto_at) {
        ctx.events.publish(
            Event::AlertSeen(AlertSeen {
                alerta_id: row.id,
                kind: row.kind.clone(),
                visto_por,
                visto_at,
            })
            .to(Audience::Supervisors)
            .topic("alertas"),
        );
    }
    Ok(Alerta::from(row))
}
