//! Link notices: when the server ends a Telegram link (password change, deactivation, deletion,
//! level change, "log out everywhere", an administrator), the chat that lost it is told. The
//! server queues the notice in the same transaction as the unlink (the chat is no longer linked,
//! so no push reaches it); the bot takes the queue every `POLL` and sends each notice once — the
//! rows are taken with `SKIP LOCKED`, so two bots never send the same one.

use std::sync::Arc;
use std::time::Duration;

use gad_service::Ctx;
use gad_service::telegram_link;
use teloxide::types::{KeyboardRemove, ReplyMarkup};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::BotMetrics;
use crate::telegram::Tg;
use crate::texts;

/// How often the queue is read.
pub const POLL: Duration = Duration::from_secs(1);
/// Notices taken at once.
const BATCH: i64 = 100;

/// Sends queued notices until `stop` turns true.
pub fn spawn(
    state: Ctx,
    tg: Tg,
    metrics: Arc<BotMetrics>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(POLL) => {}
            }
            deliver(&state, &tg, &metrics).await;
        }
    })
}

async fn deliver(state: &Ctx, tg: &Tg, metrics: &BotMetrics) {
    let notices = match telegram_link::take_notices(state, BATCH).await {
        Ok(n) => n,
        Err(e) => {
            metrics.error("notices_database");
            tracing::warn!(error = %e, "bot: link notices not read");
            return;
        }
    };
    for n in notices {
        // The menu keyboard of a linked chat goes away with the link.
        let markup = ReplyMarkup::KeyboardRemove(KeyboardRemove::new());
        let text = texts::desvinculado_por(n.reason);
        if tg.send(n.telegram_id, &text, Some(markup)).await.is_some() {
            metrics.push("telegram_unlinked");
        }
    }
}
