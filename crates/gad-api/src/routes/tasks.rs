//! Tasks (contract §6): the HTTP face of `gad_service::tasks`. Each handler extracts, calls the
//! use case and answers; the rules, the transaction, audit and events live in the service.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{Admin, AuthUser, Supervisor};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::task_json;
use gad_service::tasks::{
    self, CierreBody, CreateTask, Historial, Key, ListQuery, StatusChange, Tarea, UpdateTask,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task_by_code))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(change_status))
        .routes(routes!(close_incident))
        .routes(routes!(task_history))
        .route(
            "/api/v1/tasks/",
            axum::routing::get(list_tasks).post(create_task),
        )
}

/// Serializes straight to the response body (no intermediate `Value`).
fn json_body<T: Serialize>(status: StatusCode, v: &T) -> ApiResult<Response> {
    let mut bytes = Vec::with_capacity(4096);
    serde_json::to_writer(&mut bytes, v).map_err(ApiError::internal)?;
    json_bytes(status, bytes)
}

fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> ApiResult<Response> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(bytes))
        .map_err(ApiError::internal)
}

fn location(id: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("/api/v1/tasks/{id}"))
        .unwrap_or_else(|_| HeaderValue::from_static("/api/v1/tasks"))
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(ListQuery),
    description = "Level: 1 (scoped). Lists live tasks, newest first (created_at, id). Level 1 sees only tasks where it is the delegado or an assigned efectivo; level 2+ sees all.",
    responses((status = 200, description = "tasks", body = [Tarea])))]
pub async fn list_tasks(
    State(state): State<AppState>,
    me: AuthUser,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Response> {
    let rows = tasks::list(&state.ctx, &me, &q).await?;
    json_bytes(
        StatusCode::OK,
        task_json::tasks_json(&rows).map_err(ApiError::internal)?,
    )
}

#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = CreateTask,
    description = "Level: 2. Creates a task in estado programada (201 + Location); the creator is the caller. Duplicate codigo → 409; unknown delegado or efectivo → 422 naming it.",
    responses((status = 201, description = "created", body = Tarea), (status = 409, description = "duplicate codigo", body = Value),
              (status = 422, description = "validation", body = Value)))]
pub async fn create_task(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidJson(body): ValidJson<CreateTask>,
) -> ApiResult<Response> {
    let tarea = tasks::create(&state.ctx, &me, &origin, &body).await?;
    let mut resp = json_body(StatusCode::CREATED, &tarea)?;
    resp.headers_mut()
        .insert(header::LOCATION, location(tarea.id));
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped). One task; unknown, deleted or not visible to the caller → 404.",
    responses((status = 200, description = "task", body = Tarea), (status = 404, description = "not found", body = Value)))]
pub async fn get_task(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(task_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let t = tasks::get(&state.ctx, &me, Key::Id(task_id)).await?;
    json_body(StatusCode::OK, &t)
}

#[utoipa::path(get, path = "/api/v1/tasks/by-code/{codigo}", tag = "tasks",
    params(("codigo" = String, Path, description = "task code")),
    description = "Level: 1 (scoped). One task by codigo; unknown or not visible → 404.",
    responses((status = 200, description = "task", body = Tarea), (status = 404, description = "not found", body = Value)))]
pub async fn get_task_by_code(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(codigo): ValidPath<String>,
) -> ApiResult<Response> {
    let t = tasks::get(&state.ctx, &me, Key::Codigo(&codigo)).await?;
    json_body(StatusCode::OK, &t)
}

#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/history", tag = "tasks",
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped). State history of a task, oldest first.",
    responses((status = 200, description = "history", body = [Historial]), (status = 404, description = "not found", body = Value)))]
pub async fn task_history(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(task_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let rows: Vec<Historial> = tasks::history(&state.ctx, &me, task_id).await?;
    json_body(StatusCode::OK, &rows)
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/status", tag = "tasks", request_body = StatusChange,
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (own). Moves a task through the state machine (level 1: own tasks only; level 2: any). Invalid transition → 409 with the allowed targets. An emergency is closed (finalizada, cancelada) only by level 2+: level 1 gets 403 and declines the dispatch instead (POST /api/v1/tasks/{task_id}/ack with accept=false). An emergency is finished only with a `codigo_cierre` (and optional `resumen`): without it → 422 at codigo_cierre; with it, the same as POST /api/v1/tasks/{task_id}/cierre.",
    responses((status = 200, description = "task", body = Tarea),
              (status = 403, description = "level 1 closing an emergency (the desk closes it)", body = Value),
              (status = 404, description = "not found", body = Value),
              (status = 409, description = "invalid transition", body = Value),
              (status = 422, description = "validation (an emergency finished without codigo_cierre)", body = Value)))]
pub async fn change_status(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(body): ValidJson<StatusChange>,
) -> ApiResult<Response> {
    let t = tasks::change_status(&state.ctx, &me, &origin, task_id, &body).await?;
    json_body(StatusCode::OK, &t)
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/cierre", tag = "incidents", request_body = CierreBody,
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 2. Closes an incident: finalizada with its closing code and summary, its officers released, its pending dispatches closed, a `cierre` entry in its history; audited. Not an emergency, or already closed → 409.",
    responses((status = 200, description = "task", body = Tarea),
              (status = 404, description = "not found", body = Value),
              (status = 409, description = "not an emergency, or invalid transition", body = Value),
              (status = 422, description = "validation", body = Value)))]
pub async fn close_incident(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(body): ValidJson<CierreBody>,
) -> ApiResult<Response> {
    let t = tasks::close(&state.ctx, &me, &origin, task_id, &body).await?;
    json_body(StatusCode::OK, &t)
}

#[utoipa::path(put, path = "/api/v1/tasks/{task_id}", tag = "tasks", request_body = UpdateTask,
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (own). Partial update (level 2+); only the fields sent change. Level 1 may send only `estado` (and `nota`) for its own tasks, otherwise 403; level 1 never closes an emergency (403). `estado` follows the state machine (invalid → 409).",
    responses((status = 200, description = "task", body = Tarea), (status = 403, description = "not allowed (fields beyond estado, or level 1 closing an emergency)", body = Value),
              (status = 404, description = "not found", body = Value), (status = 409, description = "duplicate codigo or invalid transition", body = Value),
              (status = 422, description = "validation", body = Value)))]
pub async fn update_task(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(body): ValidJson<UpdateTask>,
) -> ApiResult<Response> {
    let t: Tarea = tasks::update(&state.ctx, &me, &origin, task_id, &body).await?;
    json_body(StatusCode::OK, &t)
}

#[utoipa::path(delete, path = "/api/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 3. Soft delete; answers the deleted task.",
    responses((status = 200, description = "deleted task", body = Tarea), (status = 404, description = "not found", body = Value)))]
pub async fn delete_task(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(task_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let t = tasks::delete(&state.ctx, &me, &origin, task_id).await?;
    json_body(StatusCode::OK, &t)
}
