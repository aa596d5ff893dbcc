//! Dispatch that closes the loop: acknowledgement, re-dispatch on a decline or a
//! silence, escalation to supervisors, backup and arrival. The SQL lives in
//! `store::dispatch`; this module decides what happens next and which events announce it.
//! Every function here runs inside the caller's transaction and returns the events to publish
//! once it has committed.

use std::time::Duration;

use crate::ctx::Ctx;
use crate::entregas::{self, RespuestaEntrega};
use crate::events::{
    AckPending, Alert, AlertLevel, Audience, CalledAlert, DispatchCall, DispatchEvento,
    DispatchStep, DomainEvent, EfectivoStatusChanged, Event, IncidentSummary, TaskAssigned,
    TaskStatusChanged, UnassignedAlert, UnitStatus,
};
use chrono::Utc;
use gad_core::EstadoDisponibilidad;
use gad_store::Conn as PgConnection;
use gad_store::dispatch::{self as store, Assigned, Site};

/// How a pending dispatch ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Decline,
    /// No answer before the deadline (the escalation job).
    Timeout,
    /// The call could not reach the officer (not linked to Telegram, bot blocked, chat gone):
    /// a decline by the system, at once.
    Undelivered,
}

impl Answer {
    fn estado(self) -> &'static str {
        match self {
            Answer::Accept => "ACEPTADO",
            Answer::Decline | Answer::Undelivered => "RECHAZADO",
            Answer::Timeout => "VENCIDO",
        }
    }
    fn evento(self) -> &'static str {
        match self {
            Answer::Accept => "aceptado",
            Answer::Decline | Answer::Undelivered => "rechazado",
            Answer::Timeout => "vencido",
        }
    }
    fn step(self) -> DispatchEvento {
        match self {
            Answer::Accept => DispatchEvento::Aceptado,
            Answer::Decline | Answer::Undelivered => DispatchEvento::Rechazado,
            Answer::Timeout => DispatchEvento::Vencido,
        }
    }
}

/// What an answer led to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The officer called next (after a decline or a silence of the primary unit).
    pub next: Option<Assigned>,
    /// Nobody left to call (attempts exhausted or nobody in range): supervisors alerted.
    pub sin_asignar: bool,
    pub events: Vec<DomainEvent>,
}

fn involved(users: &[Option<i64>]) -> Audience {
    let mut ids: Vec<i64> = users.iter().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    Audience::Involved { user_ids: ids }
}

/// `task_assigned` + `alert` for an officer just dispatched (first call excepted: the
/// emergency route announces that one itself).
pub fn assigned_events(site: &Site, a: &Assigned, refuerzo: bool) -> Vec<DomainEvent> {
    let distance_m = (a.distance_m * 100.0).round() / 100.0;
    let call = DispatchCall {
        task_id: site.id,
        codigo: site.codigo.clone(),
        efectivo_id: a.efectivo_id,
        usuario_id: a.usuario_id,
        distance_m,
        ack_status: AckPending::PendienteConfirmacion,
        ack_deadline: a.vence_at,
        refuerzo,
        lat: site.lat,
        lng: site.lng,
    };
    let alert = CalledAlert {
        title: if refuerzo {
            "Refuerzo solicitado"
        } else {
            "Emergencia"
        }
        .into(),
        level: AlertLevel::Critical,
        task_id: site.id,
        codigo: site.codigo.clone(),
        efectivo_id: a.efectivo_id,
        usuario_id: a.usuario_id,
        distance_m,
        ack_deadline: a.vence_at,
        lat: site.lat,
        lng: site.lng,
        incidente: summary(site),
    };
    let to_officer = involved(&[Some(a.usuario_id)]);
    vec![
        Event::TaskAssigned(TaskAssigned::Dispatch(call))
            .to(to_officer.clone())
            .topic(format!("task:{}", site.id)),
        Event::Alert(Alert::Called(alert))
            .to(to_officer)
            .topic("emergencias")
            .topic(format!("task:{}", site.id)),
    ]
}

