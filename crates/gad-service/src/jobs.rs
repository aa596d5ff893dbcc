//! Background maintenance: purges rows that are no longer needed (retention, issue 18).
//!
//! Every [`PERIOD`] (first run [`FIRST_RUN`] after start) one pass deletes, each period being a
//! setting (docs/API.md, "Privacy and audit"):
//! - `idempotency_keys` older than `IDEMPOTENCY_KEY_RETENTION_HOURS` (24),
//! - `revoked_tokens` `REVOKED_TOKEN_RETENTION_HOURS` (0) after their token expired,
//! - `ws_tickets` and `totp_challenges` `TICKET_RETENTION_HOURS` (0) after they expired (both
//!   counted as `ws_tickets`),
//! - `telegram_link_codes` `TELEGRAM_LINK_CODE_RETENTION_HOURS` (24) after expiry or use,
//! - `login_failures` and `login_device_failures` untouched for `LOGIN_FAILURE_RETENTION_DAYS`
//!   (30; both counted as `login_failures`),
//! - `audit_logs` past their `retention_until` (fixed at insert by the database:
//!   `AUDIT_RETENTION_DAYS`, at least 365), through the database function `audit_purge_expired`
//!   (the server's role cannot delete audit rows itself, nor choose their age), oldest first so
//!   the hash chain stays verifiable.
//!
//! Each DELETE is bounded (`RETENTION_BATCH_SIZE` rows, picked with `FOR UPDATE SKIP LOCKED` so a
//! purge never waits on a row a request is using) and repeated until a short batch, at most
//! [`MAX_BATCHES`] times per table and pass. Errors are logged and the other tables are still
//! purged; the loop never panics (each pass runs in its own task) and stops once the
//! application state is dropped. Several instances may run it at the same time: they skip each
//! other's locked rows. Every pass writes one `retention_purge` audit row with its counts.
//! The SQL is in `store::retention` and `store::audit`.
//!
//! The position history (`efectivo_ubicaciones`, `LOCATION_RETENTION_DAYS`) is not purged here row
//! by row: it is partitioned by day and `partitions::maintain` (registered in [`spawn`]) drops
//! whole days, auditing each day it drops.

use std::sync::Arc;
use std::time::Duration;

use crate::ctx::Ctx;
use gad_store as store;
use gad_store::audit::AuditEntry;
use gad_store::{self, retention};

pub const FIRST_RUN: Duration = Duration::from_secs(30);
pub const PERIOD: Duration = Duration::from_secs(600);
/// Default rows per DELETE (`RETENTION_BATCH_SIZE`).
pub const BATCH: i64 = 10_000;
pub const MAX_BATCHES: u32 = 1_000;

/// Rows deleted by one pass, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PurgeCounts {
    pub idempotency_keys: u64,
    pub revoked_tokens: u64,
    pub ws_tickets: u64,
    pub telegram_link_codes: u64,
    pub login_failures: u64,
    pub audit_logs: u64,
    /// Incidents whose caller (name, phone) was cleared.
    pub denunciantes: u64,
}

impl PurgeCounts {
    pub fn total(&self) -> u64 {
        self.idempotency_keys
            + self.revoked_tokens
            + self.ws_tickets
            + self.telegram_link_codes
            + self.login_failures
            + self.audit_logs
            + self.denunciantes
    }
}

/// Runs `pass` every `period` (first after `first`) until the application state is dropped:
/// the loop holds only a weak reference, and each pass runs in its own task so even a panic
/// cannot end the loop. The pass's result is handed to `report`.
pub fn every<T, E, F, Fut>(
    state: Ctx,
    first: Duration,
    period: Duration,
    pass: F,
    report: fn(Result<Result<T, E>, tokio::task::JoinError>),
) where
    T: Send + 'static,
    E: Send + 'static,
    F: Fn(Ctx) -> Fut + Send + 'static,
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
            report(tokio::spawn(pass(Ctx(inner))).await);
        }
    });
}

/// Starts the periodic purge and the position-history partition maintenance.
pub fn spawn(state: Ctx) {
    crate::partitions::spawn(state.clone());
    crate::sealer::spawn(state.clone());
    crate::witness::spawn(state.clone());
    crate::turnos::spawn_watch(state.clone());
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
                login_failures = c.login_failures,
                audit_logs = c.audit_logs,
                "maintenance purge"
            ),
            Ok(Ok(_)) => tracing::debug!("maintenance purge: nothing to delete"),
            Ok(Err(e)) => tracing::warn!(error = %e, "maintenance purge failed"),
            Err(e) => tracing::error!(error = %e, "maintenance purge task aborted"),
        },
    );
}

