//! `/ws/connect`: authentication before the upgrade, then one task per socket that writes
//! queued frames and answers client messages.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use chrono::Utc;
use gad_core::positions::BBox;
use gad_core::{Actor, Nivel};
use serde_json::Value;

use super::{Conn, Hub, Out, data, envelope};
use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;
use gad_service::ServiceError;
use gad_service::events::{ConnectionAck, ErrorFrame, Event, EventType, Notification, Pong};

/// Frame and buffer limits: small buffers so many thousands of idle sockets stay cheap.
const BUFFER: usize = 4 * 1024;
const MAX_MESSAGE: usize = 64 * 1024;
/// Largest frame the server writes. Snapshot parts are ~48 KiB; events carry at most one
/// object (request bodies are ≤ 1 MiB). The write buffer may grow to this only while a frame
/// is in flight, so idle sockets stay small.
const MAX_OUTBOUND: usize = 1024 * 1024;
/// Time allowed to write a close frame before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Who is on the socket (user_id None = anonymous, development only).
#[derive(Clone, Copy)]
pub(crate) struct Identity {
    pub user_id: Option<i64>,
    pub nivel: Nivel,
    pub efectivo_id: Option<i64>,
}

impl Identity {
    /// The user on the socket (None when anonymous).
    fn actor(&self) -> Option<Actor> {
        self.user_id.map(|id| Actor {
            id,
            nivel: self.nivel,
            efectivo_id: self.efectivo_id,
        })
    }
}

enum Rejection {
    Close(u16, &'static str),
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, tok) = h.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty())
        .then(|| tok.trim().to_string())
}

fn from_auth(u: auth::AuthUser) -> Identity {
    Identity {
        user_id: Some(u.id),
        nivel: u.nivel,
        efectivo_id: u.efectivo_id,
    }
}

fn map_err(e: ApiError) -> Rejection {
    match e {
        ApiError::Service(
            ServiceError::InvalidCredentials
            | ServiceError::InactiveUser
            | ServiceError::NotAuthenticated,
        ) => Rejection::Close(1008, "Invalid token"),
        other => {
            tracing::warn!(error = %other, "realtime: authentication failed on a dependency");
            Rejection::Close(1011, "Server error")
        }
    }
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Identity, Rejection> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .is_ok_and(|o| auth::origin_allowed(state, headers, o));
        if !ok {
            return Err(Rejection::Close(1008, "Origin not allowed"));
        }
    }
    let token = bearer(headers).or_else(|| auth::cookie_value(headers, auth::COOKIE_NAME));
    if let Some(t) = token {
        return auth::authenticate_token(state, &t)
            .await
            .map(from_auth)
            .map_err(map_err);
    }
    if let Some(ticket) = query_param(query, "ticket") {
        return consume_ticket(state, &ticket).await;
    }
    if let Some(t) = query_param(query, "token") {
        return auth::authenticate_token(state, &t)
            .await
            .map(from_auth)
            .map_err(map_err);
    }
    if state.config.environment.is_development() {
        return Ok(Identity {
            user_id: None,
            nivel: Nivel::Efectivo,
            efectivo_id: None,
        });
    }
    Err(Rejection::Close(1008, "Authentication required"))
}

/// Single use: the ticket is consumed by the first instance that sees it.
async fn consume_ticket(state: &AppState, ticket: &str) -> Result<Identity, Rejection> {
    let actor = gad_service::realtime::redeem_ticket(&state.ctx, ticket)
        .await
        .map_err(|e| map_err(ApiError::from(e)))?;
    Ok(Identity {
        user_id: Some(actor.id),
        nivel: actor.nivel,
        efectivo_id: actor.efectivo_id,
    })
}

/// `GET /ws/connect`. The query string may carry a token: it is never logged.
pub async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let who = authenticate(&state, &headers, query.as_deref()).await;
    let ws = ws
        .read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
        .max_write_buffer_size(MAX_OUTBOUND + BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE);
    let bbox = query_param(query.as_deref(), "bbox");
    ws.on_upgrade(move |socket| async move {
        match who {
            Ok(id) => run(state, socket, id, bbox).await,
            Err(Rejection::Close(code, reason)) => close(socket, code, reason).await,
        }
    })
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if socket.send(frame).await.is_ok() {
            // Wait briefly for the client's close reply so the frame is not lost to a reset.
            while let Some(Ok(m)) = socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        }
    })
    .await;
}

fn close_reason(code: u16) -> &'static str {
    match code {
        1013 => "Slow consumer",
        1001 => "Heartbeat timeout",
        1008 => "Session ended",
        1009 => "Message too big",
        _ => "Closing",
    }
}

/// A reply to this socket only.
fn reply(who: &Identity, event: &Event) -> Message {
    Message::Text(frame(who, event))
}

