//! Data-subject rights: the streamed export (JSON, or ZIP of JSON + CSV) and the
//! erasure by anonymisation. The use cases (export, erase, data map) are in [`rights`]; the SQL
//! is in `store::gdpr`; the data map in [`datamap`].
//!
//! Bounded memory: an export is written by one task into a channel of at most
//! [`CHANNEL_CHUNKS`] chunks of about [`CHUNK`] bytes that the HTTP body drains; rows are
//! streamed from PostgreSQL one at a time (one read-only repeatable-read transaction, so every
//! section sees the same instant), serialised and sent. A slow client slows the export down
//! instead of growing a buffer. At most `GDPR_EXPORT_CONCURRENCY` exports run at once per
//! instance (each holds one database connection), and each for at most
//! `GDPR_EXPORT_MAX_SECONDS`: past that deadline the export stops — its slot, connection and
//! snapshot are released — and the body ends with an error, so a reader too slow to take the
//! document in time gets a cut transfer, never a complete-looking file.

pub mod datamap;
pub mod rights;
pub mod zip;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use gad_store::Conn as PgConnection;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::audit::Keyring;
use crate::ctx::Ctx;
use gad_store::gdpr as store;

/// Bytes gathered before a chunk is sent.
pub const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the export task and the HTTP body.
pub const CHANNEL_CHUNKS: usize = 4;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Zip,
}

type Chunk = Result<Bytes, std::io::Error>;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Db(#[from] gad_store::DbError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("client went away")]
    Gone,
}

/// Where export bytes go: straight to the body, or through the ZIP writer.
struct Sink {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    zip: Option<zip::ZipWriter>,
}

impl Sink {
    async fn raw(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }
    async fn flush(&mut self) -> Result<(), ExportError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.send(Ok(chunk)).await.map_err(|_| ExportError::Gone)
    }
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        match self.zip.as_mut() {
            None => self.raw(bytes).await,
            Some(z) => {
                let out = z.write(bytes)?;
                self.raw(&out).await
            }
        }
    }
    async fn entry(&mut self, name: &str) -> Result<(), ExportError> {
        if let Some(z) = self.zip.as_mut() {
            let out = z.start(name)?;
            self.raw(&out).await?;
        }
        Ok(())
    }
    async fn finish(&mut self) -> Result<(), ExportError> {
        if let Some(z) = self.zip.as_mut() {
            let out = z.finish()?;
            self.raw(&out).await?;
        }
        self.flush().await
    }
}

/// Starts the export of `user_id` (who must exist) and returns the body's stream. `permit`
/// (a concurrency slot) is held until the export ends, at the latest at the deadline.
pub fn start_export(
    state: Ctx,
    user_id: i64,
    format: Format,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl futures::Stream<Item = Chunk> + Send + 'static {
    let (tx, mut rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
    let finished = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&finished);
    let deadline = Duration::from_secs(state.config.gdpr_export_max_seconds);
    tokio::spawn(async move {
        let _permit = permit;
        let mut sink = Sink {
            tx,
            buf: Vec::with_capacity(CHUNK),
            zip: (format == Format::Zip).then(zip::ZipWriter::new),
        };
        // At the deadline the export's future is dropped: its transaction rolls back and its
        // connection goes back to the pool, whatever the reader is doing.
        match tokio::time::timeout(deadline, export(&state, user_id, &mut sink)).await {
            Ok(Ok(())) => done.store(true, Ordering::Release),
            Ok(Err(ExportError::Gone)) => {}
            Ok(Err(e)) => tracing::error!(user_id, error = %e, "gdpr export failed mid-stream"),
            Err(_) => tracing::warn!(
                user_id,
                seconds = deadline.as_secs(),
                "gdpr export cut at GDPR_EXPORT_MAX_SECONDS"
            ),
        }
        // Dropping the sink closes the channel; the body then ends, cleanly only if the export
        // finished.
    });
    let mut ended = false;
    futures::stream::poll_fn(move |cx| {
        if ended {
            return Poll::Ready(None);
        }
        match rx.poll_recv(cx) {
            Poll::Ready(None) => {
                ended = true;
                if finished.load(Ordering::Acquire) {
                    Poll::Ready(None)
                } else {
                    // The client sees a truncated transfer, never a complete-looking file.
                    Poll::Ready(Some(Err(std::io::Error::other("export cut"))))
                }
            }
            other => other,
        }
    })
}

async fn export(state: &Ctx, user_id: i64, sink: &mut Sink) -> Result<(), ExportError> {
    let mut tx = state.db.begin().await?;
    store::begin_snapshot(&mut tx).await?;
    let db: &mut PgConnection = &mut tx;
    // The person's own values inside audit rows are opened; anyone else's are withheld.
    let ring = Keyring::of_person(&state.personal, db, user_id).await?;
    sink.entry("datos.json").await?;
    write_json(db, user_id, &ring, sink).await?;
    if sink.zip.is_some() {
        csv_section(sink, "ubicaciones.csv", store::ubicaciones(db, user_id)).await?;
        csv_section(sink, "tareas.csv", store::tareas(db, user_id)).await?;
        csv_section(sink, "historial_estados.csv", store::historial(db, user_id)).await?;
        csv_section(sink, "despachos.csv", store::despachos(db, user_id)).await?;
        csv_section(sink, "auditoria.csv", auditoria(db, user_id, &ring)).await?;
        csv_section(
            sink,
            "tokens_revocados.csv",
            store::tokens_revocados(db, user_id),
        )
        .await?;
        csv_section(
            sink,
            "telegram_codigos_vinculacion.csv",
            store::telegram_codigos(db, user_id),
        )
        .await?;
        csv_section(sink, "tickets_ws.csv", store::tickets_ws(db, user_id)).await?;
        csv_section(
            sink,
            "claves_idempotencia.csv",
            store::claves_idempotencia(db, user_id),
        )
        .await?;
    }
    tx.commit().await?;
    sink.finish().await
}