/// What the called officer is told about the incident (nothing for emergencies raised before
/// case numbers existed).
pub(crate) fn summary(site: &Site) -> Option<IncidentSummary> {
    site.nro_incidente.as_ref()?;
    Some(IncidentSummary {
        nro_incidente: site.nro_incidente.clone(),
        tipo_incidente: site.tipo_incidente.clone(),
        tipo_nombre: site.tipo_nombre.clone(),
        prioridad: site
            .prioridad_incidente
            .unwrap_or(gad_store::tareas::PRIORIDAD_INCIDENTE_DEFECTO),
        direccion: site.direccion.clone(),
        referencia: site.referencia.clone(),
    })
}

/// `task_status_changed` for a step of the dispatch; `motivo` is `Some` (maybe `Some(None)`)
/// for a decline or a silence only.
fn step_event(
    site: &Site,
    evento: DispatchEvento,
    efectivo_id: i64,
    usuario_id: i64,
    motivo: Option<Option<&str>>,
) -> DomainEvent {
    Event::TaskStatusChanged(TaskStatusChanged::Dispatch(DispatchStep {
        task_id: site.id,
        codigo: Some(site.codigo.clone()),
        evento,
        efectivo_id,
        usuario_id,
        motivo: motivo.map(|m| m.map(str::to_string)),
    }))
    .to(involved(&[Some(usuario_id), site.delegado]))
    .topic(format!("task:{}", site.id))
}

/// `efectivo_status_changed` for a unit moved by its task.
pub(crate) fn unit_event(
    efectivo_id: i64,
    usuario_id: i64,
    anterior: EstadoDisponibilidad,
    nuevo: EstadoDisponibilidad,
    tarea_id: i64,
) -> DomainEvent {
    Event::EfectivoStatusChanged(EfectivoStatusChanged::Task(UnitStatus {
        efectivo_id,
        usuario_id,
        estado_anterior: anterior,
        estado_nuevo: nuevo,
        estado_disponibilidad: nuevo,
        tarea_id,
    }))
    .to(involved(&[Some(usuario_id)]))
    .topic(format!("efectivo:{efectivo_id}"))
}