/// Why a socket's loop ended (logged, with its close code when the server closes).
enum End {
    /// The client sent a close frame or went away.
    Client,
    /// Writing to the socket failed (network gone): nothing more can be sent.
    SendFailed,
    /// The hub asked for a close (slow consumer, heartbeat, session ended, shutdown).
    Hub(u16),
}

async fn run(state: AppState, mut socket: WebSocket, who: Identity, bbox: Option<String>) {
    let hub: Arc<Hub> = Arc::clone(&state.hub);
    let connected_at = Utc::now();
    let connection_id = uuid::Uuid::new_v4().to_string();
    let (id, conn, mut rx) = hub.register(who.user_id, who.nivel.as_i16() as u8);
    // `?bbox=w,s,e,n`: the box holds from the start, so the snapshot honours it too.
    let bbox_error = bbox.and_then(|b| {
        let nums: Result<Vec<f64>, _> = b.split(',').map(|x| x.trim().parse::<f64>()).collect();
        match nums
            .map_err(|_| "bbox must be four numbers w,s,e,n".to_string())
            .and_then(|v| BBox::from_slice(&v).map_err(|e| e.0))
        {
            Ok(b) => {
                conn.set_bbox(Some(b));
                None
            }
            Err(e) => Some(error_frame(&who, &format!("Invalid bbox: {e}"))),
        }
    });
    let ack = reply(
        &who,
        &Event::ConnectionAck(ConnectionAck {
            connection_id: connection_id.clone(),
            connected_at,
            server_time: Utc::now(),
            user_id: who.user_id,
            nivel: who.nivel,
        }),
    );
    let mut end = None;
    if socket.send(ack).await.is_err() {
        end = Some(End::SendFailed);
    } else {
        hub.metrics.ws_messages_sent.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = bbox_error
            && socket.send(Message::Text(e)).await.is_err()
        {
            end = Some(End::SendFailed);
        }
        // The snapshot goes out in bounded parts (a city's officers do not fit one frame).
        let parts =
            gad_service::realtime::snapshot(&state.ctx, who.actor().as_ref(), conn.bbox()).await;
        for part in parts {
            if end.is_some() {
                break;
            }
            if socket
                .send(reply(&who, &Event::SystemStatus(part)))
                .await
                .is_err()
            {
                end = Some(End::SendFailed);
                break;
            }
            hub.metrics.ws_messages_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    while end.is_none() {
        if conn.close_code() != 0 {
            end = Some(End::Hub(conn.close_code()));
            break;
        }
        tokio::select! {
            _ = conn.kill.notified() => end = Some(End::Hub(conn.close_code())),
            out = rx.recv() => match out {
                Some(out) => {
                    if !write(&hub, &conn, &mut socket, out).await {
                        end = Some(if conn.close_code() != 0 { End::Hub(conn.close_code()) } else { End::SendFailed });
                    }
                }
                None => end = Some(End::Hub(1001)),
            },
            msg = socket.recv() => match msg {
                Some(Ok(m)) => {
                    hub.touch(&conn);
                    match m {
                        Message::Text(t) => {
                            for r in handle_client(&state, &conn, &who, t.as_str()).await {
                                if !write(&hub, &conn, &mut socket, Out { text: r, published: None }).await {
                                    end = Some(End::SendFailed);
                                    break;
                                }
                            }
                        }
                        Message::Close(_) => end = Some(End::Client),
                        _ => {}
                    }
                }
                _ => end = Some(End::Client),
            },
        }
    }
    hub.unregister(id);
    drop(rx);
    match end {
        Some(End::Hub(code)) => {
            let code = if code == 0 { 1001 } else { code };
            let reason = close_reason(code);
            tracing::info!(connection_id, user_id = ?who.user_id, code, reason, "realtime: server closed socket");
            close(socket, code, reason).await;
        }
        Some(End::SendFailed) => {
            tracing::info!(connection_id, user_id = ?who.user_id, reason = "send failed", "realtime: socket dropped: the connection is gone");
        }
        _ => {
            tracing::debug!(connection_id, user_id = ?who.user_id, "realtime: client closed socket");
        }
    }
}

/// Writes one frame; a kill request (slow consumer) interrupts a stalled write.
async fn write(hub: &Hub, conn: &Conn, socket: &mut WebSocket, out: Out) -> bool {
    if out.text.len() > MAX_OUTBOUND {
        // Never send what the socket cannot hold: skip the frame, keep the socket, say so.
        tracing::warn!(
            bytes = out.text.len(),
            "realtime: outbound frame over the limit skipped"
        );
        hub.metrics.ws_send_errors.fetch_add(1, Ordering::Relaxed);
        return true;
    }
    let res = tokio::select! {
        r = socket.send(Message::Text(out.text)) => r.is_ok(),
        _ = conn.kill.notified() => {
            // Re-arm so the caller sees the request too.
            conn.kill.notify_one();
            return false;
        }
    };
    if res {
        hub.metrics.ws_messages_sent.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = out.published {
            hub.metrics
                .ws_message_latency
                .observe(p.elapsed().as_secs_f64());
        }
    } else {
        hub.metrics.ws_send_errors.fetch_add(1, Ordering::Relaxed);
    }
    res
}

fn error_frame(who: &Identity, msg: &str) -> Utf8Bytes {
    frame(
        who,
        &Event::Error(ErrorFrame {
            error: msg.to_string(),
        }),
    )
}

/// A frame for this socket only.
fn frame(who: &Identity, event: &Event) -> Utf8Bytes {
    envelope(event, who.user_id, None, None)
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn event_list(v: &Value) -> Vec<EventType> {
    let mut out: Vec<EventType> = string_list(v)
        .iter()
        .filter_map(|s| EventType::parse(s))
        .collect();
    out.sort_by_key(|e| e.as_str());
    out.dedup();
    out
}

/// Answers one client message with the frames to send back: none, one, or — after a
/// subscription that sets a `bbox` — the confirmation followed by a snapshot of that box
/// (level 2+).
pub(crate) async fn handle_client(
    state: &AppState,
    conn: &Conn,
    who: &Identity,
    text: &str,
) -> Vec<Utf8Bytes> {
    let bbox = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        (v.get("event_type").and_then(Value::as_str) == Some("subscribe"))
            .then(|| v.get("data").and_then(|d| d.get("bbox")).cloned())
            .flatten()
    });
    let Some(bbox) = bbox else {
        return answer(state, conn, who, text).await.into_iter().collect();
    };
    let parsed = match &bbox {
        Value::Null => Ok(None),
        Value::Array(a) => a
            .iter()
            .map(Value::as_f64)
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| "bbox must be [w, s, e, n] (numbers)".to_string())
            .and_then(|v| BBox::from_slice(&v).map_err(|e| e.0))
            .map(Some),
        _ => Err("bbox must be [w, s, e, n] (numbers)".to_string()),
    };
    let b = match parsed {
        Ok(b) => b,
        Err(e) => return vec![error_frame(who, &format!("Invalid bbox: {e}"))],
    };
    conn.set_bbox(b);
    let mut out: Vec<Utf8Bytes> = answer(state, conn, who, text).await.into_iter().collect();
    if who.nivel >= Nivel::Supervisor {
        out.extend(
            gad_service::realtime::snapshot(&state.ctx, who.actor().as_ref(), b)
                .await
                .into_iter()
                .map(|part| frame(who, &Event::SystemStatus(part))),
        );
    }
    out
}