/// One purge pass over every table, then one `retention_purge` audit row with the counts.
/// Every table is attempted; the first error (if any) is returned after the others have been
/// purged (and is named in the audit row).
pub async fn run_once(state: &Ctx) -> Result<PurgeCounts, gad_store::DbError> {
    let r = &state.config.retention;
    let mut counts = PurgeCounts::default();
    let mut first_err: Option<gad_store::DbError> = None;
    let mut failed: Vec<&str> = Vec::new();
    let mut device_failures = 0u64;
    let mut totp_challenges = 0u64;
    let steps: [(&retention::Rule, i32, &mut u64); 7] = [
        (
            &retention::IDEMPOTENCY_KEYS,
            r.idempotency_key_hours,
            &mut counts.idempotency_keys,
        ),
        (
            &retention::REVOKED_TOKENS,
            r.revoked_token_hours,
            &mut counts.revoked_tokens,
        ),
        (
            &retention::WS_TICKETS,
            r.ticket_hours,
            &mut counts.ws_tickets,
        ),
        (
            &retention::TOTP_CHALLENGES,
            r.ticket_hours,
            &mut totp_challenges,
        ),
        (
            &retention::TELEGRAM_LINK_CODES,
            r.telegram_link_code_hours,
            &mut counts.telegram_link_codes,
        ),
        (
            &retention::LOGIN_FAILURES,
            r.login_failure_days,
            &mut counts.login_failures,
        ),
        (
            &retention::LOGIN_DEVICE_FAILURES,
            r.login_failure_days,
            &mut device_failures,
        ),
    ];
    for (rule, period, count) in steps {
        match purge_table(state, rule, period).await {
            Ok(n) => *count = n,
            Err(e) => {
                tracing::warn!(table = rule.table, error = %e, "maintenance purge of a table failed");
                failed.push(rule.table);
                first_err.get_or_insert(e);
            }
        }
    }
    counts.login_failures += device_failures;
    match clear_denunciantes(state).await {
        Ok(n) => counts.denunciantes = n,
        Err(e) => {
            tracing::warn!(table = "tareas", error = %e, "maintenance purge of callers failed");
            failed.push("tareas");
            first_err.get_or_insert(e);
        }
    }
    counts.ws_tickets += totp_challenges;
    match purge_audit(state).await {
        Ok(n) => counts.audit_logs = n,
        Err(e) => {
            tracing::warn!(table = "audit_logs", error = %e, "maintenance purge of a table failed");
            failed.push("audit_logs");
            first_err.get_or_insert(e);
        }
    }
    let entry = AuditEntry::new("retention_purge", None)
        .resource("retention", "maintenance")
        .describe("Purga periódica de datos vencidos (retención)")
        .values(
            None,
            Some(serde_json::json!({"deleted": counts, "failed_tables": failed})),
        );
    let entry = if failed.is_empty() {
        entry
    } else {
        entry.severity("warning")
    };
    if let Err(e) = gad_store::audit::record(&state.db, &entry).await {
        tracing::warn!(error = %e, "maintenance purge: audit row not written");
        first_err.get_or_insert(e);
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(counts),
    }
}

/// Callers of incidents closed more than `DENUNCIANTE_RETENTION_DAYS` ago, in batches.
async fn clear_denunciantes(state: &Ctx) -> Result<u64, gad_store::DbError> {
    let r = &state.config.retention;
    let mut total = 0u64;
    for _ in 0..MAX_BATCHES {
        let n = retention::clear_denunciantes(&state.db, r.denunciante_days, r.batch_size).await?;
        total += n;
        if n < r.batch_size as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(total)
}

/// Audit rows past retention, oldest first, in batches (see `store::audit::purge_expired`).
async fn purge_audit(state: &Ctx) -> Result<u64, gad_store::DbError> {
    let batch = i32::try_from(state.config.retention.batch_size).unwrap_or(i32::MAX);
    let mut total = 0u64;
    for _ in 0..MAX_BATCHES {
        let n = store::audit::purge_expired(&state.db, batch).await?;
        total += n;
        if n < batch as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(total)
}

async fn purge_table(
    state: &Ctx,
    rule: &retention::Rule,
    period: i32,
) -> Result<u64, gad_store::DbError> {
    let batch = state.config.retention.batch_size;
    let mut total = 0u64;
    for _ in 0..MAX_BATCHES {
        let n = retention::purge_batch(&state.db, rule, period, batch).await?;
        total += n;
        if n < batch as u64 {
            break;
        }
        // Leave room for the request path between large batches.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(total)
}