/// Settles one pending dispatch of `site` (whose task row the caller has locked). `None` when
/// that officer has no pending dispatch there. A decline or a silence of the primary unit
/// calls the next nearest eligible officer in the same transaction, or — attempts exhausted,
/// nobody in range — leaves the emergency "sin asignar" and alerts every supervisor.
pub async fn answer(
    state: &Ctx,
    db: &mut PgConnection,
    site: &Site,
    efectivo_id: i64,
    answer: Answer,
    by: Option<i64>,
    motivo: Option<&str>,
) -> Result<Option<Outcome>, gad_store::DbError> {
    let Some(closed) =
        store::close_pending(db, site.id, efectivo_id, answer.estado(), by, motivo).await?
    else {
        return Ok(None);
    };
    let m = &state.metrics;
    // The officer's own answer is written on the call's delivery record too.
    let respuesta = match answer {
        Answer::Accept => Some(RespuestaEntrega::Aceptado),
        Answer::Decline => Some(RespuestaEntrega::Rechazado),
        Answer::Timeout | Answer::Undelivered => None,
    };
    if let Some(r) = respuesta {
        entregas::answered(db, entregas::Tipo::Despacho, site.id, efectivo_id, r).await?;
        let secs = (Utc::now() - closed.asignado_at).num_milliseconds().max(0) as f64 / 1e3;
        m.dispatch_ack_seconds.observe(secs);
    }
    let mut out = Outcome::default();
    let nota = match motivo {
        Some(mo) => format!("efectivo {efectivo_id}: {} ({mo})", answer.evento()),
        None => format!("efectivo {efectivo_id}: {}", answer.evento()),
    };
    store::timeline(db, site.id, by, answer.evento(), &nota).await?;
    if answer == Answer::Accept {
        store::set_unit_status(db, efectivo_id, "EN_CAMINO").await?;
        out.events.push(step_event(
            site,
            DispatchEvento::Aceptado,
            efectivo_id,
            closed.usuario_id,
            None,
        ));
        out.events.push(unit_event(
            efectivo_id,
            closed.usuario_id,
            EstadoDisponibilidad::EnTarea,
            EstadoDisponibilidad::EnCamino,
            site.id,
        ));
        return Ok(Some(out));
    }
    store::release(db, site.id, efectivo_id).await?;
    m.escalated(match answer {
        Answer::Timeout => "timeout",
        Answer::Undelivered => "undelivered",
        _ => "declined",
    });
    out.events.push(step_event(
        site,
        answer.step(),
        efectivo_id,
        closed.usuario_id,
        Some(motivo),
    ));
    out.events.push(unit_event(
        efectivo_id,
        closed.usuario_id,
        EstadoDisponibilidad::EnTarea,
        EstadoDisponibilidad::Disponible,
        site.id,
    ));
    if closed.refuerzo || !site.open {
        return Ok(Some(out)); // a backup unit that cannot come is not replaced automatically
    }
    let cfg = &state.config;
    let attempts = store::primary_attempts(db, site.id).await?;
    let next = if attempts >= i64::from(cfg.dispatch_max_attempts) {
        m.escalated("max_attempts");
        None
    } else {
        let found = store::assign_nearest(
            db,
            site,
            1,
            closed.intento + 1,
            false,
            cfg.dispatch_max_position_age_minutes,
            cfg.dispatch_ack_timeout_seconds,
            cfg.duty,
        )
        .await?;
        if found.is_empty() {
            m.escalated("none_available");
        }
        found.into_iter().next()
    };
    match next {
        Some(a) => {
            if site.delegado == Some(closed.usuario_id) {
                store::hand_over(db, site.id, a.usuario_id).await?;
            }
            store::timeline(
                db,
                site.id,
                by,
                "escalado",
                &format!(
                    "despachado el efectivo {} (intento {})",
                    a.efectivo_id,
                    closed.intento + 1
                ),
            )
            .await?;
            out.events.extend(assigned_events(site, &a, false));
            out.next = Some(a);
        }
        None => {
            store::mark_unassigned(db, site.id).await?;
            store::timeline(
                db,
                site.id,
                by,
                "sin_asignar",
                &format!("sin efectivos tras {attempts} intento(s)"),
            )
            .await?;
            out.sin_asignar = true;
            // Kept until someone at the desk marks it seen: an emergency nobody took must not
            // scroll away unnoticed.
            let alarma = gad_store::checkins::insert_alerta(
                db,
                "sin_asignar",
                "critical",
                Some(site.id),
                None,
                &serde_json::json!({"codigo": site.codigo, "intentos": attempts}),
            )
            .await?;
            out.events.push(
                Event::Alert(Alert::Unassigned(UnassignedAlert {
                    title: "Emergencia sin asignar".into(),
                    level: AlertLevel::Critical,
                    task_id: site.id,
                    codigo: site.codigo.clone(),
                    intentos: attempts,
                    lat: site.lat,
                    lng: site.lng,
                    alerta_id: Some(alarma.id),
                }))
                .to(Audience::Supervisors)
                .topic("emergencias")
                .topic(format!("task:{}", site.id)),
            );
        }
    }
    Ok(Some(out))
}

/// How often the escalation job looks for silences.
fn period(state: &Ctx) -> Duration {
    let ack = Duration::from_secs(state.config.dispatch_ack_timeout_seconds.max(1) as u64);
    ack.min(Duration::from_secs(1)) / 2
}

/// One escalation pass: every dispatch past its deadline is treated as a decline. Safe with any
/// number of instances (see `store::dispatch::lock_due_tasks`). Returns the silences escalated.
pub async fn escalate_due(state: &Ctx) -> Result<usize, gad_store::DbError> {
    let mut tx = state.db.begin().await?;
    let tasks = store::lock_due_tasks(&mut tx, 20).await?;
    let mut events = Vec::new();
    let mut delegates = Vec::new();
    let mut n = 0;
    for tarea_id in tasks {
        let Some(site) = store::lock_site(&mut tx, tarea_id).await? else {
            continue;
        };
        for efectivo_id in store::due_officers(&mut tx, tarea_id).await? {
            if let Some(out) = answer(
                state,
                &mut tx,
                &site,
                efectivo_id,
                Answer::Timeout,
                None,
                Some("sin respuesta"),
            )
            .await?
            {
                n += 1;
                delegates.extend(site.delegado);
                delegates.extend(out.next.as_ref().map(|a| a.usuario_id));
                events.extend(out.events);
            }
        }
    }
    tx.commit().await?;
    for e in events {
        state.events.publish(e);
    }
    // The emergency may have changed hands (the next officer delegates it now).
    crate::stats::invalidate(state, delegates).await;
    Ok(n)
}

