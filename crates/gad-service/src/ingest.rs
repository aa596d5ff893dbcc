//! The group-commit writer of location fixes.
//!
//! Every producer of positions (the HTTP route, the Telegram live location through the same
//! route handler, any future device gateway) calls [`Ingest::submit`] and waits. One writer task
//! per process collects the fixes that arrive within [`WINDOW`] (or until [`MAX_BATCH`]), writes
//! them with `store::positions::write_batch` — one transaction, one multi-row statement for
//! history and current positions — and answers every waiter only after the commit: an
//! acknowledged fix is durable (PostgreSQL's `synchronous_commit` decides what "committed"
//! means, as for every other write). Up to `INGEST_CONCURRENCY` batches (default 8) commit at
//! once, so the next batches gather while earlier ones wait for their locks and fsync: with only
//! two in flight the writer left a third of the CPU idle (docs/PERFORMANCE.md).
//!
//! Ordering per officer is the statement's rule (the newest `recorded_at` wins), so batches may
//! commit in any order. A batch that hits a deadlock or serialization failure is retried; one
//! that finds no partition for its day creates the missing partitions and is retried (the job
//! creates them ahead; this is the safety net).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, oneshot};

use gad_store::positions::{self, Fix, Written};

/// How long a batch waits for more fixes once the first has arrived.
pub const WINDOW: Duration = Duration::from_millis(2);
/// Most fixes in one batch.
pub const MAX_BATCH: usize = 512;
/// Fixes waiting for the writer; beyond this `submit` waits (back-pressure on the callers).
const QUEUE: usize = 8192;
/// Attempts of a batch that meets a transient conflict.
const ATTEMPTS: u32 = 3;

type Reply = oneshot::Sender<Result<Written, Arc<gad_store::DbError>>>;

struct Job {
    fix: Fix,
    reply: Reply,
}

/// Why a fix was not written.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("database: {0}")]
    Db(Arc<gad_store::DbError>),
    #[error("the position writer has stopped")]
    Stopped,
}

/// Handle to the writer, held by the application state. Cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Job>,
}

impl Ingest {
    /// Starts the writer task on the current runtime. It ends when every handle is dropped,
    /// after writing what was already queued.
    pub fn start(db: gad_store::Pool, in_flight: usize) -> Ingest {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx, in_flight.max(1)));
        Ingest { tx }
    }

    /// Queues one fix and waits until the batch holding it has committed.
    pub async fn submit(&self, fix: Fix) -> Result<Written, IngestError> {
        self.submit_many(vec![fix])
            .await
            .pop()
            .unwrap_or(Err(IngestError::Stopped))
    }

    /// Queues several fixes at once (they share the writer's batches) and waits until every
    /// one has committed; one answer per fix, in order. A gateway's request of many fixes.
    pub async fn submit_many(&self, fixes: Vec<Fix>) -> Vec<Result<Written, IngestError>> {
        let mut waiting = Vec::with_capacity(fixes.len());
        for mut fix in fixes {
            fix.recorded_at = micros(fix.recorded_at);
            let (reply, rx) = oneshot::channel();
            let sent = self.tx.send(Job { fix, reply }).await.is_ok();
            waiting.push(sent.then_some(rx));
        }
        let mut answers = Vec::with_capacity(waiting.len());
        for rx in waiting {
            answers.push(match rx {
                None => Err(IngestError::Stopped),
                Some(rx) => match rx.await {
                    Ok(Ok(w)) => Ok(w),
                    Ok(Err(e)) => Err(IngestError::Db(e)),
                    Err(_) => Err(IngestError::Stopped),
                },
            });
        }
        answers
    }
}

/// `t` truncated to whole microseconds.
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

async fn run(db: gad_store::Pool, mut rx: mpsc::Receiver<Job>, in_flight: usize) {
    let slots = Arc::new(Semaphore::new(in_flight));
    let mut buf: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        if rx.recv_many(&mut buf, MAX_BATCH).await == 0 {
            break; // every handle dropped and the queue is empty
        }
        let deadline = tokio::time::Instant::now() + WINDOW;
        while buf.len() < MAX_BATCH {
            let room = MAX_BATCH - buf.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut buf, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let jobs = std::mem::take(&mut buf);
        let db = db.clone();
        tokio::spawn(async move {
            write(&db, jobs).await;
            drop(slot);
        });
    }
    // Let the batches in flight finish before the task ends.
    let _ = slots.acquire_many(in_flight as u32).await;
}

async fn write(db: &gad_store::Pool, jobs: Vec<Job>) {
    let fixes: Vec<Fix> = jobs.iter().map(|j| j.fix.clone()).collect();
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        match positions::write_batch(db, &fixes).await {
            Err(e) if positions::is_missing_partition(&e) && attempt < ATTEMPTS => {
                let days = fixes.iter().map(|f| f.recorded_at.date_naive());
                let (first, last) = (days.clone().min(), days.max());
                if let (Some(first), Some(last)) = (first, last) {
                    tracing::warn!(%first, %last, "ingest: no partition for a fix; creating it");
                    if let Err(e) = positions::ensure_partitions(db, first, last).await {
                        break Err(e);
                    }
                }
            }
            Err(e) if positions::is_retryable(&e) && attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "ingest: batch conflict, retrying");
            }
            other => break other,
        }
    };
    match result {
        Ok(written) => {
            for (job, w) in jobs.into_iter().zip(written) {
                let _ = job.reply.send(Ok(w));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, fixes = fixes.len(), "ingest: batch failed");
            let e = Arc::new(e);
            for job in jobs {
                let _ = job.reply.send(Err(Arc::clone(&e)));
            }
        }
    }
}

impl From<IngestError> for crate::error::ServiceError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Stopped => crate::error::ServiceError::Unavailable,
            IngestError::Db(e) => match &*e {
                gad_store::DbError::PoolTimedOut
                | gad_store::DbError::Io(_)
                | gad_store::DbError::PoolClosed => crate::error::ServiceError::Unavailable,
                other => crate::error::ServiceError::internal(other.to_string()),
            },
        }
    }
}
