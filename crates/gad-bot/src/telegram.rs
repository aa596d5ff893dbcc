//! Outgoing Telegram calls: timed per method, Telegram's 429 `retry_after` honoured (the call is
//! repeated after the wait, a few times at most), "message is not modified" treated as success,
//! and every other failure counted by cause and logged — never shown to the officer.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    ButtonRequest, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
    KeyboardMarkup, MessageId, ReplyMarkup,
};

use crate::metrics::BotMetrics;
use crate::texts;

/// Attempts per call when Telegram keeps answering 429.
const MAX_ATTEMPTS: u32 = 4;
/// Longest `retry_after` we wait inside one call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Attempts of a recorded push when the failure is transient (network, Telegram's 5xx).
const TRANSIENT_ATTEMPTS: u32 = 3;
/// Pause before the next of those attempts (times the attempt number).
const TRANSIENT_PAUSE: Duration = Duration::from_millis(300);

/// Why a send can never succeed for this chat (the user blocked the bot, the chat is gone, the
/// request is refused as such), in the words the delivery record keeps; `None` when trying
/// again may work (network, Telegram's 5xx, 429).
pub fn permanent(e: &RequestError) -> Option<String> {
    let RequestError::Api(api) = e else {
        return None;
    };
    match api {
        ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::CantInitiateConversation => {
            Some(gad_service::entregas::BLOQUEADO.to_string())
        }
        ApiError::Unknown(d) => refused(d),
        other => refused(&other.to_string()),
    }
}

/// Why a send failed when trying again might have worked (retries spent), for the record: the
/// kind of failure, never a URL.
pub fn transient(e: &RequestError) -> String {
    let what = match e {
        RequestError::Api(api) => api.to_string(),
        RequestError::RetryAfter(_) => "429 reiterado".to_string(),
        RequestError::Network(_) => "sin conexión".to_string(),
        RequestError::InvalidJson { .. } => "respuesta ilegible".to_string(),
        _ => "error de entrada/salida".to_string(),
    };
    format!("error transitorio de Telegram: {what}")
}

/// Telegram's 400 and 403 answers describe themselves "Bad Request: …" and "Forbidden: …".
fn refused(description: &str) -> Option<String> {
    (description.starts_with("Bad Request") || description.starts_with("Forbidden"))
        .then(|| format!("error de Telegram: {description}"))
}

#[derive(Clone)]
pub struct Tg {
    pub bot: Bot,
    metrics: Arc<BotMetrics>,
}

fn cause(e: &RequestError) -> &'static str {
    match e {
        RequestError::Api(_) => "telegram_api",
        RequestError::RetryAfter(_) => "telegram_retry_after",
        RequestError::Network(_) => "telegram_network",
        RequestError::InvalidJson { .. } => "telegram_invalid_json",
        _ => "telegram_other",
    }
}

impl Tg {
    pub fn new(bot: Bot, metrics: Arc<BotMetrics>) -> Tg {
        Tg { bot, metrics }
    }

