//! Day partitions of the position history: created ahead, retired whole.
//!
//! [`maintain`] runs in the background job loop (`jobs.rs`) right after start and then every
//! [`PERIOD`]. It creates the partitions from the oldest day still inside the retention window
//! up to [`AHEAD_DAYS`] days ahead, and drops (detach concurrently + drop) every partition whose
//! whole day is older than `LOCATION_RETENTION_DAYS`. Catalog work only: it never scans the
//! history, never deletes row by row, and never takes a lock that stops inserts. With several
//! instances, creation is serialised inside the SQL function and retirement by an advisory
//! lock (one instance drops, the others skip the pass).

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};

use crate::ctx::Ctx;
use gad_store::positions;

/// Days created ahead of today.
pub const AHEAD_DAYS: u64 = 7;
pub const FIRST_RUN: Duration = Duration::from_secs(0);
pub const PERIOD: Duration = Duration::from_secs(3600);

/// What one maintenance pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub created: i32,
    /// Names of the partitions dropped.
    pub dropped: Vec<String>,
    /// Time spent detaching and dropping.
    pub drop_time: Duration,
}

/// First day kept by a retention of `days` days on `today`: a partition is dropped once its
/// whole day is older than the retention (so data is kept at least `days` days).
pub fn first_kept_day(today: NaiveDate, days: i64) -> NaiveDate {
    today
        .checked_sub_days(Days::new(days.max(0) as u64))
        .unwrap_or(NaiveDate::MIN)
}

/// One pass for `today`: create ahead, drop expired.
pub async fn maintain_on(state: &Ctx, today: NaiveDate) -> Result<Report, gad_store::DbError> {
    let keep_from = first_kept_day(today, state.config.location_retention_days);
    let until = today
        .checked_add_days(Days::new(AHEAD_DAYS))
        .unwrap_or(today);
    let mut report = Report {
        created: positions::ensure_partitions(&state.db, keep_from, until).await?,
        ..Report::default()
    };
    let expired: Vec<_> = positions::partitions(&state.db)
        .await?
        .into_iter()
        .take_while(|p| p.day < keep_from)
        .collect();
    if expired.is_empty() {
        return Ok(report);
    }
    // One instance at a time retires days (the others find the lock taken and skip).
    let mut conn = state.db.acquire().await?;
    if !positions::try_lock_retention(&mut conn).await? {
        return Ok(report);
    }
    let started = Instant::now();
    let mut result = Ok(());
    for p in expired {
        if let Err(e) = positions::drop_partition(&mut conn, &p).await {
            result = Err(e);
            break;
        }
        report.dropped.push(p.name);
    }
    report.drop_time = started.elapsed();
    positions::unlock_retention(&mut conn).await?;
    if !report.dropped.is_empty() {
        // Each retirement is audited, like every other retention run.
        let entry = gad_store::audit::AuditEntry::new("retention_partitions_dropped", None)
            .resource("retention", "efectivo_ubicaciones")
            .describe("Días vencidos del historial de ubicaciones eliminados (retención)")
            .values(
                None,
                Some(serde_json::json!({
                    "dropped": report.dropped,
                    "drop_ms": report.drop_time.as_millis() as u64,
                    "retention_days": state.config.location_retention_days,
                })),
            );
        gad_store::audit::record(&state.db, &entry).await?;
    }
    result.map(|()| report)
}

/// One pass for the current UTC day.
pub async fn maintain(state: &Ctx) -> Result<Report, gad_store::DbError> {
    maintain_on(state, Utc::now().date_naive()).await
}

/// Registers the pass with the background job loop.
pub fn spawn(state: Ctx) {
    crate::jobs::every(
        state,
        FIRST_RUN,
        PERIOD,
        |state| async move { maintain(&state).await },
        |pass| match pass {
            Ok(Ok(r)) if r.created > 0 || !r.dropped.is_empty() => tracing::info!(
                created = r.created,
                dropped = ?r.dropped,
                drop_ms = r.drop_time.as_millis() as u64,
                "position partitions maintained"
            ),
            Ok(Ok(_)) => tracing::debug!("position partitions: nothing to do"),
            Ok(Err(e)) => tracing::warn!(error = %e, "position partition maintenance failed"),
            Err(e) => tracing::error!(error = %e, "position partition maintenance aborted"),
        },
    );
}
