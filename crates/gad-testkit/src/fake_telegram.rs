//! A fake Telegram Bot API on loopback for end-to-end bot tests.
//!
//! Serves `POST /bot<token>/<method>` like api.telegram.org: method names are matched
//! case-insensitively (teloxide sends `GetMe`, `SendMessage`…). Every call is recorded; a test
//! injects updates (messages, commands, callback queries, locations, edited live locations),
//! which `getUpdates` long-polls for (`offset` confirms earlier ones, `timeout` bounds the wait),
//! and can script error answers for the next call of a method ("message is not modified", 429
//! with `retry_after`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const BOT_ID: i64 = 7_000_000_001;
pub const BOT_USERNAME: &str = "gad_test_bot";

/// One recorded call: lower-cased method name and its parameters.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub at: Instant,
    /// Answered with a scripted error (the message was not delivered).
    pub failed: bool,
}

/// A scripted error answer for the next call of a method.
#[derive(Debug, Clone)]
pub enum FakeError {
    /// 400 "Bad Request: message is not modified…".
    NotModified,
    /// 429 with `parameters.retry_after`.
    RetryAfter(u32),
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Updates not yet confirmed by an `offset`, and whether they were handed out already.
    pending: VecDeque<(Value, bool)>,
    next_update_id: i64,
    next_message_id: i64,
    errors: HashMap<String, VecDeque<FakeError>>,
    /// Files a test made available (`getFile` + download), by file id.
    files: HashMap<String, Vec<u8>>,
    next_file: i64,
    /// Chats whose user blocked the bot: sendMessage to them answers 403.
    blocked: std::collections::HashSet<i64>,
}