    /// Runs one API call (built anew for each attempt) with timing and 429 handling.
    pub async fn call<T, F, Fut>(&self, method: &str, make: F) -> Result<T, RequestError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let r = make().await;
            self.metrics
                .api_call(method, started.elapsed().as_secs_f64());
            match r {
                Err(RequestError::RetryAfter(s)) if attempt < MAX_ATTEMPTS => {
                    self.metrics.error("telegram_retry_after");
                    let wait = s.duration().min(MAX_RETRY_AFTER);
                    tracing::warn!(
                        method,
                        wait_s = wait.as_secs(),
                        "telegram asked to retry later"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => {
                    self.metrics.error(cause(&e));
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    /// One `sendMessage` (a 429 waits its `retry_after`, as every call).
    async fn send_once(
        &self,
        chat: i64,
        text: &str,
        markup: &Option<ReplyMarkup>,
    ) -> Result<teloxide::types::Message, RequestError> {
        self.call("sendMessage", || {
            let req = self.bot.send_message(ChatId(chat), text);
            let req = match markup {
                Some(m) => req.reply_markup(m.clone()),
                None => req,
            };
            req.send()
        })
        .await
    }

    /// Sends a message; failures are logged (the officer cannot be told about them anyway).
    pub async fn send(
        &self,
        chat: i64,
        text: &str,
        markup: Option<ReplyMarkup>,
    ) -> Option<MessageId> {
        match self.send_once(chat, text, &markup).await {
            Ok(m) => Some(m.id),
            Err(e) => {
                tracing::warn!(chat, error = %e, "telegram: sendMessage failed");
                None
            }
        }
    }

    /// Sends a push whose outcome is recorded: a 429 waits its `retry_after` (as every call), a
    /// transient failure is tried again a few times, a permanent one is answered at once.
    pub async fn send_recorded(
        &self,
        chat: i64,
        text: &str,
        markup: Option<ReplyMarkup>,
    ) -> Result<MessageId, RequestError> {
        let mut attempt = 1;
        loop {
            match self.send_once(chat, text, &markup).await {
                Ok(m) => return Ok(m.id),
                Err(e)
                    if attempt < TRANSIENT_ATTEMPTS
                        && permanent(&e).is_none()
                        && !matches!(e, RequestError::RetryAfter(_)) =>
                {
                    tracing::warn!(chat, error = %e, attempt, "telegram: push not sent; retrying");
                    tokio::time::sleep(TRANSIENT_PAUSE * attempt).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!(chat, error = %e, "telegram: push not sent");
                    return Err(e);
                }
            }
        }
    }

    /// Sends a message once, with no retry: the caller decides what a failure means (the
    /// message queue reschedules a 429 after its `retry_after` instead of waiting here).
    pub async fn try_send(
        &self,
        chat: i64,
        text: &str,
        markup: Option<ReplyMarkup>,
    ) -> Result<MessageId, RequestError> {
        let started = Instant::now();
        let req = self.bot.send_message(ChatId(chat), text);
        let req = match markup {
            Some(m) => req.reply_markup(m),
            None => req,
        };
        let r = req.send().await;
        self.metrics
            .api_call("sendMessage", started.elapsed().as_secs_f64());
        r.map(|m| m.id)
            .inspect_err(|e| self.metrics.error(cause(e)))
    }

    /// Replaces a message's text and inline keyboard.
    pub async fn edit(
        &self,
        chat: i64,
        message: MessageId,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) {
        let r = self
            .call("editMessageText", || {
                let req = self.bot.edit_message_text(ChatId(chat), message, text);
                let req = match &keyboard {
                    Some(k) => req.reply_markup(k.clone()),
                    None => req,
                };
                req.send()
            })
            .await;
        match r {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => {}
            Err(e) => tracing::warn!(chat, error = %e, "telegram: editMessageText failed"),
        }
    }

    pub async fn answer_callback(&self, id: &str) {
        let r = self
            .call("answerCallbackQuery", || {
                self.bot.answer_callback_query(id.to_string()).send()
            })
            .await;
        if let Err(e) = r {
            tracing::debug!(error = %e, "telegram: answerCallbackQuery failed");
        }
    }
}

/// The persistent menu: the 🆘 button asks Telegram for the phone's location.
pub fn main_menu() -> ReplyMarkup {
    ReplyMarkup::Keyboard(
        KeyboardMarkup::new(vec![
            vec![
                KeyboardButton::new(texts::BTN_TAREAS),
                KeyboardButton::new(texts::BTN_SOS).request(ButtonRequest::Location),
            ],
            vec![
                KeyboardButton::new(texts::BTN_ESTADO),
                KeyboardButton::new(texts::BTN_STATS),
            ],
        ])
        .resize_keyboard()
        .persistent(),
    )
}

pub fn button(text: impl Into<String>, data: &crate::callback::Callback) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(text.into(), data.encode())
}
