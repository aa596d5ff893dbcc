//! An incident's notes, evidence files and timeline: the HTTP face of `gad_service::evidencia`.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, FieldError, json_response};
use crate::extract::{ValidJson, ValidPath};
use crate::state::AppState;
use gad_service::evidencia::{self, Adjunto, Nota, NotaBody, Origen, Timeline, Upload};

/// The multipart field that carries the file.
pub const ARCHIVO: &str = "archivo";
/// Room for the multipart framing around the largest file.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notes, add_note))
        .routes(routes!(list_attachments, add_attachment))
        .routes(routes!(get_attachment))
        .routes(routes!(timeline))
}

/// Most bytes a request to this path may carry, when it is an upload of a file.
pub fn upload_body_limit(
    method: &axum::http::Method,
    path: &str,
    max_file: usize,
) -> Option<usize> {
    let is_upload = method == axum::http::Method::POST
        && path
            .strip_prefix("/api/v1/tasks/")
            .is_some_and(|rest| rest.trim_end_matches('/').ends_with("/adjuntos"));
    is_upload.then_some(max_file + MULTIPART_OVERHEAD)
}

/// A browser session (cookie) writes from the command centre; a bearer token is another client.
fn origen(headers: &HeaderMap) -> Origen {
    if headers.contains_key(header::AUTHORIZATION) {
        Origen::Api
    } else {
        Origen::Web
    }
}

fn json_ok<T: serde::Serialize>(status: StatusCode, v: &T) -> ApiResult<Response> {
    let body = serde_json::to_value(v).map_err(ApiError::internal)?;
    Ok(json_response(status, &body))
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/notas", tag = "incidents", request_body = NotaBody,
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped). Appends a note (1–2,000 characters) to a task: level 2+, or level 1 when delegado, assigned or dispatched to it (otherwise 404, as the task). Audited; announced live as `task_note_added` to supervisors and the task's officers (who also get it in Telegram). `origen` is `web` for a browser session, `api` for a bearer token.",
    responses((status = 201, description = "the note", body = Nota), (status = 404, description = "not found", body = Value),
              (status = 422, description = "validation", body = Value)))]
pub async fn add_note(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    headers: HeaderMap,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(body): ValidJson<NotaBody>,
) -> ApiResult<Response> {
    let n = evidencia::add_note(
        &state.ctx,
        &me,
        &origin,
        task_id,
        &body.texto,
        origen(&headers),
    )
    .await?;
    json_ok(StatusCode::CREATED, &n)
}

#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/notas", tag = "incidents",
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped, as POST). The task's notes, oldest first.",
    responses((status = 200, description = "notes", body = [Nota]), (status = 404, description = "not found", body = Value)))]
pub async fn list_notes(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(task_id): ValidPath<i64>,
) -> ApiResult<Response> {
    json_ok(
        StatusCode::OK,
        &evidencia::list_notes(&state.ctx, &me, task_id).await?,
    )
}

/// A body that is not well-formed multipart: the file could not be read, so the error is at `archivo`.
fn malformed_upload(reason: String) -> ApiError {
    ApiError::validation(FieldError::body(
        ARCHIVO,
        "multipart",
        format!("Malformed multipart body: {reason}"),
        Value::Null,
    ))
}

/// The file of a multipart body: field `archivo` (422 there when absent, 422 at any other part),
/// 413 past the bound.
async fn read_upload(mut form: Multipart, max: usize) -> ApiResult<Upload> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            malformed_upload(e.body_text())
        }
    };
    let Some(mut field) = form.next_field().await.map_err(bad)? else {
        return Err(ApiError::validation(FieldError::body(
            ARCHIVO,
            "missing",
            "Field required",
            Value::Null,
        )));
    };
    if field.name() != Some(ARCHIVO) {
        // The form has one part; another is refused rather than silently dropped.
        return Err(ApiError::validation(FieldError::body(
            field.name().unwrap_or(""),
            "extra_forbidden",
            "Extra inputs are not permitted (the form has one part: archivo)",
            Value::Null,
        )));
    }
    let nombre = field.file_name().unwrap_or("").to_string();
    let declarado = field.content_type().map(str::to_string);
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad)? {
        if buf.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Upload {
        nombre,
        declarado,
        bytes: buf.into(),
    })
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/adjuntos", tag = "incidents",
    request_body(content_type = "multipart/form-data", content = inline(UploadForm)),
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped, as the notes). Attaches a file (multipart field `archivo`): JPEG, PNG or PDF as detected from its bytes — another kind, or bytes that are not the declared Content-Type, is 422 at `archivo`; larger than ADJUNTO_MAX_MB (default 10) is 413. Its SHA-256 goes into the audit trail; announced as `task_attachment_added`.",
    responses((status = 201, description = "the attachment (id, sha256, tipo, bytes…)", body = Adjunto), (status = 404, description = "not found", body = Value),
              (status = 413, description = "file too large", body = crate::openapi::ErrorBody), (status = 422, description = "not a JPEG, PNG or PDF, not the declared type, or not well-formed multipart", body = Value)))]