/// The person's audit entries, their own personal values opened.
fn auditoria<'a>(
    db: &'a mut PgConnection,
    user_id: i64,
    ring: &'a Keyring,
) -> BoxStream<'a, Result<store::AuditoriaExport, gad_store::DbError>> {
    store::auditoria(db, user_id)
        .map_ok(move |mut row| {
            ring.reveal(&mut row.old_values);
            ring.reveal(&mut row.new_values);
            row
        })
        .boxed()
}

/// The JSON document: one object, every list streamed element by element.
async fn write_json(
    db: &mut PgConnection,
    user_id: i64,
    ring: &Keyring,
    sink: &mut Sink,
) -> Result<(), ExportError> {
    let perfil = store::perfil(&mut *db, user_id).await?;
    let efectivo = store::efectivo(&mut *db, user_id).await?;
    let head = serde_json::json!({
        "formato": "gad-export-v1",
        "generado_en": gad_core::time::now_rfc3339(),
        "usuario_id": user_id,
    });
    let head = serde_json::to_vec(&head)?;
    // `{"formato":…,"usuario_id":…` without the closing brace, then the sections.
    sink.write(&head[..head.len() - 1]).await?;
    sink.write(b",\"perfil\":").await?;
    sink.write(&serde_json::to_vec(&perfil)?).await?;
    sink.write(b",\"efectivo\":").await?;
    sink.write(&serde_json::to_vec(&efectivo)?).await?;
    json_section(sink, "ubicaciones", store::ubicaciones(db, user_id)).await?;
    json_section(sink, "tareas", store::tareas(db, user_id)).await?;
    json_section(sink, "historial_estados", store::historial(db, user_id)).await?;
    json_section(sink, "despachos", store::despachos(db, user_id)).await?;
    json_section(sink, "auditoria", auditoria(db, user_id, ring)).await?;
    json_section(
        sink,
        "tokens_revocados",
        store::tokens_revocados(db, user_id),
    )
    .await?;
    json_section(
        sink,
        "telegram_codigos_vinculacion",
        store::telegram_codigos(db, user_id),
    )
    .await?;
    json_section(sink, "tickets_ws", store::tickets_ws(db, user_id)).await?;
    json_section(
        sink,
        "claves_idempotencia",
        store::claves_idempotencia(db, user_id),
    )
    .await?;
    sink.write(b"}").await
}

async fn json_section<T: Serialize>(
    sink: &mut Sink,
    name: &str,
    mut rows: BoxStream<'_, Result<T, gad_store::DbError>>,
) -> Result<(), ExportError> {
    sink.write(format!(",\"{name}\":[").as_bytes()).await?;
    let mut first = true;
    let mut line = Vec::with_capacity(256);
    while let Some(row) = rows.try_next().await? {
        line.clear();
        if !first {
            line.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut line, &row)?;
        sink.write(&line).await?;
    }
    sink.write(b"]").await
}

/// One CSV file: a header from the row type's fields, one line per row.
async fn csv_section<T: Serialize + Default>(
    sink: &mut Sink,
    file: &str,
    mut rows: BoxStream<'_, Result<T, gad_store::DbError>>,
) -> Result<(), ExportError> {
    sink.entry(file).await?;
    let header: Vec<String> = match serde_json::to_value(T::default())? {
        Value::Object(m) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut line = String::new();
    csv_line(&mut line, header.iter().map(|h| Value::String(h.clone())));
    sink.write(line.as_bytes()).await?;
    while let Some(row) = rows.try_next().await? {
        let Value::Object(mut m) = serde_json::to_value(&row)? else {
            continue;
        };
        line.clear();
        csv_line(
            &mut line,
            header.iter().map(|h| m.remove(h).unwrap_or(Value::Null)),
        );
        sink.write(line.as_bytes()).await?;
    }
    Ok(())
}

/// RFC 4180 line. Text starting with = + - @ (a spreadsheet formula) gets a leading `'`.
pub fn csv_line(out: &mut String, values: impl Iterator<Item = Value>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = match v {
            Value::Null => String::new(),
            Value::String(s) if s.starts_with(['=', '+', '-', '@']) => format!("'{s}"),
            Value::String(s) => s,
            other => other.to_string(),
        };
        if text.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut s = String::new();
        csv_line(
            &mut s,
            [
                Value::from("a,b"),
                Value::from("=cmd()"),
                Value::from(-3.5),
                Value::Null,
                Value::from("x\"y"),
            ]
            .into_iter(),
        );
        assert_eq!(s, "\"a,b\",'=cmd(),-3.5,,\"x\"\"y\"\r\n");
    }
}