/// Answers one client message; `None` when nothing is sent back.
async fn answer(state: &AppState, conn: &Conn, who: &Identity, text: &str) -> Option<Utf8Bytes> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Some(error_frame(who, "Invalid JSON format"));
    };
    let Some(event_type) = v
        .as_object()
        .and_then(|o| o.get("event_type"))
        .and_then(Value::as_str)
    else {
        return Some(error_frame(who, "Invalid message"));
    };
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    match event_type {
        "ping" => Some(frame(
            who,
            &Event::Pong(Pong {
                timestamp: Utc::now(),
            }),
        )),
        "pong" => None, // liveness already recorded
        "subscribe" => {
            let events = event_list(&data["events"]);
            let topics = data
                .get("topics")
                .map(string_list)
                .filter(|t| !t.is_empty());
            let Ok(n) = conn.subscribe(&events, topics) else {
                return Some(error_frame(
                    who,
                    &format!(
                        "Too many topics: at most {} per connection",
                        super::MAX_TOPICS
                    ),
                ));
            };
            Some(frame(
                who,
                &Event::Notification(Notification {
                    title: "Suscripción confirmada".into(),
                    content: format!("Suscrito a {n} tipos de eventos"),
                    level: "info".into(),
                    audience: None,
                    from_user_id: None,
                    timestamp: None,
                }),
            ))
        }
        "unsubscribe" => {
            conn.unsubscribe(&event_list(&data["events"]), &string_list(&data["topics"]));
            None
        }
        "dashboard_update" => {
            if who.nivel < Nivel::Supervisor {
                return Some(error_frame(who, "The user doesn't have enough privileges"));
            }
            if !state.hub.dashboard_allowed(conn) {
                return Some(error_frame(
                    who,
                    "Too many dashboard_update requests: at most one per second",
                ));
            }
            match state.hub.dashboard(&state.db).await {
                Ok(o) => Some(frame(who, &Event::DashboardUpdate(o))),
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: dashboard_update failed");
                    Some(error_frame(who, "Dashboard data unavailable"))
                }
            }
        }
        "metrics_update" => {
            if who.nivel < Nivel::Supervisor {
                return Some(error_frame(who, "The user doesn't have enough privileges"));
            }
            Some(frame(who, &Event::MetricsUpdate(data::metrics(state))))
        }
        _ => Some(error_frame(who, "Unsupported event_type")),
    }
}
