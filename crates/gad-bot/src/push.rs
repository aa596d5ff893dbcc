//! Push: domain events about an officer's tasks and emergencies become Telegram messages.
//!
//! The bot consumes the same events the WebSocket delivers. With Redis, it subscribes to the
//! realtime fan-out channel (`gad:ws`) on which every instance — each API
//! instance and the bot's own service layer — publishes each event exactly once; one bot
//! process reading that channel therefore sends each notification exactly once, however many
//! API instances run. Without Redis there is no cross-process channel: the bot then pushes only
//! the events its own service layer produced (documented; run Redis with more than one process).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gad_service::Ctx as AppState;
use gad_service::entregas::{Envio, Resultado, Tipo};
use gad_service::events::{
    Alert, Audience, DomainEvent, Event, EventSink, FanoutKey, IncidentSummary, TaskAssigned,
    TaskStatusChanged, TaskUpdated,
};
use gad_service::evidencia::Origen;
use tokio::sync::mpsc;

use teloxide::types::{InlineKeyboardMarkup, ReplyMarkup};

use crate::callback::Callback;
use crate::metrics::BotMetrics;
use crate::telegram::{Tg, button};
use crate::texts;

/// An event as the bot receives it: the typed event and who it is for.
pub struct Pushed {
    pub event: Event,
    pub audience: Audience,
}

/// One notification: its text, the users it goes to, and the metric label.
#[derive(Debug, PartialEq)]
pub struct Notice {
    pub kind: &'static str,
    pub text: String,
    pub users: Vec<i64>,
    /// Emergency to acknowledge: Aceptar / Rechazar buttons for this task.
    pub ack_task: Option<i64>,
    /// Check-in to answer: Estoy bien / Necesito apoyo buttons for this task.
    pub checkin_task: Option<i64>,
    /// Chats addressed directly (the operators' chat), besides the users' own.
    pub chats: Vec<i64>,
    /// A notice, not a call: in `DUTY_MODE=turnos` it skips officers off duty.
    pub on_duty_only: bool,
    /// A push whose delivery is recorded (calls, check-in questions, alerts).
    pub entrega: Option<Tracked>,
}

/// What a recorded push is, and for a call the officer called: a call that cannot reach them
/// passes to the next officer at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub tipo: Tipo,
    pub llamado: Option<i64>,
}

fn tracked(tipo: Tipo, llamado: Option<i64>) -> Option<Tracked> {
    Some(Tracked { tipo, llamado })
}

fn involved(a: &Audience) -> Vec<i64> {
    match a {
        Audience::Involved { user_ids }
        | Audience::Unidad { user_ids, .. }
        | Audience::Jurisdiccion { user_ids, .. } => user_ids.clone(),
        // Broadcasts (everyone, all supervisors…) are dashboard material, not pushes.
        _ => Vec::new(),
    }
}

fn without(users: Vec<i64>, actor: Option<i64>) -> Vec<i64> {
    users.into_iter().filter(|u| Some(*u) != actor).collect()
}

/// A notice to users.
fn to_users(kind: &'static str, text: String, users: Vec<i64>) -> Notice {
    Notice {
        kind,
        text,
        users,
        ack_task: None,
        checkin_task: None,
        chats: Vec::new(),
        on_duty_only: true,
        entrega: None,
    }
}

/// An emergency's push with what the desk recorded about the incident, when it did.
fn with_incident(text: String, incidente: Option<&IncidentSummary>) -> String {
    match incidente {
        Some(i) => format!("{text}\n{}", texts::push_incidente(i)),
        None => text,
    }
}

