//! Background maintenance: purges rows that are no longer needed.
//!
//! Every [`PERIOD`] (first run [`FIRST_RUN`] after start) one pass deletes:
//! - `idempotency_keys` older than 24 h (the emergency endpoint reclaims them after 24 h anyway),
//! - `revoked_tokens` whose token has expired (an expired token is refused on its own),
//! - `ws_tickets` that have expired,
//! - `telegram_link_codes` expired or used more than a day ago.
//!
//! Each DELETE is bounded ([`BATCH`] rows, picked with `FOR UPDATE SKIP LOCKED` so a purge never
//! waits on a row a request is using) and repeated until a short batch, at most [`MAX_BATCHES`]
//! times per table and pass. Errors are logged and the other tables are still purged; the loop
//! never panics (each pass runs in its own task) and stops once the application state is dropped.
//! Several instances may run it at the same time: they skip each other's locked rows.
//!
//! The position history (`efectivo_ubicaciones`) is not purged here row by row: it is
//! partitioned by day and `partitions::maintain` (registered in [`spawn`]) drops whole days.

use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

pub const FIRST_RUN: Duration = Duration::from_secs(30);
pub const PERIOD: Duration = Duration::from_secs(600);
pub const BATCH: i64 = 10_000;
pub const MAX_BATCHES: u32 = 1_000;

/// Rows deleted by one pass, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCounts {
    pub idempotency_keys: u64,
    pub revoked_tokens: u64,
    pub ws_tickets: u64,
    pub telegram_link_codes: u64,
}

impl PurgeCounts {
    pub fn total(&self) -> u64 {
        self.idempotency_keys + self.revoked_tokens + self.ws_tickets + self.telegram_link_codes
    }
}

/// Runs `pass` every `period` (first after `first`) until the application state is dropped:
/// the loop holds only a weak reference, and each pass runs in its own task so even a panic
/// cannot end the loop. The pass's result is handed to `report`.
pub fn every<T, E, F, Fut>(
    state: AppState,
    first: Duration,
    period: Duration,
    pass: F,
    report: fn(Result<Result<T, E>, tokio::task::JoinError>),
) where
    T: Send + 'static,
    E: Send + 'static,
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
{
    let weak = Arc::downgrade(&state.0);
    drop(state);
    tokio::spawn(async move {
        tokio::time::sleep(first).await;
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else {
                break;
            };
            report(tokio::spawn(pass(AppState(inner))).await);
        }
    });
}

/// Starts the periodic purge.
pub fn spawn(state: AppState) {
    let partitions_state = state.clone();
    every(
        state,
        FIRST_RUN,
        PERIOD,
        |state| async move { run_once(&state).await },
        |pass| match pass {
            Ok(Ok(c)) if c.total() > 0 => tracing::info!(
                idempotency_keys = c.idempotency_keys,
                revoked_tokens = c.revoked_tokens,
                ws_tickets = c.ws_tickets,
                telegram_link_codes = c.telegram_link_codes,
                "maintenance purge"
            ),
            Ok(Ok(_)) => tracing::debug!("maintenance purge: nothing to delete"),
            Ok(Err(e)) => tracing::warn!(error = %e, "maintenance purge failed"),
            Err(e) => tracing::error!(error = %e, "maintenance purge task aborted"),
        },
    );
    crate::partitions::spawn(partitions_state);
}

/// One purge pass over every table. Every table is attempted; the first error (if any) is
/// returned after the others have been purged.
pub async fn run_once(state: &AppState) -> Result<PurgeCounts, sqlx::Error> {
    let mut counts = PurgeCounts::default();
    let mut first_err: Option<sqlx::Error> = None;
    let steps: [(&str, String, Option<i32>, &mut u64); 4] = [
        (
            "idempotency_keys",
            batched(
                "idempotency_keys",
                "user_id, key",
                "created_at < now() - interval '24 hours'",
            ),
            None,
            &mut counts.idempotency_keys,
        ),
        (
            "revoked_tokens",
            batched("revoked_tokens", "jti", "expires_at < now()"),
            None,
            &mut counts.revoked_tokens,
        ),
        (
            "ws_tickets",
            batched("ws_tickets", "ticket", "expires_at < now()"),
            None,
            &mut counts.ws_tickets,
        ),
        (
            "telegram_link_codes",
            batched(
                "telegram_link_codes",
                "code",
                "(expires_at < now() - interval '1 day' OR used_at < now() - interval '1 day')",
            ),
            None,
            &mut counts.telegram_link_codes,
        ),
    ];
    for (table, sql, arg, count) in steps {
        match purge_table(state, &sql, arg).await {
            Ok(n) => *count = n,
            Err(e) => {
                tracing::warn!(table, error = %e, "maintenance purge of a table failed");
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(counts),
    }
}

/// `DELETE … WHERE key IN (up to $1 matching rows)`; `$2` is the optional extra argument.
fn batched(table: &str, key: &str, condition: &str) -> String {
    format!(
        "DELETE FROM {table} WHERE ({key}) IN (
            SELECT {key} FROM {table} WHERE {condition} LIMIT $1 FOR UPDATE SKIP LOCKED)"
    )
}

async fn purge_table(state: &AppState, sql: &str, arg: Option<i32>) -> Result<u64, sqlx::Error> {
    let mut total = 0u64;
    for _ in 0..MAX_BATCHES {
        let mut q = sqlx::query(sql).bind(BATCH);
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let n = q.execute(&state.db).await?.rows_affected();
        total += n;
        if n < BATCH as u64 {
            break;
        }
        // Leave room for the request path between large batches.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(total)
}
