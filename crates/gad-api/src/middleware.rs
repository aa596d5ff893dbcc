//! The gateway middleware wraps every request, matched or not: request id, rate limiting,
//! metrics by route template, the contract's error bodies for framework-made responses
//! (404/405/413/500), and the security headers. One layer, so the order of these concerns is
//! explicit and every response — including the ones axum makes itself — gets all of them.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{InternalErrorCause, json_response};
use crate::ratelimit::{self, LimitOutcome};
use crate::state::AppState;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's address as the limiter resolves it (trusted proxies honoured): what audit rows
/// record, so a row names the client and not the proxy in front of it.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

/// The request id of the current request, available to handlers and logs.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Route template recorded by `record_matched_path` so the outer layer can label metrics.
#[derive(Clone)]
struct MatchedRoute(String);

/// Inner `route_layer`: copies the matched route template into the response.
pub async fn record_matched_path(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(MatchedRoute(r));
    }
    resp
}

fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_string())
}

pub async fn gateway(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);

    let client = ratelimit::client_ip(&state.config, peer, req.headers());
    req.extensions_mut().insert(ClientIp(client));
    let limit = crate::routes::evidencia::upload_body_limit(
        req.method(),
        &path,
        state.config.adjuntos.max_bytes,
    )
    .unwrap_or_else(|| body_limit(req.method(), &path));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, limit)));
    let (mut resp, admitted) = match ratelimit::check(&state, peer, req.headers(), &path).await {
        LimitOutcome::Rejected(r) => (r, None),
        LimitOutcome::Admitted { .. } | LimitOutcome::Exempt
            if declared.is_some_and(|n| n > limit as u64) =>
        {
            // Refused by its declared length before a byte of it is read.
            (
                crate::error::ApiError::PayloadTooLarge.into_response(),
                None,
            )
        }
        LimitOutcome::Admitted { limit, remaining } => (
            run_bounded(&state, &path, req, next).await,
            Some((limit, remaining)),
        ),
        LimitOutcome::Exempt => (run_bounded(&state, &path, req, next).await, None),
    };

    let status = resp.status();
    normalize_body(&mut resp, &request_id, &method, &path);
    let route = resp
        .extensions()
        .get::<MatchedRoute>()
        .map(|m| m.0.clone())
        .unwrap_or_else(|| "unmatched".to_string());
    let elapsed = start.elapsed().as_secs_f64();
    state
        .metrics
        .record_http(&method, &route, status.as_u16(), elapsed);

    let h = resp.headers_mut();
    if let Some((limit, remaining)) = admitted {
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("x-ratelimit-window", HeaderValue::from_static("60"));
        h.insert(
            "x-government-service",
            HeaderValue::from_static("GRUPO_GAD"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(X_REQUEST_ID.clone(), v);
    }
    security_headers(h, path.starts_with("/api/"), state.config.hsts_enabled);
    if status.is_server_error() {
        tracing::warn!(%request_id, %method, route, status = status.as_u16(), elapsed_ms = elapsed * 1e3, "request failed");
    } else {
        tracing::debug!(%request_id, %method, route, status = status.as_u16(), elapsed_ms = elapsed * 1e3, "request");
    }
    resp
}

/// Runs the request within `REQUEST_TIMEOUT_SECONDS` (WebSocket upgrades excepted: a socket
/// lives for hours). A request past it is answered 503 and its work aborted (any open
/// transaction rolls back), so a stuck dependency cannot pile up requests.
async fn run_bounded(state: &AppState, path: &str, req: Request, next: Next) -> Response {
    if path.starts_with("/ws/") {
        return next.run(req).await;
    }
    let limit = std::time::Duration::from_secs(state.config.request_timeout_seconds);
    // The handler runs in its own task: a client that hangs up mid-request does not cancel it
    // between its commit and its events (the work it started finishes and is announced).
    let mut work = tokio::spawn(next.run(req));
    match tokio::time::timeout(limit, &mut work).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            tracing::error!(path, error = %e, "request task failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"detail": "Internal Server Error"}),
            )
        }
        Err(_) => {
            work.abort();
            tracing::warn!(path, timeout_s = limit.as_secs(), "request timed out");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"detail": "Request timed out"}),
            )
        }
    }
}

/// Small forms (login and the rest of `/auth`): 16 KiB.
pub const SMALL_BODY_LIMIT: usize = 16 * 1024;
/// Every other JSON route: 1 MiB (contract §1's 10 MiB is the outer bound, `app::BODY_LIMIT`).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// Most bytes a request body may have on this route: a body costs what its route needs, so an
/// anonymous client cannot make the server read megabytes into a login form.
pub fn body_limit(method: &axum::http::Method, path: &str) -> usize {
    if path.starts_with("/api/v1/auth/")
        || path == "/api/v1/ws/ticket"
        || (path.starts_with("/api/v1/users/me") && method != axum::http::Method::GET)
    {
        SMALL_BODY_LIMIT
    } else {
        JSON_BODY_LIMIT
    }
}

/// Replaces framework-made bodies with the contract's, and writes the 500 body with the
/// request id (the cause goes to the log only).
fn normalize_body(resp: &mut Response, request_id: &str, method: &str, path: &str) {
    let status = resp.status();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        let cause = resp
            .extensions()
            .get::<InternalErrorCause>()
            .map(|c| c.0.clone());
        tracing::error!(%request_id, %method, %path, cause = cause.as_deref().unwrap_or("unknown (panic or framework error)"), "internal error");
        *resp = rebuild(
            resp,
            json!({"detail": "Internal Server Error", "request_id": request_id}),
        );
        return;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json {
        return;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "Not Found",
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported Media Type",
        _ => return,
    };
    *resp = rebuild(resp, json!({"detail": detail}));
}

fn rebuild(old: &Response, body: serde_json::Value) -> Response {
    let mut new = json_response(old.status(), &body);
    for (k, v) in old.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            new.headers_mut().insert(k.clone(), v.clone());
        }
    }
    new
}

pub fn security_headers(h: &mut axum::http::HeaderMap, api: bool, hsts: bool) {
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-xss-protection",
        HeaderValue::from_static("1; mode=block"),
    );
    h.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("geolocation=(), microphone=(), camera=()"),
    );
    if api {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none';"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

/// Turns a panic into a plain 500 that `gateway` then dresses in the contract's body.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into());
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut()
        .insert(InternalErrorCause(format!("panic: {msg}")));
    r
}
