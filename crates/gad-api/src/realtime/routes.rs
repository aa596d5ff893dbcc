//! HTTP routes of the realtime module: `/ws/connect`, `/ws/stats`, `/ws/_test/broadcast`
//! (development only) and `POST /api/v1/ws/ticket`.

use std::sync::atomic::Ordering::Relaxed;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::socket;
use crate::auth::{Admin, AuthUser};
use crate::error::{ApiError, FieldError, json_response};
use crate::extract::{Validate, parse_json_body};
use crate::state::AppState;
use gad_service::ServiceError;
use gad_service::events::{Audience, Event, Notification};

/// `/ws/*` routes (outside the OpenAPI document).
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/ws/connect", get(socket::connect))
        .route("/ws/stats", get(stats))
        .route("/ws/_test/broadcast", post(test_broadcast))
}

/// Documented routes; merged into the API router by `app.rs`.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_ticket))
}

/// A single-use ticket for `/ws/connect?ticket=…`, valid 30 s on every instance.
#[utoipa::path(post, path = "/api/v1/ws/ticket", tag = "websocket",
    description = "Level: 1. Issues a single-use WebSocket ticket valid for 30 seconds; connect with /ws/connect?ticket=<ticket>.",
    responses((status = 201, description = "ticket", body = gad_service::wire::Ticket),
              (status = 401, description = "not authenticated", body = Value)))]
pub async fn create_ticket(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let ticket = gad_service::realtime::issue_ticket(&state.ctx, &user).await?;
    let mut r = (StatusCode::CREATED, axum::Json(ticket)).into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/ws/connect"));
    Ok(r)
}

/// `GET /ws/stats` (level 3).
pub async fn stats(State(state): State<AppState>, _admin: Admin) -> Response {
    json_response(StatusCode::OK, &stats_body(&state))
}

fn stats_body(state: &AppState) -> Value {
    let hub = &state.hub;
    let m = &state.metrics;
    let (by_role, users) = hub.breakdown();
    json!({
        "status": "ok",
        "stats": {
            "total_connections": hub.connections(),
            "connections_by_role": {"1": by_role[0], "2": by_role[1], "3": by_role[2]},
            "unique_users": users,
            "heartbeat_active": hub.heartbeat_running(),
            "heartbeat_interval": hub.heartbeat_interval().as_secs_f64().round() as u64,
            "fanout": hub.fanout_mode(),
            "metrics": {
                "total_messages_sent": m.ws_messages_sent.load(Relaxed),
                "total_broadcasts": m.ws_broadcasts.load(Relaxed),
                "total_send_errors": m.ws_send_errors.load(Relaxed),
                "last_broadcast_at": hub.last_broadcast_at(),
            },
        },
        "timestamp": gad_core::time::now_rfc3339(),
    })
}

#[derive(Deserialize)]
pub struct BroadcastBody {
    #[serde(default = "default_title")]
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default = "default_level")]
    level: String,
}

fn default_title() -> String {
    "Test".into()
}
fn default_level() -> String {
    "info".into()
}

impl Validate for BroadcastBody {
    fn validate(&self, errs: &mut Vec<FieldError>) {
        use crate::extract::rules::len;
        len(errs, "title", &self.title, 1, 200);
        len(errs, "content", &self.content, 0, 2000);
        len(errs, "level", &self.level, 1, 20);
    }
}

/// `POST /ws/_test/broadcast`: development only (404 elsewhere).
pub async fn test_broadcast(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !state.config.environment.is_development() {
        return Err(ApiError::from(ServiceError::NotFound("Not Found".into())));
    }
    let b: BroadcastBody = if body.iter().all(u8::is_ascii_whitespace) {
        BroadcastBody {
            title: default_title(),
            content: String::new(),
            level: default_level(),
        }
    } else {
        parse_json_body(&body)?
    };
    let sent = state.hub.broadcast(
        &Event::Notification(Notification {
            title: b.title,
            content: b.content,
            level: b.level,
            audience: None,
            from_user_id: None,
            timestamp: None,
        })
        .to(Audience::Everyone),
    );
    Ok(json_response(
        StatusCode::OK,
        &json!({"status": "ok", "sent": sent, "metrics": stats_body(&state)["stats"]["metrics"]}),
    ))
}