/// A call that cannot reach the officer (not linked to Telegram, the bot blocked, the chat gone)
/// is a decline by the system, at once: the same path as a decline or a silence (the next
/// officer is called, or the emergency is left "sin asignar"), with `motivo`
/// "push fallido: <why>" on the dispatch. The task row is locked and only a pending dispatch is
/// closed, so with any number of bots and servers the call passes on exactly once; `false` when
/// the dispatch was already answered or closed.
pub async fn undelivered(
    state: &Ctx,
    tarea_id: i64,
    efectivo_id: i64,
    why: &str,
) -> Result<bool, gad_store::DbError> {
    // Nobody waits on this pass-on: a deadlock with another transaction on the same rows (an
    // erasure, say) is tried again rather than left to the call's deadline.
    let mut attempt = 1;
    loop {
        match pass_on(state, tarea_id, efectivo_id, why).await {
            Err(e) if attempt < 3 && gad_store::positions::is_retryable(&e) => attempt += 1,
            r => return r,
        }
    }
}

async fn pass_on(
    state: &Ctx,
    tarea_id: i64,
    efectivo_id: i64,
    why: &str,
) -> Result<bool, gad_store::DbError> {
    let mut tx = state.db.begin().await?;
    let Some(site) = store::lock_site(&mut tx, tarea_id).await? else {
        return Ok(false);
    };
    let motivo = format!("push fallido: {why}");
    let Some(out) = answer(
        state,
        &mut tx,
        &site,
        efectivo_id,
        Answer::Undelivered,
        None,
        Some(&motivo),
    )
    .await?
    else {
        return Ok(false);
    };
    tx.commit().await?;
    for e in out.events {
        state.events.publish(e);
    }
    crate::stats::invalidate(
        state,
        site.delegado
            .into_iter()
            .chain(out.next.map(|a| a.usuario_id)),
    )
    .await;
    Ok(true)
}

/// Starts the escalation job (it ends with the application).
pub fn spawn(state: Ctx) {
    let every = period(&state);
    crate::jobs::every(
        state,
        every,
        every,
        |state| async move { escalate_due(&state).await },
        |pass| match pass {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(escalated = n, "dispatch: silences escalated"),
            Ok(Err(e)) => tracing::warn!(error = %e, "dispatch: escalation pass failed"),
            Err(e) => tracing::error!(error = %e, "dispatch: escalation pass aborted"),
        },
    );
}

/// Arrival on scene (the officer's own report, or a position within 100 m of the incident):
/// the unit is `en_escena`, the timeline and the arrival histogram record it.
pub async fn arrived(
    state: &Ctx,
    db: &mut PgConnection,
    efectivo_id: i64,
    usuario_id: i64,
    tasks: &[(i64, chrono::DateTime<Utc>)],
    by: Option<i64>,
) -> Result<Vec<DomainEvent>, gad_store::DbError> {
    let mut events = Vec::new();
    for (tarea_id, accepted_at) in tasks {
        let secs = (Utc::now() - *accepted_at).num_milliseconds().max(0) as f64 / 1e3;
        state.metrics.dispatch_arrival_seconds.observe(secs);
        store::timeline(
            db,
            *tarea_id,
            by,
            "llegada",
            &format!("efectivo {efectivo_id}: en escena"),
        )
        .await?;
        events.push(
            Event::TaskStatusChanged(TaskStatusChanged::Dispatch(DispatchStep {
                task_id: *tarea_id,
                codigo: None,
                evento: DispatchEvento::Llegada,
                efectivo_id,
                usuario_id,
                motivo: None,
            }))
            .to(involved(&[Some(usuario_id)]))
            .topic(format!("task:{tarea_id}")),
        );
    }
    Ok(events)
}
