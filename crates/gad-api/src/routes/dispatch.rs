//! Acknowledgement and backup of a dispatched emergency: the HTTP face of
//! `gad_service::emergency::{ack, backup}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::AuthUser;
use crate::error::{ApiResult, json_response};
use crate::extract::{ValidJson, ValidPath};
use crate::state::AppState;
use gad_service::emergency::{self, AckBody, BackupBody};
use gad_service::wire::{AckAnswer, BackupAnswer};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ack))
        .routes(routes!(backup))
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/ack", tag = "emergency", request_body = AckBody,
    params(("task_id" = i64, Path, description = "emergency task id")),
    description = "Level: 1 (own dispatch). The dispatched officer (or level 2+ on their behalf) accepts (→ en_camino) or declines (→ disponible; the next nearest eligible officer is dispatched in the same transaction, or after DISPATCH_MAX_ATTEMPTS the emergency stays open \"sin asignar\" and supervisors get an alert).",
    responses((status = 200, description = "answered", body = AckAnswer),
              (status = 404, description = "task not found or not visible (level 1 never called to it; answered before the task's state is read)", body = Value),
              (status = 409, description = "no pending dispatch for this officer", body = Value),
              (status = 422, description = "validation error (e.g. efectivo_id needed)", body = Value)))]
pub async fn ack(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(b): ValidJson<AckBody>,
) -> ApiResult<Response> {
    let answer = emergency::ack(&state.ctx, &me, &origin, task_id, &b).await?;
    Ok(json_response(StatusCode::OK, &json!(answer)))
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/backup", tag = "emergency", request_body = BackupBody,
    params(("task_id" = i64, Path, description = "emergency task id")),
    description = "Level: 1 (an officer on the way or on scene: dispatch accepted) or 2. Adds the n nearest eligible officers to the same task (same locking and eligibility as dispatch; never an officer already busy or already dispatched to it); each must acknowledge like the first. Bounded: at most BACKUP_MAX_PER_TASK backup officers in all (a request beyond what is left gets what is left; nothing left → 429), and level 1 asks at most once per task per minute (→ 429 with Retry-After).",
    responses((status = 201, description = "backup dispatched", body = BackupAnswer),
              (status = 403, description = "level 1 not yet on the way (accept the dispatch first)", body = Value),
              (status = 429, description = "backup bound reached (contract §10 body, Retry-After)", body = crate::openapi::RateLimitBody),
              (status = 404, description = "task not found / nobody available", body = Value),
              (status = 409, description = "task closed", body = Value),
              (status = 422, description = "validation error", body = Value)))]
pub async fn backup(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(b): ValidJson<BackupBody>,
) -> ApiResult<Response> {
    let answer = emergency::backup(&state.ctx, &me, &origin, task_id, &b).await?;
    Ok(json_response(StatusCode::CREATED, &json!(answer)))
}
