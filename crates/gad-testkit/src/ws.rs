//! A WebSocket test client for `/ws/connect`: JSON frames in and out, close codes, timeouts.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::TestApp;

/// What the next read produced.
#[derive(Debug)]
pub enum Frame {
    /// A text frame parsed as JSON (Null if it was not JSON).
    Json(Value),
    /// The server closed: code and reason (None when the connection just ended).
    Closed(Option<(u16, String)>),
    Timeout,
}

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects with `Authorization: Bearer <token>` (or no credentials).
    pub async fn connect(app: &TestApp, token: Option<&str>) -> WsClient {
        let headers: Vec<(String, String)> = token
            .map(|t| vec![("authorization".to_string(), format!("Bearer {t}"))])
            .unwrap_or_default();
        Self::connect_with(app, "", &headers)
            .await
            .expect("ws connect")
    }

    /// Connects with a query string (without `?`) and extra headers.
    pub async fn connect_with(
        app: &TestApp,
        query: &str,
        headers: &[(String, String)],
    ) -> Result<WsClient, tungstenite::Error> {
        let url = if query.is_empty() {
            format!("ws://{}/ws/connect", app.addr)
        } else {
            format!("ws://{}/ws/connect?{query}", app.addr)
        };
        let mut req = url.into_client_request()?;
        for (k, v) in headers {
            let name: tungstenite::http::HeaderName = k.parse().expect("header name");
            req.headers_mut()
                .insert(name, HeaderValue::from_str(v).expect("header value"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(WsClient { stream })
    }

    /// Connects with a bearer token over a socket whose kernel receive buffer is `recv_buffer`
    /// bytes (no autotuning): a client that then never reads fills up quickly (slow consumer).
    pub async fn connect_small_buffer(app: &TestApp, token: &str, recv_buffer: u32) -> WsClient {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_recv_buffer_size(recv_buffer).expect("SO_RCVBUF");
        let tcp = sock.connect(app.addr).await.expect("tcp connect");
        let mut req = format!("ws://{}/ws/connect", app.addr)
            .into_client_request()
            .expect("request");
        req.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
        let (stream, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp))
            .await
            .expect("ws handshake");
        WsClient { stream }
    }

    /// Next text frame or close, skipping protocol ping/pong frames.
    pub async fn next(&mut self, timeout: Duration) -> Frame {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Frame::Timeout,
                Ok(None) => return Frame::Closed(None),
                Ok(Some(Err(_))) => return Frame::Closed(None),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    return Frame::Json(serde_json::from_str(t.as_str()).unwrap_or(Value::Null));
                }
                Message::Close(c) => {
                    return Frame::Closed(c.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                _ => continue,
            }
        }
    }

    /// Next JSON frame; panics on close or timeout.
    pub async fn next_json(&mut self, timeout: Duration) -> Value {
        match self.next(timeout).await {
            Frame::Json(v) => v,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// Waits for a frame of `event_type`, skipping others (server pings included).
    pub async fn wait_for(&mut self, event_type: &str, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Frame::Json(v) if v["event_type"] == event_type => return Some(v),
                Frame::Json(_) => continue,
                _ => return None,
            }
        }
    }

    /// Every JSON frame received during `window` (stops early on close).
    pub async fn collect(&mut self, window: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Frame::Json(v) => out.push(v),
                _ => return out,
            }
        }
    }

    /// Waits for the server to close; returns (code, reason). Panics on timeout.
    pub async fn expect_close(&mut self, timeout: Duration) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Frame::Closed(Some(c)) => return c,
                Frame::Closed(None) => panic!("connection ended without a close frame"),
                Frame::Timeout => panic!("no close within {timeout:?}"),
                Frame::Json(_) => continue,
            }
        }
    }

    pub async fn send_json(&mut self, v: &Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, s: &str) {
        self.stream
            .send(Message::Text(s.to_string().into()))
            .await
            .expect("ws send");
    }

    /// Reads the connection_ack and the system_status snapshot; returns both.
    pub async fn handshake(&mut self) -> (Value, Value) {
        let ack = self.next_json(Duration::from_secs(5)).await;
        assert_eq!(ack["event_type"], "connection_ack", "first frame: {ack}");
        let snap = self.next_json(Duration::from_secs(5)).await;
        assert_eq!(snap["event_type"], "system_status", "second frame: {snap}");
        (ack, snap)
    }
}