pub struct FakeTelegram {
    pub addr: SocketAddr,
    pub token: String,
    inner: Mutex<Inner>,
    new_update: Notify,
    new_call: Notify,
    shutdown: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl FakeTelegram {
    /// Starts the fake on 127.0.0.1:0.
    pub async fn start() -> Arc<FakeTelegram> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake telegram");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let fake = Arc::new(FakeTelegram {
            addr,
            token: "123456:TEST-TOKEN".into(),
            inner: Mutex::new(Inner {
                next_update_id: 1000,
                next_message_id: 1,
                ..Default::default()
            }),
            new_update: Notify::new(),
            new_call: Notify::new(),
            shutdown: Mutex::new(Some(tx)),
        });
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::post(handle).get(handle))
            .route("/file/{bot}/{*path}", axum::routing::get(download))
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

    /// The API URL to give the bot (`TELEGRAM_API_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stop(&self) {
        if let Some(tx) = self.shutdown.lock().take() {
            let _ = tx.send(());
        }
    }

    /// The next call of `method` answers `err` instead (repeat to script several).
    pub fn fail_next(&self, method: &str, err: FakeError) {
        self.inner
            .lock()
            .errors
            .entry(method.to_lowercase())
            .or_default()
            .push_back(err);
    }

    /// The user of `chat_id` blocked the bot: every sendMessage to it answers 403.
    pub fn block_chat(&self, chat_id: i64) {
        self.inner.lock().blocked.insert(chat_id);
    }

    /// Queues a raw update (an `update_id` is added when missing); returns its id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut g = self.inner.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => id,
                None => {
                    g.next_update_id += 1;
                    update["update_id"] = json!(g.next_update_id);
                    g.next_update_id
                }
            };
            g.pending.push_back((update, false));
            id
        };
        self.new_update.notify_waiters();
        id
    }

    fn next_message_id(&self) -> i64 {
        let mut g = self.inner.lock();
        g.next_message_id += 1;
        g.next_message_id
    }

    /// A private-chat message from user `user_id` (chat id = user id, as in Telegram).
    pub fn message_json(&self, user_id: i64, extra: Value) -> Value {
        let mut m = json!({
            "message_id": self.next_message_id(),
            "date": chrono_now(),
            "chat": {"id": user_id, "type": "private", "first_name": "Agente"},
            "from": user(user_id),
        });
        merge(&mut m, extra);
        m
    }

    /// A text message (commands included); returns the update id.
    pub fn send_text(&self, user_id: i64, text: &str) -> i64 {
        let mut extra = json!({"text": text});
        if text.starts_with('/') {
            let len = text.split_whitespace().next().map_or(0, str::len);
            extra["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        let m = self.message_json(user_id, extra);
        self.push_update(json!({"message": m}))
    }

    /// A single (not live) location, as the 🆘 button sends it; returns the whole update so a
    /// test can deliver it again.
    pub fn location_update(&self, user_id: i64, lat: f64, lng: f64) -> Value {
        let m = self.message_json(
            user_id,
            json!({"location": {"latitude": lat, "longitude": lng}}),
        );
        let mut u = json!({"message": m});
        let mut g = self.inner.lock();
        g.next_update_id += 1;
        u["update_id"] = json!(g.next_update_id);
        u
    }

    /// Starts sharing a live location; returns the message id to edit.
    pub fn send_live_location(&self, user_id: i64, lat: f64, lng: f64) -> i64 {
        let m = self.message_json(
            user_id,
            json!({"location": {"latitude": lat, "longitude": lng, "live_period": 900}}),
        );
        let id = m["message_id"].as_i64().unwrap_or_default();
        self.push_update(json!({"message": m}));
        id
    }

    /// A new position of a shared live location (an `edited_message`).
    pub fn edit_live_location(&self, user_id: i64, message_id: i64, lat: f64, lng: f64) -> i64 {
        let m = json!({
            "message_id": message_id,
            "date": chrono_now() - 60,
            "edit_date": chrono_now(),
            "chat": {"id": user_id, "type": "private", "first_name": "Agente"},
            "from": user(user_id),
            "location": {"latitude": lat, "longitude": lng, "live_period": 900},
        });
        self.push_update(json!({"edited_message": m}))
    }

    /// A button press on one of the bot's messages (`message_id` in chat `user_id`).
    pub fn press(&self, user_id: i64, message_id: i64, data: &str) -> i64 {
        let m = json!({
            "message_id": message_id,
            "date": chrono_now(),
            "chat": {"id": user_id, "type": "private", "first_name": "Agente"},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "GAD", "username": BOT_USERNAME},
            "text": "…",
        });
        let id = format!("cb{}", self.next_message_id());
        self.push_update(json!({"callback_query": {
            "id": id, "from": user(user_id), "chat_instance": "ci", "message": m, "data": data,
        }}))
    }

    /// Makes `bytes` downloadable as a Telegram file; returns its file id.
    pub fn add_file(&self, bytes: Vec<u8>) -> String {
        let mut g = self.inner.lock();
        g.next_file += 1;
        let id = format!("FILE{}", g.next_file);
        g.files.insert(id.clone(), bytes);
        id
    }

    /// A message the bot sent (a recorded sendMessage), as Telegram puts it in `reply_to_message`.
    fn bot_message(&self, sent: &Value) -> Value {
        json!({
            "message_id": message_id(sent),
            "date": chrono_now(),
            "chat": {"id": sent["chat_id"], "type": "private", "first_name": "Agente"},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "GAD", "username": BOT_USERNAME},
            "text": sent["text"],
        })
    }

    /// A text answering one of the bot's messages (`sent`: a recorded sendMessage).
    pub fn reply_text(&self, user_id: i64, sent: &Value, text: &str) -> i64 {
        let reply = self.bot_message(sent);
        let m = self.message_json(user_id, json!({"text": text, "reply_to_message": reply}));
        self.push_update(json!({"message": m}))
    }

    /// A photo (Telegram sends several sizes: a small one with other bytes, and `bytes` as the
    /// largest), optionally answering a bot message and with a caption.
    pub fn send_photo(
        &self,
        user_id: i64,
        bytes: Vec<u8>,
        reply_to: Option<&Value>,
        caption: Option<&str>,
    ) -> i64 {
        let size = bytes.len();
        let small = self.add_file(b"\xff\xd8\xff small thumbnail".to_vec());
        let big = self.add_file(bytes);
        let mut extra = json!({"photo": [
            {"file_id": small, "file_unique_id": format!("u{small}"), "width": 90, "height": 60, "file_size": 20},
            {"file_id": big, "file_unique_id": format!("u{big}"), "width": 1280, "height": 960, "file_size": size},
        ]});
        if let Some(r) = reply_to {
            extra["reply_to_message"] = self.bot_message(r);
        }
        if let Some(c) = caption {
            extra["caption"] = json!(c);
        }
        let m = self.message_json(user_id, extra);
        self.push_update(json!({"message": m}))
    }

    /// A document with its file name and declared MIME type.
    pub fn send_document(
        &self,
        user_id: i64,
        bytes: Vec<u8>,
        file_name: &str,
        mime: &str,
        reply_to: Option<&Value>,
        caption: Option<&str>,
    ) -> i64 {
        let size = bytes.len();
        let id = self.add_file(bytes);
        let mut extra = json!({"document": {"file_id": id, "file_unique_id": format!("u{id}"),
            "file_name": file_name, "mime_type": mime, "file_size": size}});
        if let Some(r) = reply_to {
            extra["reply_to_message"] = self.bot_message(r);
        }
        if let Some(c) = caption {
            extra["caption"] = json!(c);
        }
        let m = self.message_json(user_id, extra);
        self.push_update(json!({"message": m}))
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().calls.clone()
    }

    /// Calls of `method` (case-insensitive).
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        let m = method.to_lowercase();
        self.calls().into_iter().filter(|c| c.method == m).collect()
    }

    /// Texts delivered (sent or edited) into chat `chat_id`, in order, with the call's parameters.
    pub fn messages_to(&self, chat_id: i64) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| !c.failed)
            .filter(|c| c.method == "sendmessage" || c.method == "editmessagetext")
            .filter(|c| c.params["chat_id"].as_i64() == Some(chat_id))
            .map(|c| c.params)
            .collect()
    }

    /// Waits until a message (sent or edited) to `chat_id` satisfies `pred`, returning it.
    pub async fn wait_message(
        &self,
        chat_id: i64,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.new_call.notified();
            if let Some(m) = self.messages_to(chat_id).into_iter().find(|m| pred(m)) {
                return Some(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Waits until a message to `chat_id` contains `needle`.
    pub async fn wait_text(&self, chat_id: i64, needle: &str) -> Value {
        let found = self
            .wait_message(chat_id, Duration::from_secs(10), |m| {
                m["text"].as_str().is_some_and(|t| t.contains(needle))
            })
            .await;
        found.unwrap_or_else(|| {
            panic!(
                "no message containing {needle:?} to chat {chat_id}; got {:#?}",
                self.messages_to(chat_id)
            )
        })
    }

    /// Waits until every queued update was fetched and confirmed (the bot handled them).
    pub async fn wait_drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.inner.lock().pending.iter().any(|(_, handed)| !handed) {
            assert!(Instant::now() < deadline, "bot never confirmed the updates");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn record(&self, method: &str, params: &Value, failed: bool) {
        self.inner.lock().calls.push(Call {
            method: method.to_string(),
            params: params.clone(),
            at: Instant::now(),
            failed,
        });
        self.new_call.notify_waiters();
    }

    fn take_error(&self, method: &str) -> Option<FakeError> {
        self.inner
            .lock()
            .errors
            .get_mut(method)
            .and_then(VecDeque::pop_front)
    }

    async fn get_updates(&self, params: &Value) -> Value {
        let offset = num(&params["offset"]);
        let timeout = num(&params["timeout"]).unwrap_or(0).clamp(0, 30) as u64;
        let deadline = Instant::now() + Duration::from_secs(timeout);
        loop {
            let notified = self.new_update.notified();
            {
                let mut g = self.inner.lock();
                // Like Telegram: an offset confirms what was handed out before it; an update
                // queued again (a re-delivery) is handed out again.
                if let Some(off) = offset {
                    g.pending.retain(|(u, handed)| {
                        !*handed || u["update_id"].as_i64().is_some_and(|id| id >= off)
                    });
                }
                if !g.pending.is_empty() {
                    return Value::Array(
                        g.pending
                            .iter_mut()
                            .map(|(u, handed)| {
                                *handed = true;
                                u.clone()
                            })
                            .collect(),
                    );
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return json!([]);
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    fn sent_message(&self, params: &Value, message_id: Option<i64>) -> Value {
        let chat_id = params["chat_id"].as_i64().unwrap_or_default();
        let mut m = json!({
            "message_id": message_id.unwrap_or_else(|| self.next_message_id()),
            "date": chrono_now(),
            "chat": {"id": chat_id, "type": "private", "first_name": "Agente"},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "GAD", "username": BOT_USERNAME},
            "text": params["text"].as_str().unwrap_or(""),
        });
        if let Some(markup) = params.get("reply_markup")
            && markup.get("inline_keyboard").is_some()
        {
            m["reply_markup"] = markup.clone();
        }
        m
    }
}

fn num(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn user(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "Agente", "language_code": "es"})
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        t.extend(e);
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (status, Json(body)).into_response()
}

/// Parameters of a call: a JSON body, or a multipart form (teloxide sends `setWebhook` that
/// way), whose fields hold plain or JSON-encoded values.
fn parse_params(headers: &axum::http::HeaderMap, body: &[u8]) -> Value {
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(boundary) = ctype.split("boundary=").nth(1) {
        let boundary = format!("--{}", boundary.trim_matches('"'));
        let text = String::from_utf8_lossy(body);
        let mut out = serde_json::Map::new();
        for part in text.split(boundary.as_str()) {
            let Some((head, value)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let Some(name) = head
                .split("name=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            let value = value.trim_end_matches("\r\n");
            let v = serde_json::from_str::<Value>(value)
                .ok()
                .unwrap_or_else(|| Value::String(value.to_string()));
            out.insert(name.to_string(), v);
        }
        return Value::Object(out);
    }
    if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).unwrap_or_else(|_| json!({}))
    }
}

async fn handle(
    State(fake): State<Arc<FakeTelegram>>,
    Path((bot, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    if bot != format!("bot{}", fake.token) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let method = method.to_lowercase();
    let params = parse_params(&headers, &body);
    if let Some(e) = fake.take_error(&method) {
        fake.record(&method, &params, true);
        return match e {
            FakeError::NotModified => error(
                StatusCode::BAD_REQUEST,
                "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                None,
            ),
            FakeError::RetryAfter(s) => error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {s}"),
                Some(json!({"retry_after": s})),
            ),
        };
    }
    if method == "sendmessage"
        && params["chat_id"]
            .as_i64()
            .is_some_and(|c| fake.inner.lock().blocked.contains(&c))
    {
        fake.record(&method, &params, true);
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden: bot was blocked by the user",
            None,
        );
    }
    let result = match method.as_str() {
        "sendmessage" => fake.sent_message(&params, None),
        "editmessagetext" => fake.sent_message(&params, params["message_id"].as_i64()),
        _ => Value::Null,
    };
    let mut recorded = params.clone();
    if let Some(id) = result.get("message_id") {
        // The id of the message sent or edited, so a test can press its buttons.
        recorded["_message_id"] = id.clone();
    }
    fake.record(&method, &recorded, false);
    match method.as_str() {
        "getfile" => {
            let id = params["file_id"].as_str().unwrap_or("").to_string();
            let size = fake.inner.lock().files.get(&id).map(Vec::len);
            match size {
                Some(size) => ok(json!({"file_id": id, "file_unique_id": format!("u{id}"),
                    "file_size": size, "file_path": format!("files/{id}")})),
                None => error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: invalid file_id",
                    None,
                ),
            }
        }
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "GAD", "username": BOT_USERNAME,
            "can_join_groups": false, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false,
        })),
        "getupdates" => ok(fake.get_updates(&params).await),
        "sendmessage" | "editmessagetext" => ok(result),
        "getwebhookinfo" => {
            ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}))
        }
        "answercallbackquery"
        | "deletewebhook"
        | "setwebhook"
        | "setmycommands"
        | "editmessagereplymarkup"
        | "deletemessage" => ok(json!(true)),
        _ => error(StatusCode::NOT_FOUND, "Not Found: method not found", None),
    }
}

/// `GET /file/bot<token>/files/<file_id>`: the bytes of a file a test added.
async fn download(
    State(fake): State<Arc<FakeTelegram>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if bot != format!("bot{}", fake.token) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    fake.record("downloadfile", &json!({"path": path}), false);
    let id = path.rsplit('/').next().unwrap_or("");
    match fake.inner.lock().files.get(id) {
        Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// The `callback_data` of every inline button of a recorded sendMessage/editMessageText.
pub fn buttons(msg: &Value) -> Vec<(String, String)> {
    msg["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(|b| {
            (
                b["text"].as_str().unwrap_or("").to_string(),
                b["callback_data"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The id of the message a recorded sendMessage/editMessageText produced.
pub fn message_id(msg: &Value) -> i64 {
    msg["_message_id"].as_i64().unwrap_or_default()
}