/// Which events reach Telegram, and how they read. `admin_chat`: where monitoring alerts go.
///
/// With `DUTY_MODE=turnos`, task notices (`on_duty_only`) skip officers off duty, by the one
/// rule (`gad_service::turnos::reachable`, i.e. `gad_store::turnos::on_duty_sql`); dispatch
/// calls, check-in questions, monitoring and the clock-out reminder do not.
pub fn notice(ev: &Pushed, admin_chat: Option<i64>) -> Option<Notice> {
    let users = involved(&ev.audience);
    let n = match &ev.event {
        // Alertmanager's alerts go to the operators' chat, when one is configured.
        Event::Alert(Alert::Monitoring(a)) => Notice {
            kind: "monitoring_alert",
            text: texts::push_monitoreo(&a.title, a.description.as_deref()),
            users: Vec::new(),
            ack_task: None,
            checkin_task: None,
            chats: admin_chat.into_iter().collect(),
            on_duty_only: false,
            entrega: tracked(Tipo::Alerta, None),
        },
        // "¿Todo bien?" goes to the officer asked (never to the supervisors in the audience).
        Event::Alert(Alert::Checkin(a)) if a.kind == gad_service::checkins::KIND_PREGUNTA => {
            Notice {
                kind: "checkin",
                text: texts::checkin_pregunta(&a.codigo),
                users: vec![a.usuario_id],
                ack_task: None,
                checkin_task: Some(a.task_id),
                chats: Vec::new(),
                on_duty_only: false,
                entrega: tracked(Tipo::Checkin, None),
            }
        }
        // Every dispatch waits for the officer's answer: Aceptar / Rechazar.
        Event::Alert(Alert::Emergency(a)) => Notice {
            kind: "emergency",
            text: with_incident(
                texts::push_emergencia(
                    &a.codigo,
                    a.distance_m,
                    a.lat,
                    a.lng,
                    a.descripcion.as_deref(),
                ),
                a.incidente.as_ref(),
            ),
            users: vec![a.usuario_id],
            ack_task: Some(a.task_id),
            checkin_task: None,
            chats: Vec::new(),
            on_duty_only: false,
            entrega: tracked(Tipo::Despacho, Some(a.efectivo_id)),
        },
        Event::Alert(Alert::Called(a)) => Notice {
            kind: "emergency",
            text: with_incident(
                texts::push_emergencia(
                    &a.codigo,
                    a.distance_m,
                    a.lat.unwrap_or_default(),
                    a.lng.unwrap_or_default(),
                    None,
                ),
                a.incidente.as_ref(),
            ),
            users: vec![a.usuario_id],
            ack_task: Some(a.task_id),
            checkin_task: None,
            chats: Vec::new(),
            on_duty_only: false,
            entrega: tracked(Tipo::Despacho, Some(a.efectivo_id)),
        },
        // The officer still clocked in long after the shift's end is reminded; the missed
        // clock-in alert is for the supervisors' dashboard only.
        // Past the shift's end the officer is off duty by the rule, and still must hear it.
        Event::Alert(Alert::Shift(a)) if a.motivo == "sin_egreso" => Notice {
            on_duty_only: false,
            entrega: tracked(Tipo::Alerta, None),
            ..to_users(
                "shift_reminder",
                texts::push_turno_sin_egreso(a.fin),
                vec![a.usuario_id],
            )
        },
        // A dispatch (re-dispatch, backup) is announced by its alert, with the answer buttons.
        Event::TaskAssigned(TaskAssigned::Dispatch(_)) => return None,
        Event::TaskAssigned(TaskAssigned::Officers(a)) => to_users(
            "task_assigned",
            texts::push_asignada(&a.codigo, &a.tarea.titulo),
            users,
        ),
        // Emergencies are announced by their alert; a task created with officers is announced
        // by the task_assigned that follows it.
        Event::TaskCreated(t) if t.es_emergencia || !t.efectivos_asignados.is_empty() => {
            return None;
        }
        Event::TaskCreated(t) => to_users(
            "task_created",
            texts::push_nueva(&t.codigo, &t.titulo),
            without(users, t.creado_por_usuario_id),
        ),
        Event::TaskUpdated(TaskUpdated::Deleted(d)) => {
            to_users("task_updated", texts::push_eliminada(&d.codigo), users)
        }
        Event::TaskUpdated(TaskUpdated::Changed(t)) => to_users(
            "task_updated",
            texts::push_modificada(&t.codigo, &t.titulo),
            users,
        ),
        // The officer who made the change already saw it.
        Event::TaskStatusChanged(TaskStatusChanged::Transition(t)) => to_users(
            "task_status_changed",
            texts::push_estado(&t.codigo, t.estado_nuevo),
            without(users, Some(t.usuario_id)),
        ),
        // Notes from the desk reach the officers on the incident; a note written in Telegram
        // is already in the chat it came from.
        Event::TaskNoteAdded(n) if n.nota.origen != Origen::Telegram => to_users(
            "task_note_added",
            texts::nota_de_la_central(&n.codigo, &n.nota.texto),
            without(users, n.nota.autor.as_ref().map(|a| a.usuario_id)),
        ),
        _ => return None,
    };
    (!n.users.is_empty() || !n.chats.is_empty()).then_some(n)
}

