//! `gad bot`: the officers' Telegram client.
//!
//! Design (see README "Bot de Telegram" and docs/API.md): the bot is a separate process that
//! connects to the same PostgreSQL and Redis as the API and calls the service layer in-process
//! ([`service`]), as the linked officer. It is the only party that asserts a Telegram id: an
//! update's sender id comes from Telegram (long polling, or a webhook checked with its secret
//! token), and every update looks the officer up afresh by that id. Pushes come from the same
//! domain events the WebSocket delivers ([`push`]); a chat whose link the server ended is told
//! so ([`notices`]).

pub mod callback;
pub mod config;
pub mod handlers;
pub mod mensajes;
pub mod metrics;
pub mod notices;
pub mod push;
pub mod ratelimit;
pub mod task_pages;
pub mod telegram;
pub mod texts;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gad_service::Ctx as AppState;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, BotCommand, Update};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::BotConfig;

use crate::handlers::Handler;
use crate::metrics::BotMetrics;
use crate::ratelimit::ChatLimiter;
use crate::telegram::Tg;

/// Path of the webhook on the bot's own listener.
pub const WEBHOOK_PATH: &str = "/telegram/webhook";
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// A running bot.
pub struct BotHandle {
    /// Address of the bot's HTTP listener (`/metrics`, `/health`, webhook).
    pub addr: SocketAddr,
    /// True once pushes can be received.
    pub push_ready: Arc<AtomicBool>,
    pub metrics: Arc<BotMetrics>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl BotHandle {
    /// Stops polling and the HTTP listener, waiting for the update in hand to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// Posts every new witnessed head of the audit chain to the operators' chat: a witness kept by
/// Telegram, outside the database and the server's disk.
fn witness_to_chat(state: &AppState, tg: &Tg, chat: i64) {
    let tg = tg.clone();
    gad_service::witness::spawn_delivery(state.clone(), move |line| {
        let tg = tg.clone();
        async move {
            let Ok(json) = serde_json::to_string(&line) else {
                return false;
            };
            tg.send(chat, &texts::testigo_auditoria(&json), None)
                .await
                .is_some()
        }
    });
}

#[derive(Clone)]
struct Http {
    handler: Arc<Handler>,
    metrics: Arc<BotMetrics>,
    secret: Option<String>,
}

/// Connects to Telegram (getMe), registers the commands, starts the HTTP listener, the push
/// consumer and then long polling or the webhook.
pub async fn start(
    cfg: BotConfig,
    state: AppState,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<BotHandle> {
    let metrics = Arc::new(BotMetrics::new());
    let bot = Bot::new(cfg.token.clone()).set_api_url(cfg.api_url.clone());
    let tg = Tg::new(bot.clone(), Arc::clone(&metrics));
    let me = tg
        .call("getMe", || bot.get_me().send())
        .await
        .map_err(|e| anyhow::anyhow!("Telegram refused the bot token or is unreachable: {e}"))?;
    tracing::info!(username = ?me.username, "bot: connected to Telegram");
    let commands: Vec<BotCommand> = texts::COMANDOS
        .iter()
        .map(|(c, d)| BotCommand::new(*c, *d))
        .collect();
    if let Err(e) = tg
        .call("setMyCommands", || {
            bot.set_my_commands(commands.clone()).send()
        })
        .await
    {
        tracing::warn!(error = %e, "bot: setMyCommands failed");
    }
    let handler = Arc::new(Handler {
        state: state.clone(),
        tg: tg.clone(),
        metrics: Arc::clone(&metrics),
        limiter: ChatLimiter::new(cfg.rate_limit_per_minute),
    });
    let (stop, stop_rx) = watch::channel(false);
    let link_notices = notices::spawn(
        state.clone(),
        tg.clone(),
        Arc::clone(&metrics),
        stop_rx.clone(),
    );
    if let Some(chat) = cfg.admin_chat_id {
        witness_to_chat(&state, &tg, chat);
    }
    let state_for_sender = state.clone();
    let push_ready = push::spawn(state, tg.clone(), Arc::clone(&metrics), cfg.admin_chat_id);
    let addr = listener.local_addr()?;
    let http = Http {
        handler: Arc::clone(&handler),
        metrics: Arc::clone(&metrics),
        secret: cfg.webhook_secret.clone(),
    };
    let mut router = Router::new()
        .route("/metrics", axum::routing::get(metrics_route))
        .route("/health", axum::routing::get(|| async { "ok" }));
    if cfg.webhook_url.is_some() {
        router = router.route(WEBHOOK_PATH, axum::routing::post(webhook_route));
    }
    let mut http_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router.with_state(http))
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await;
    });
    let sender = mensajes::spawn(
        state_for_sender,
        tg.clone(),
        Arc::clone(&metrics),
        cfg.mensajes_por_segundo,
        cfg.mensajes_intervalo_chat_ms,
        stop_rx.clone(),
    );
    let mut tasks = vec![server, link_notices, sender];
    match &cfg.webhook_url {
        Some(url) => {
            let secret = cfg.webhook_secret.clone().unwrap_or_default();
            tg.call("setWebhook", || {
                bot.set_webhook(url.clone())
                    .secret_token(secret.clone())
                    .allowed_updates(allowed_updates())
                    .send()
            })
            .await
            .map_err(|e| anyhow::anyhow!("setWebhook failed: {e}"))?;
            tracing::info!(%url, "bot: webhook mode");
        }
        None => {
            // Polling and a webhook exclude each other at Telegram.
            tg.call("deleteWebhook", || bot.delete_webhook().send())
                .await
                .map_err(|e| anyhow::anyhow!("deleteWebhook failed: {e}"))?;
            tasks.push(tokio::spawn(poll(
                handler,
                cfg.poll_timeout_s,
                stop_rx.clone(),
            )));
            tracing::info!("bot: long polling");
        }
    }
    Ok(BotHandle {
        addr,
        push_ready,
        metrics,
        stop,
        tasks,
    })
}

