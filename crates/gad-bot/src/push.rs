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

use gad_core::EstadoTarea;
use gad_service::Ctx as AppState;
use gad_service::events::{Audience, DomainEvent, Envelope, EventSink, EventType};
use serde_json::Value;
use tokio::sync::mpsc;

use teloxide::types::{InlineKeyboardMarkup, ReplyMarkup};

use crate::callback::Callback;
use crate::metrics::BotMetrics;
use crate::telegram::{Tg, button};
use crate::texts;

pub struct Event {
    pub event_type: EventType,
    pub audience: Audience,
    pub data: Value,
}

/// One notification: its text, the users it goes to, and the metric label.
#[derive(Debug, PartialEq)]
pub struct Notice {
    pub kind: &'static str,
    pub text: String,
    pub users: Vec<i64>,
    /// Emergency to acknowledge: Aceptar / Rechazar buttons for this task.
    pub ack_task: Option<i64>,
    /// Chats addressed directly (the operators' chat), besides the users' own.
    pub chats: Vec<i64>,
}

fn involved(a: &Audience) -> Vec<i64> {
    match a {
        Audience::Involved { user_ids } | Audience::Unidad { user_ids, .. } => user_ids.clone(),
        // Broadcasts (everyone, all supervisors…) are dashboard material, not pushes.
        _ => Vec::new(),
    }
}

fn without(users: Vec<i64>, actor: Option<i64>) -> Vec<i64> {
    users.into_iter().filter(|u| Some(*u) != actor).collect()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// Which events reach Telegram, and how they read. `admin_chat`: where monitoring alerts go.
pub fn notice(ev: &Event, admin_chat: Option<i64>) -> Option<Notice> {
    let d = &ev.data;
    let users = involved(&ev.audience);
    let n = match ev.event_type {
        // Alertmanager's alerts go to the operators' chat, when one is configured.
        EventType::Alert if s(d, "source") == "alertmanager" => Notice {
            kind: "monitoring_alert",
            text: texts::push_monitoreo(s(d, "title"), d["description"].as_str()),
            users: Vec::new(),
            ack_task: None,
            chats: admin_chat.into_iter().collect(),
        },
        // A dispatch (re-dispatch, backup) is announced by its alert, with the answer buttons.
        EventType::TaskAssigned if d.get("ack_status").is_some() => return None,
        EventType::TaskAssigned => Notice {
            kind: "task_assigned",
            text: texts::push_asignada(s(d, "codigo"), s(&d["tarea"], "titulo")),
            users,
            ack_task: None,
            chats: Vec::new(),
        },
        EventType::TaskCreated => {
            // Emergencies are announced by their alert; a task created with officers is
            // announced by the task_assigned that follows it.
            let has_officers = d["efectivos_asignados"]
                .as_array()
                .is_some_and(|a| !a.is_empty());
            if d["es_emergencia"] == true || has_officers {
                return None;
            }
            Notice {
                kind: "task_created",
                text: texts::push_nueva(s(d, "codigo"), s(d, "titulo")),
                users: without(users, d["creado_por_usuario_id"].as_i64()),
                ack_task: None,
                chats: Vec::new(),
            }
        }
        EventType::TaskUpdated => {
            let deleted = d["deleted"].as_bool().unwrap_or(false);
            Notice {
                kind: "task_updated",
                text: if deleted {
                    texts::push_eliminada(s(d, "codigo"))
                } else {
                    texts::push_modificada(s(d, "codigo"), s(d, "titulo"))
                },
                users,
                ack_task: None,
                chats: Vec::new(),
            }
        }
        EventType::TaskStatusChanged => {
            let to = EstadoTarea::from_wire(s(d, "estado_nuevo"))?;
            Notice {
                kind: "task_status_changed",
                text: texts::push_estado(s(d, "codigo"), to),
                // The officer who made the change already saw it.
                users: without(users, d["usuario_id"].as_i64()),
                ack_task: None,
                chats: Vec::new(),
            }
        }
        EventType::Alert if d["usuario_id"].is_i64() && d["task_id"].is_i64() => Notice {
            kind: "emergency",
            text: texts::push_emergencia(
                s(d, "codigo"),
                d["distance_m"].as_f64().unwrap_or_default(),
                d["lat"].as_f64().unwrap_or_default(),
                d["lng"].as_f64().unwrap_or_default(),
                d["descripcion"].as_str(),
            ),
            users: d["usuario_id"].as_i64().into_iter().collect(),
            // Every dispatch waits for the officer's answer.
            ack_task: d["task_id"].as_i64(),
            chats: Vec::new(),
        },
        _ => return None,
    };
    (!n.users.is_empty() || !n.chats.is_empty()).then_some(n)
}

/// Forwards the bot's own events when there is no Redis channel to read them from.
struct LocalSink(mpsc::UnboundedSender<Event>);

impl EventSink for LocalSink {
    fn deliver(&self, event: &DomainEvent) {
        let _ = self.0.send(Event {
            event_type: event.event_type,
            audience: event.audience.clone(),
            data: event.data.clone(),
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
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let ready = Arc::new(AtomicBool::new(false));
    match state.redis.url().map(str::to_string) {
        Some(url) => {
            let channel = format!("{}ws", state.config.redis_namespace);
            tokio::spawn(subscribe(
                url,
                channel,
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
                deliver(&state, &tg, &metrics, n).await;
            }
        }
    });
    ready
}

async fn deliver(state: &AppState, tg: &Tg, metrics: &BotMetrics, n: Notice) {
    let users: Vec<i64> = n
        .users
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let chats = gad_service::telegram::chats_of(state, &users).await;
    let chats = match chats {
        Ok(mut c) => {
            c.extend(n.chats.iter().copied());
            c
        }
        Err(e) => {
            metrics.error("push_database");
            tracing::warn!(error = %e, "push: recipients not loaded");
            return;
        }
    };
    let markup = n.ack_task.map(|task_id| {
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
    });
    for chat in chats {
        if tg.send(chat, &n.text, markup.clone()).await.is_some() {
            metrics.push(n.kind);
        }
    }
}

async fn subscribe(
    url: String,
    channel: String,
    tx: mpsc::UnboundedSender<Event>,
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
        let Some(r) = Envelope::decode(payload) else {
            metrics.error("push_unreadable");
            return true;
        };
        let data = r.data();
        tx.send(Event {
            event_type: r.e,
            audience: r.a,
            data,
        })
        .is_ok()
    })
    .await;
}