/// The task a pushed message is about: a reply to it (a note, a photo) goes to that task.
fn task_of(ev: &Event) -> Option<i64> {
    match ev {
        Event::Alert(Alert::Emergency(a)) => Some(a.task_id),
        Event::Alert(Alert::Called(a)) => Some(a.task_id),
        Event::Alert(Alert::Checkin(a)) => Some(a.task_id),
        Event::TaskAssigned(TaskAssigned::Officers(a)) => Some(a.task_id),
        Event::TaskNoteAdded(n) => Some(n.task_id),
        _ => None,
    }
}

/// Forwards the bot's own events when there is no Redis channel to read them from.
struct LocalSink(mpsc::UnboundedSender<Pushed>);

impl EventSink for LocalSink {
    fn deliver(&self, event: &DomainEvent) {
        let _ = self.0.send(Pushed {
            event: event.event.clone(),
            audience: event.audience.clone(),
        });
    }
}

/// Starts the consumer (Redis subscriber or local sink) and the sender task. The flag turns
/// true once events can be received.
pub fn spawn(
    state: AppState,
    tg: Tg,
    metrics: Arc<BotMetrics>,
    admin_chat: Option<i64>,
) -> Arc<AtomicBool> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Pushed>();
    let ready = Arc::new(AtomicBool::new(false));
    match state.redis.url().map(str::to_string) {
        Some(url) => {
            let channel = format!("{}ws", state.config.redis_namespace);
            tokio::spawn(subscribe(
                url,
                channel,
                state.fanout.clone(),
                Arc::clone(&state.metrics),
                tx,
                Arc::clone(&metrics),
                Arc::clone(&ready),
            ));
        }
        None => {
            state.events.register(Arc::new(LocalSink(tx)));
            ready.store(true, Ordering::SeqCst);
        }
    }
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if let Some(n) = notice(&ev, admin_chat) {
                deliver(&state, &tg, &metrics, n, task_of(&ev.event)).await;
            }
        }
    });
    ready
}

