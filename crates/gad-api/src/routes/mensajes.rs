//! Messages between the desk and the officers (`/api/v1/mensajes`): the HTTP face of
//! `gad_service::mensajes`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::created;
use crate::audit::Origin;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::mensajes::{self, ListQuery, Mensaje, MensajeBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, send_message))
        .routes(routes!(get_message))
}

#[utoipa::path(post, path = "/api/v1/mensajes", tag = "mensajes", request_body = MensajeBody,
    description = "Level: 1 (only `{\"centro\": true}`; level 2 any other destino, `{\"todos\": true}` level 3). Writes a message and queues it for every officer of `destino` (exactly one of efectivos, unidad, zona_id, en_turno, tarea_id, todos, centro); the bot delivers it through Telegram and records each recipient's state (pendiente → enviado | fallido → confirmado). With DUTY_MODE=turnos officers off duty are left out unless `convocatoria` (level 2+). Unknown officer, zone or incident → 422 naming it; audited. 201 + Location with the recipients and totals.",
    responses((status = 201, description = "queued", body = Mensaje),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn send_message(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidJson(b): ValidJson<MensajeBody>,
) -> ApiResult<Response> {
    let m = mensajes::send(&state.ctx, &me, &origin, &b).await?;
    created(&m, format!("/api/v1/mensajes/{}", m.id))
}

#[utoipa::path(get, path = "/api/v1/mensajes", tag = "mensajes", params(ListQuery),
    description = "Level: 1 (own). Messages the user sent or received, newest first, with delivery totals; level 2+ also every message to the desk. skip/limit pagination (limit default 100).",
    responses((status = 200, description = "messages", body = [Mensaje]),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn list_messages(
    State(state): State<AppState>,
    me: AuthUser,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Response> {
    Ok(Json(mensajes::list(&state.ctx, &me, &q).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/mensajes/{id}", tag = "mensajes",
    params(("id" = i64, Path, description = "message id")),
    description = "Level: 1. One message with `destinatarios` (efectivo_id, estado, message_id, enviado_at, confirmado_at, motivo) and `totales` per estado: level 1 only one they sent or received (another → 404, as unknown); level 2+ any.",
    responses((status = 200, description = "message", body = Mensaje),
              (status = 404, description = "not found", body = serde_json::Value)))]
pub async fn get_message(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    Ok(Json(mensajes::get(&state.ctx, &me, id).await?).into_response())
}