fn allowed_updates() -> Vec<AllowedUpdate> {
    vec![
        AllowedUpdate::Message,
        AllowedUpdate::EditedMessage,
        AllowedUpdate::CallbackQuery,
    ]
}

/// Handles a batch: chats in parallel, each chat's updates in order.
async fn handle_batch(handler: &Arc<Handler>, updates: Vec<Update>) {
    let mut by_chat: BTreeMap<i64, Vec<Update>> = BTreeMap::new();
    for u in updates {
        let chat = u.chat().map(|c| c.id.0).unwrap_or_default();
        by_chat.entry(chat).or_default().push(u);
    }
    futures::future::join_all(by_chat.into_values().map(|ups| {
        let h = Arc::clone(handler);
        async move {
            for u in ups {
                h.handle(u).await;
            }
        }
    }))
    .await;
}

/// Long polling. An update is confirmed (offset) only after it was handled, so a crash means
/// re-delivery, never loss; re-delivered emergencies are made harmless by their idempotency key.
async fn poll(handler: Arc<Handler>, timeout_s: u32, mut stop: watch::Receiver<bool>) {
    let mut offset: Option<i32> = None;
    let bot = handler.tg.bot.clone();
    loop {
        let req = async {
            handler
                .tg
                .call("getUpdates", || {
                    let mut r = bot
                        .get_updates()
                        .timeout(timeout_s)
                        .allowed_updates(allowed_updates());
                    if let Some(o) = offset {
                        r = r.offset(o);
                    }
                    r.send()
                })
                .await
        };
        let res = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = req => r,
        };
        match res {
            Ok(updates) => {
                if let Some(last) = updates.iter().map(|u| u.id.0).max() {
                    offset = Some(i32::try_from(last).unwrap_or(i32::MAX).saturating_add(1));
                }
                handle_batch(&handler, updates).await;
            }
            Err(RequestError::RetryAfter(s)) => tokio::time::sleep(s.duration()).await,
            Err(e) => {
                tracing::warn!(error = %e, "bot: getUpdates failed");
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn metrics_route(State(h): State<Http>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.metrics.render(),
    )
        .into_response()
}

/// Telegram's webhook: only requests carrying the secret token set with setWebhook are taken.
async fn webhook_route(
    State(h): State<Http>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = h.secret.as_deref().unwrap_or("");
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        h.metrics.error("webhook_secret");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        h.metrics.error("webhook_unreadable");
        return StatusCode::OK; // Telegram would retry a non-2xx forever
    };
    handle_batch(&h.handler, vec![update]).await;
    StatusCode::OK
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