pub async fn add_attachment(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    headers: HeaderMap,
    ValidPath(task_id): ValidPath<i64>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let form = form.map_err(|e| malformed_upload(e.body_text()))?;
    let upload = read_upload(form, state.ctx.config.adjuntos.max_bytes).await?;
    let src = origen(&headers);
    let a = evidencia::add_attachment(&state.ctx, &me, &origin, task_id, upload, src).await?;
    json_ok(StatusCode::CREATED, &a)
}

/// A file's bytes as the OpenAPI names them (`string`, `binary`), not as an array of integers.
pub struct Bytes;

impl utoipa::PartialSchema for Bytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Bytes {}

/// The multipart body of an upload: one part, `archivo`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file (JPEG, PNG or PDF).
    #[schema(value_type = String, format = Binary)]
    archivo: Vec<u8>,
}

#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/adjuntos", tag = "incidents",
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped). The task's attachments (records, not bytes), oldest first.",
    responses((status = 200, description = "attachments", body = [Adjunto]), (status = 404, description = "not found", body = Value)))]
pub async fn list_attachments(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(task_id): ValidPath<i64>,
) -> ApiResult<Response> {
    json_ok(
        StatusCode::OK,
        &evidencia::list_attachments(&state.ctx, &me, task_id).await?,
    )
}

#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/adjuntos/{adjunto_id}", tag = "incidents",
    params(("task_id" = i64, Path, description = "task id"), ("adjunto_id" = i64, Path, description = "attachment id")),
    description = "Level: 1 (scoped). The file itself, with its stored Content-Type, `Content-Disposition` (inline for images, attachment for PDF) and `X-Content-Type-Options: nosniff`.",
    responses((status = 200, description = "the bytes, with the Content-Type detected at upload", content((Bytes = "image/jpeg"), (Bytes = "image/png"), (Bytes = "application/pdf"))), (status = 404, description = "not found", body = Value)))]
pub async fn get_attachment(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath((task_id, adjunto_id)): ValidPath<(i64, i64)>,
) -> ApiResult<Response> {
    let (a, bytes) = evidencia::get_attachment(&state.ctx, &me, task_id, adjunto_id).await?;
    let disposition = if a.tipo.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    // The stored name is shown, never trusted: only ASCII letters, digits, '.', '-' and '_'.
    let safe: String = a
        .nombre
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&a.tipo).map_err(ApiError::internal)?,
        )
        .header(
            header::CONTENT_DISPOSITION,
            format!("{disposition}; filename=\"{safe}\""),
        )
        .header("x-content-type-options", "nosniff")
        .body(Body::from(bytes))
        .map_err(ApiError::internal)
}

#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/timeline", tag = "incidents",
    params(("task_id" = i64, Path, description = "task id")),
    description = "Level: 1 (scoped). Everything that happened to the task in one list ordered by `at`: intake, each dispatch (sent, accepted, declined, expired), arrivals, backup, state changes, notes, attachments, closure.",
    responses((status = 200, description = "timeline", body = Timeline), (status = 404, description = "not found", body = Value)))]
pub async fn timeline(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(task_id): ValidPath<i64>,
) -> ApiResult<Response> {
    json_ok(
        StatusCode::OK,
        &evidencia::timeline(&state.ctx, &me, task_id).await?,
    )
}
