//! Password hashing off the async runtime: a handle the application state holds. It knows
//! nothing of the state, requests or users (`password` runs its hashes on it).

use crate::error::ServiceError;

/// A small pool of low-priority OS threads for password hashing. Requests wait in a bounded
/// queue; the threads run at the lowest scheduling priority, so a login storm uses idle CPU
/// and never delays the async runtime (health checks, dispatch) on a busy machine.
pub struct HashPool {
    tx: tokio::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl HashPool {
    pub fn new(threads: usize, queue: usize) -> HashPool {
        let (tx, rx) = tokio::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>(queue);
        let rx = std::sync::Arc::new(parking_lot::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = std::sync::Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("gad-hash-{i}"))
                .spawn(move || {
                    if let Err(e) = thread_priority::set_current_thread_priority(
                        thread_priority::ThreadPriority::Min,
                    ) {
                        tracing::debug!(error = ?e, "could not lower hashing thread priority");
                    }
                    loop {
                        let job = rx.lock().blocking_recv();
                        match job {
                            Some(job) => job(),
                            None => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start hashing thread");
            }
        }
        HashPool { tx }
    }

    /// Runs `f` on a hashing thread and returns its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = done_tx.send(f());
        });
        self.tx
            .send(job)
            .await
            .map_err(|_| ServiceError::internal("hashing pool stopped"))?;
        done_rx
            .await
            .map_err(|_| ServiceError::internal("hashing job dropped"))
    }
}
