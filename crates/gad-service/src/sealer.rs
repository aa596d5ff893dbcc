//! The audit sealer: links committed audit rows into the hash chain.
//!
//! An audited transaction writes its row with only its content hash (migration
//! 20261208050001): no lock on the chain's head, so audited commits no longer wait for each
//! other. Every `AUDIT_SEAL_INTERVAL_MS` (500 ms; at most 1 s) each instance of `gad serve` runs
//! one pass of the database's `audit_seal`, which links the committed unsealed rows, in id
//! order, after the head. Only one pass runs at a time across instances (an advisory lock; a
//! pass that finds it taken does nothing), so the work is done once however many instances run.
//! A row is sealed by the first pass after its commit: the window in which a committed row is
//! hashed but not chained is one period plus one pass (docs/SECURITY.md). A crash in that window
//! loses nothing: the row is committed, and the next pass of any instance, or `gad audit
//! verify`, seals it. The witness signs the head, which only the sealer moves: only sealed rows.

use std::sync::atomic::Ordering;

use gad_store::audit as store;

use crate::ctx::Ctx;

/// `AUDIT_SEAL_INTERVAL_MS` default.
pub const DEFAULT_INTERVAL_MS: u64 = 500;

/// One pass: records the backlog (rows waiting, age of the oldest) in the metrics, then seals
/// up to [`store::SEAL_BATCH`] rows. Returns the rows sealed; None when another instance's pass
/// held the lock.
pub async fn pass(state: &Ctx) -> Result<Option<u64>, gad_store::DbError> {
    let (waiting, lag) = store::unsealed(&state.db).await?;
    let m = &state.metrics;
    m.audit_unsealed_rows.store(waiting, Ordering::Relaxed);
    m.audit_seal_lag_seconds.set(lag);
    if waiting == 0 {
        return Ok(Some(0));
    }
    let sealed = store::seal(&state.db, store::SEAL_BATCH).await?;
    if let Some(n) = sealed {
        m.audit_sealed_rows.fetch_add(n, Ordering::Relaxed);
    }
    Ok(sealed)
}

/// Starts the sealer (every `AUDIT_SEAL_INTERVAL_MS`, first right away).
pub fn spawn(state: Ctx) {
    let period = state.config.audit_seal_interval;
    crate::jobs::every(
        state,
        std::time::Duration::ZERO,
        period,
        |state| async move { pass(&state).await },
        |pass: Result<Result<Option<u64>, gad_store::DbError>, tokio::task::JoinError>| match pass {
            Ok(Ok(Some(n))) if n > 0 => tracing::debug!(rows = n, "audit rows sealed"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "audit seal pass failed"),
            Err(e) => tracing::error!(error = %e, "audit seal task aborted"),
        },
    );
}
