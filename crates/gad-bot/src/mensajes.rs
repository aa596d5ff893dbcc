//! Delivery of `/api/v1/mensajes`: the sender loop takes due recipients from the durable queue
//! (`mensaje_destinatarios`, claimed with SKIP LOCKED and leased, so a restart loses nothing and
//! two bots never send the same row at once) and sends them, shaped to Telegram's published
//! limits: `BOT_MENSAJES_POR_SEGUNDO` overall (30) and one message per
//! `BOT_MENSAJES_INTERVALO_CHAT_MS` per chat (1 s). The shaping is per bot process; the queue is
//! shared, so N bots together may send N times the rate (run one, or divide the rate).
//!
//! Outcomes: sent → `enviado` with Telegram's message id; 429 → back in the queue after its
//! `retry_after`, and the whole sender pauses as long; 403 "blocked" → `fallido` ("bloqueó el
//! bot"); no linked chat → `fallido` ("sin vincular"); any other error is retried with a growing
//! pause up to `MAX_INTENTOS`, then `fallido` ("error de Telegram: …").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use gad_service::Ctx;
use gad_service::mensajes::{self, Envio};
use parking_lot::Mutex;
use teloxide::types::{InlineKeyboardMarkup, ReplyMarkup};
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::callback::Callback;
use crate::metrics::BotMetrics;
use crate::telegram::{Tg, button};
use crate::texts;

/// How often an idle sender looks at the queue.
const POLL: Duration = Duration::from_millis(100);
/// How long a claimed row stays with this sender before another may take it again.
const LEASE_S: i64 = 60;
/// Sends in flight at once (Telegram answers in ~100 ms: one at a time would cap the rate).
const IN_FLIGHT: usize = 16;
/// Attempts before an unexplained failure is final.
pub const MAX_INTENTOS: i32 = 4;

/// The rate shaper: a global slot every `1/rate` s, and per chat a least gap.
struct Shaper {
    every: Duration,
    per_chat: Duration,
    inner: Mutex<ShaperInner>,
}

struct ShaperInner {
    next: Instant,
    chats: HashMap<i64, Instant>,
}

impl Shaper {
    fn new(rate: u32, per_chat_ms: u32) -> Shaper {
        Shaper {
            every: Duration::from_secs(1) / rate.max(1),
            per_chat: Duration::from_millis(u64::from(per_chat_ms)),
            inner: Mutex::new(ShaperInner {
                next: Instant::now(),
                chats: HashMap::new(),
            }),
        }
    }

    /// Reserves a send to `chat`: `Err(wait)` when the chat had one too recently (the row goes
    /// back to the queue for that long), else how long to wait for the global slot.
    fn reserve(&self, chat: i64) -> Result<Duration, Duration> {
        let now = Instant::now();
        let mut g = self.inner.lock();
        if let Some(last) = g.chats.get(&chat) {
            let free = *last + self.per_chat;
            if free > now {
                return Err(free - now);
            }
        }
        let slot = g.next.max(now);
        g.next = slot + self.every;
        g.chats.insert(chat, slot);
        if g.chats.len() > 10_000 {
            let horizon = self.per_chat;
            g.chats.retain(|_, t| now.duration_since(*t) < horizon);
        }
        Ok(slot - now)
    }

    /// Telegram asked everyone to wait: no slot before `until`.
    fn pause(&self, wait: Duration) {
        let mut g = self.inner.lock();
        g.next = g.next.max(Instant::now() + wait);
    }
}

/// Starts the sender; it stops when `stop` turns true.
pub fn spawn(
    state: Ctx,
    tg: Tg,
    metrics: Arc<BotMetrics>,
    rate: u32,
    per_chat_ms: u32,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let shaper = Arc::new(Shaper::new(rate, per_chat_ms));
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            // Claim about one second's worth: a row claimed is leased, so claiming far more
            // than can be sent soon would only delay other bots.
            let batch = i64::from(rate.clamp(1, 500));
            let rows = match mensajes::claim(&state, batch, LEASE_S).await {
                Ok(r) => r,
                Err(e) => {
                    metrics.error("mensajes_database");
                    tracing::warn!(error = %e, "bot: message queue not read");
                    Vec::new()
                }
            };
            if rows.is_empty() {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    _ = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            futures::stream::iter(rows)
                .map(|e| send_one(&state, &tg, &metrics, &shaper, e))
                .buffer_unordered(IN_FLIGHT)
                .collect::<Vec<()>>()
                .await;
        }
    })
}

fn text_of(e: &Envio) -> String {
    if e.prioridad == "urgente" {
        texts::mensaje_urgente(&e.texto, e.requiere_confirmacion)
    } else {
        texts::mensaje(&e.texto, e.requiere_confirmacion)
    }
}

async fn send_one(state: &Ctx, tg: &Tg, metrics: &BotMetrics, shaper: &Shaper, e: Envio) {
    let r = deliver(state, tg, metrics, shaper, &e).await;
    if let Err(err) = r {
        metrics.error("mensajes_database");
        tracing::warn!(error = %err, recipient = e.id, "bot: message state not recorded");
    }
}

async fn deliver(
    state: &Ctx,
    tg: &Tg,
    metrics: &BotMetrics,
    shaper: &Shaper,
    e: &Envio,
) -> Result<(), gad_service::error::ServiceError> {
    let Some(chat) = e.chat_id else {
        return mensajes::failed(state, e, mensajes::SIN_VINCULAR).await;
    };
    let wait = match shaper.reserve(chat) {
        Ok(w) => w,
        Err(later) => {
            let ms = i64::try_from(later.as_millis()).unwrap_or(i64::MAX);
            return mensajes::retry(state, e, ms, None, false).await;
        }
    };
    tokio::time::sleep(wait).await;
    let markup = e.requiere_confirmacion.then(|| {
        ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(vec![vec![button(
            texts::RECIBIDO,
            &Callback::Recibido {
                mensaje_id: e.mensaje_id,
            },
        )]]))
    });
    match tg.try_send(chat, &text_of(e), markup).await {
        Ok(id) => {
            metrics.push("mensaje");
            mensajes::sent(state, e, chat, i64::from(id.0)).await
        }
        Err(RequestError::RetryAfter(s)) => {
            let wait = s.duration();
            shaper.pause(wait);
            tracing::warn!(wait_s = wait.as_secs(), "telegram asked to retry later");
            let ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
            mensajes::retry(state, e, ms, Some("429"), false).await
        }
        Err(RequestError::Api(
            ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::CantInitiateConversation,
        )) => mensajes::failed(state, e, mensajes::BLOQUEADO).await,
        Err(err) if e.intentos >= MAX_INTENTOS => {
            let motivo = format!("error de Telegram: {err}");
            mensajes::failed(state, e, &motivo).await
        }
        Err(err) => {
            tracing::warn!(error = %err, "telegram: message not sent; retrying");
            let ms = 1000 * i64::from(e.intentos.max(1));
            mensajes::retry(state, e, ms, Some("reintento"), true).await
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_shaper_spaces_sends_and_keeps_a_chat_to_its_pace() {
        let s = Shaper::new(10, 1000);
        assert_eq!(s.reserve(1).unwrap(), Duration::ZERO);
        let w = s.reserve(2).unwrap();
        assert!(w > Duration::from_millis(90) && w <= Duration::from_millis(100));
        assert!(s.reserve(1).is_err());
    }
}