async fn deliver(state: &AppState, tg: &Tg, metrics: &BotMetrics, n: Notice, task: Option<i64>) {
    let users: Vec<i64> = n
        .users
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let users = if n.on_duty_only {
        match gad_service::turnos::reachable(state, &users).await {
            Ok(u) => u,
            Err(e) => {
                metrics.error("push_database");
                tracing::warn!(error = %e, "push: duty of the recipients not loaded");
                return;
            }
        }
    } else {
        users
    };
    let linked = match gad_service::entregas::chats_by_user(state, &users).await {
        Ok(l) => l,
        Err(e) => {
            metrics.error("push_database");
            tracing::warn!(error = %e, "push: recipients not loaded");
            return;
        }
    };
    // Who gets it: each linked user's chat, then the chats addressed directly.
    let mut targets: Vec<(Option<i64>, i64)> = linked
        .iter()
        .map(|(user, chat)| (Some(*user), *chat))
        .collect();
    targets.extend(n.chats.iter().map(|chat| (None, *chat)));
    if let Some(t) = n.entrega {
        // A recorded push to someone with no Telegram reaches nobody: that is recorded too
        // (and a call passes on at once).
        for user in users
            .iter()
            .filter(|u| !linked.iter().any(|(l, _)| l == *u))
        {
            let fallido = Resultado::Fallido {
                motivo: gad_service::entregas::SIN_VINCULAR.to_string(),
            };
            recorded(state, metrics, t, task, Some(*user), None, fallido, true).await;
        }
    }
    let checkin = n.checkin_task.map(|task_id| {
        ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(vec![vec![
            button(texts::ESTOY_BIEN, &Callback::Checkin { task_id, ok: true }),
            button(
                texts::NECESITO_APOYO,
                &Callback::Checkin { task_id, ok: false },
            ),
        ]]))
    });
    let markup = checkin.or_else(|| {
        n.ack_task.map(|task_id| {
            ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(vec![vec![
                button(
                    texts::ACEPTAR,
                    &Callback::Ack {
                        task_id,
                        accept: true,
                    },
                ),
                button(
                    texts::RECHAZAR,
                    &Callback::Ack {
                        task_id,
                        accept: false,
                    },
                ),
            ]]))
        })
    });
    for (user, chat) in targets {
        let Some(t) = n.entrega else {
            if let Some(sent) = tg.send(chat, &n.text, markup.clone()).await {
                metrics.push(n.kind);
                remember(state, metrics, chat, sent, task).await;
            }
            continue;
        };
        let (resultado, permanent) = match tg.send_recorded(chat, &n.text, markup.clone()).await {
            Ok(sent) => {
                metrics.push(n.kind);
                remember(state, metrics, chat, sent, task).await;
                let message_id = i64::from(sent.0);
                (Resultado::Enviado { message_id }, false)
            }
            Err(e) => match crate::telegram::permanent(&e) {
                Some(motivo) => (Resultado::Fallido { motivo }, true),
                None => {
                    let motivo = crate::telegram::transient(&e);
                    (Resultado::Fallido { motivo }, false)
                }
            },
        };
        recorded(
            state,
            metrics,
            t,
            task,
            user,
            Some(chat),
            resultado,
            permanent,
        )
        .await;
    }
}

/// Remembers a message about a task: a reply to it goes to that task.
async fn remember(
    state: &AppState,
    metrics: &BotMetrics,
    chat: i64,
    sent: teloxide::types::MessageId,
    task: Option<i64>,
) {
    let Some(task_id) = task else {
        return;
    };
    let id = i64::from(sent.0);
    if let Err(e) = gad_service::evidencia::remember_message(state, chat, id, task_id).await {
        metrics.error("push_database");
        tracing::warn!(error = %e, "push: message of a task not remembered");
    }
}

/// Records a push's delivery; a call that failed for good (`permanent`) passes to the next
/// officer at once (a transient failure, retries spent, leaves the call to its deadline).
#[allow(clippy::too_many_arguments)]
async fn recorded(
    state: &AppState,
    metrics: &BotMetrics,
    t: Tracked,
    task: Option<i64>,
    usuario_id: Option<i64>,
    chat_id: Option<i64>,
    resultado: Resultado,
    permanent: bool,
) {
    let permanent = match &resultado {
        Resultado::Fallido { motivo } if permanent => Some(motivo.clone()),
        _ => None,
    };
    let envio = Envio {
        tipo: t.tipo,
        usuario_id,
        chat_id,
        tarea_id: task,
        resultado,
    };
    if let Err(e) = gad_service::entregas::record(state, &envio).await {
        metrics.error("push_database");
        tracing::warn!(error = %e, "push: delivery not recorded");
    }
    let (Some(why), Some(efectivo_id), Some(task_id)) = (permanent, t.llamado, task) else {
        return;
    };
    match gad_service::dispatch::undelivered(state, task_id, efectivo_id, &why).await {
        Ok(true) => tracing::info!(
            task_id,
            efectivo_id,
            why,
            "push: undelivered call passed on"
        ),
        Ok(false) => {}
        Err(e) => {
            metrics.error("push_database");
            tracing::warn!(error = %e, "push: undelivered call not passed on");
        }
    }
}

