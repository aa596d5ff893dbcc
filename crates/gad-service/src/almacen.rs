//! Where evidence files live: an `object_store` — a local directory (`ADJUNTOS_DIR`, created at
//! start) by default, an S3-compatible bucket when `ADJUNTOS_S3_URL` is set (credentials,
//! region and endpoint from the usual `AWS_*` variables). The database keeps each file's key
//! and SHA-256; the audit trail keeps the SHA-256 too, so `gad audit verify --adjuntos` can tell
//! a file changed or lost in the store.

use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;

use crate::config::Adjuntos;

/// The attachments' store, or why it could not be opened (every use then fails with the reason
/// in the log; the rest of the server works).
#[derive(Clone)]
pub struct Almacen {
    store: Result<Arc<dyn ObjectStore>, String>,
    /// What the configuration names (for messages).
    pub describe: String,
}

/// Why a stored object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("missing")]
    Missing,
    #[error("{0}")]
    Other(String),
}

impl Almacen {
    /// Opens the store the configuration names (the local directory is created if missing).
    pub fn open(cfg: &Adjuntos) -> Almacen {
        match &cfg.s3_url {
            Some(url) => {
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url.clone())
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                    .map_err(|e| format!("ADJUNTOS_S3_URL={url}: {e}"));
                Almacen {
                    store,
                    describe: url.clone(),
                }
            }
            None => {
                let dir = cfg.dir.clone();
                let store = std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("ADJUNTOS_DIR={}: {e}", dir.display()))
                    .and_then(|_| {
                        object_store::local::LocalFileSystem::new_with_prefix(&dir)
                            .map_err(|e| format!("ADJUNTOS_DIR={}: {e}", dir.display()))
                    })
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>);
                if let Err(e) = &store {
                    tracing::error!(error = %e, "attachments store cannot be opened");
                }
                Almacen {
                    store,
                    describe: dir.display().to_string(),
                }
            }
        }
    }

    fn store(&self) -> Result<&Arc<dyn ObjectStore>, String> {
        self.store.as_ref().map_err(Clone::clone)
    }

    /// Stores `bytes` under `key`.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), String> {
        let store = self.store()?;
        store
            .put(&Path::from(key), bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The bytes stored under `key`.
    pub async fn get(&self, key: &str) -> Result<Bytes, ReadError> {
        let store = self.store().map_err(ReadError::Other)?;
        let r = match store.get(&Path::from(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(ReadError::Missing),
            Err(e) => return Err(ReadError::Other(e.to_string())),
        };
        r.bytes().await.map_err(|e| ReadError::Other(e.to_string()))
    }
}
