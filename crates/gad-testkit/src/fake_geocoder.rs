//! A fake external geocoder on loopback (`GEOCODER_URL`) for the address-search tests: answers
//! every GET (`/search`, `/reverse`, `/api`) with the body a test scripted, or fails (500) or
//! stalls past the client's timeout on demand, and records each request so a test can count
//! them (cache hits never reach it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The scripted body (an empty Nominatim list until one is set).
    Answer,
    /// 500 with no usable body.
    Fail,
    /// Waits this long before answering (past the client's timeout).
    Stall(Duration),
}

/// One request: path and raw query string.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub query: String,
}

struct Inner {
    mode: Mode,
    search: Value,
    reverse: Value,
    requests: Vec<Request>,
}

pub struct FakeGeocoder {
    pub addr: SocketAddr,
    inner: Mutex<Inner>,
    shutdown: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl FakeGeocoder {
    /// Starts the fake on 127.0.0.1:0.
    pub async fn start() -> Arc<FakeGeocoder> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake geocoder");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let fake = Arc::new(FakeGeocoder {
            addr,
            inner: Mutex::new(Inner {
                mode: Mode::Answer,
                search: json!([]),
                reverse: json!({"error": "Unable to geocode"}),
                requests: Vec::new(),
            }),
            shutdown: Mutex::new(Some(tx)),
        });
        let app = Router::new()
            .fallback(axum::routing::get(handle))
            .with_state(Arc::clone(&fake));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        fake
    }

    /// The base URL to give the app (`GEOCODER_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stop(&self) {
        if let Some(tx) = self.shutdown.lock().take() {
            let _ = tx.send(());
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().mode = mode;
    }

    /// The body of every search (`/search`, `/api`).
    pub fn answer_search(&self, body: Value) {
        self.inner.lock().search = body;
    }

    /// The body of every `/reverse`.
    pub fn answer_reverse(&self, body: Value) {
        self.inner.lock().reverse = body;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().requests.clone()
    }
}

async fn handle(State(fake): State<Arc<FakeGeocoder>>, uri: Uri) -> Response {
    let (mode, body) = {
        let mut inner = fake.inner.lock();
        inner.requests.push(Request {
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
        });
        let body = if uri.path().ends_with("/reverse") {
            inner.reverse.clone()
        } else {
            inner.search.clone()
        };
        (inner.mode, body)
    };
    match mode {
        Mode::Answer => axum::Json(body).into_response(),
        Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Mode::Stall(d) => {
            tokio::time::sleep(d).await;
            axum::Json(body).into_response()
        }
    }
}