async fn subscribe(
    url: String,
    channel: String,
    key: FanoutKey,
    service_metrics: Arc<gad_service::metrics::Metrics>,
    tx: mpsc::UnboundedSender<Pushed>,
    metrics: Arc<BotMetrics>,
    ready: Arc<AtomicBool>,
) {
    let on_up = {
        let metrics = Arc::clone(&metrics);
        move |up: bool| {
            ready.store(up, Ordering::SeqCst);
            if up {
                tracing::info!("bot push: subscribed to the realtime channel");
            } else {
                metrics.error("push_channel_lost");
                tracing::warn!("bot push: realtime channel lost; reconnecting");
            }
        }
    };
    gad_service::events::subscribe(url, channel, on_up, |payload| {
        let r = match key.open(payload) {
            Ok(r) => r,
            Err(why) => {
                // Unsigned or badly signed: not from this deployment; never pushed.
                service_metrics.fanout_dropped.inc(why.as_str());
                metrics.error("push_dropped");
                tracing::warn!(reason = why.as_str(), "bot push: fan-out message dropped");
                return true;
            }
        };
        if r.end_user.is_some() || r.auth_user.is_some() {
            return true; // a session ended or changed: nothing to push
        }
        let Some(event) = r.event() else {
            metrics.error("push_unreadable");
            return true;
        };
        tx.send(Pushed {
            event,
            audience: r.a,
        })
        .is_ok()
    })
    .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::Utc;
    use gad_core::{EstadoTarea, Prioridad, TipoTarea};
    use gad_service::events::{
        AckPending, AlertLevel, CalledAlert, DispatchCall, DispatchEvento, DispatchStep, Tarea,
        TaskTransition, UnassignedAlert,
    };

    fn tarea(es_emergencia: bool, efectivos: Vec<i64>) -> Tarea {
        let now = Utc::now();
        Tarea {
            id: 7,
            uuid: uuid::Uuid::nil(),
            codigo: "T-7".into(),
            titulo: "Patrulla".into(),
            descripcion: None,
            tipo: TipoTarea::Patrullaje,
            prioridad: Prioridad::Media,
            estado: EstadoTarea::Programada,
            inicio_programado: now,
            fin_programado: None,
            inicio_real: None,
            fin_real: None,
            pausado_en: None,
            tiempo_pausado_segundos: 0,
            duracion_real_horas: None,
            delegado_usuario_id: 3,
            creado_por_usuario_id: Some(2),
            efectivos_asignados: efectivos,
            ubicacion_lat: None,
            ubicacion_lon: None,
            ubicacion_descripcion: None,
            notas: serde_json::json!({}),
            created_at: now,
            updated_at: now,
            deleted_at: None,
            es_emergencia,
            nro_incidente: None,
            incidente: None,
            zona_id: None,
            comisaria_id: None,
            cuadrante_id: None,
        }
    }

    fn to(users: &[i64], event: Event) -> Pushed {
        Pushed {
            event,
            audience: Audience::Involved {
                user_ids: users.to_vec(),
            },
        }
    }

    #[test]
    fn a_called_officer_gets_the_alert_with_the_answer_buttons_not_the_task_assigned() {
        let deadline = Utc::now();
        let call = DispatchCall {
            task_id: 9,
            codigo: "EMG-9".into(),
            efectivo_id: 11,
            usuario_id: 5,
            distance_m: 120.0,
            ack_status: AckPending::PendienteConfirmacion,
            ack_deadline: deadline,
            refuerzo: false,
            lat: None,
            lng: None,
        };
        let assigned = to(&[5], Event::TaskAssigned(TaskAssigned::Dispatch(call)));
        assert_eq!(notice(&assigned, None), None);
        let alert = to(
            &[5],
            Event::Alert(Alert::Called(CalledAlert {
                title: "Emergencia".into(),
                level: AlertLevel::Critical,
                task_id: 9,
                codigo: "EMG-9".into(),
                efectivo_id: 11,
                usuario_id: 5,
                distance_m: 120.0,
                ack_deadline: deadline,
                lat: Some(-34.6),
                lng: Some(-58.38),
                incidente: None,
            })),
        );
        let n = notice(&alert, None).unwrap();
        assert_eq!(
            (n.kind, n.users, n.ack_task),
            ("emergency", vec![5], Some(9))
        );
        assert_eq!(
            n.text,
            texts::push_emergencia("EMG-9", 120.0, -34.6, -58.38, None)
        );

        // A typed incident: the push also carries its case number, type, priority, address
        // and reference.
        let Event::Alert(Alert::Called(mut called)) = alert.event else {
            unreachable!()
        };
        called.incidente = Some(IncidentSummary {
            nro_incidente: Some("2026-000123".into()),
            tipo_incidente: Some("robo".into()),
            tipo_nombre: Some("Robo".into()),
            prioridad: 4,
            direccion: Some("Av. Corrientes 1234".into()),
            referencia: Some("entre Uruguay y Talcahuano".into()),
        });
        let n = notice(&to(&[5], Event::Alert(Alert::Called(called))), None).unwrap();
        assert_eq!(n.ack_task, Some(9));
        for part in [
            "EMG-9",
            "Caso N.º 2026-000123",
            "Tipo: Robo",
            "Prioridad: 4/5 (alta)",
            "Dirección: Av. Corrientes 1234",
            "Referencia: entre Uruguay y Talcahuano",
        ] {
            assert!(n.text.contains(part), "{part:?} in {:?}", n.text);
        }
    }

    #[test]
    fn supervisors_only_alerts_and_dispatch_steps_are_not_pushed() {
        let unassigned = Pushed {
            event: Event::Alert(Alert::Unassigned(UnassignedAlert {
                title: "Emergencia sin asignar".into(),
                level: AlertLevel::Critical,
                task_id: 9,
                codigo: "EMG-9".into(),
                intentos: 3,
                lat: None,
                lng: None,
                alerta_id: None,
            })),
            audience: Audience::Supervisors,
        };
        assert_eq!(notice(&unassigned, Some(1)), None);
        let step = to(
            &[5, 3],
            Event::TaskStatusChanged(TaskStatusChanged::Dispatch(DispatchStep {
                task_id: 9,
                codigo: Some("EMG-9".into()),
                evento: DispatchEvento::Aceptado,
                efectivo_id: 11,
                usuario_id: 5,
                motivo: None,
            })),
        );
        assert_eq!(notice(&step, None), None);
    }

    #[test]
    fn task_pushes_skip_emergencies_tasks_with_officers_and_the_author() {
        let emergency = to(&[3], Event::TaskCreated(tarea(true, vec![11])));
        assert_eq!(notice(&emergency, None), None);
        let with_officers = to(&[3], Event::TaskCreated(tarea(false, vec![11])));
        assert_eq!(notice(&with_officers, None), None);
        let created = to(&[2, 3], Event::TaskCreated(tarea(false, Vec::new())));
        let n = notice(&created, None).unwrap();
        assert_eq!((n.kind, n.users), ("task_created", vec![3]));

        let transition = to(
            &[2, 3],
            Event::TaskStatusChanged(TaskStatusChanged::Transition(TaskTransition {
                task_id: 7,
                codigo: "T-7".into(),
                estado_anterior: EstadoTarea::Programada,
                estado_nuevo: EstadoTarea::Cancelada,
                usuario_id: 3,
                nota: None,
                tarea: Box::new(tarea(false, Vec::new())),
            })),
        );
        let n = notice(&transition, None).unwrap();
        assert_eq!(n.users, vec![2]);
        assert_eq!(n.text, texts::push_estado("T-7", EstadoTarea::Cancelada));
    }
}
