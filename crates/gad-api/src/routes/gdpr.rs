//! Data-subject rights: the HTTP face of `gad_service::gdpr::rights` (export for access and
//! portability, erasure by anonymisation, the data map). The export's streamed body and its
//! headers, and closing the erased person's WebSocket sessions, are HTTP's part.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{Origin, RequestContext};
use crate::auth::{Admin, AuthUser};
use crate::error::ApiResult;
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::gdpr::rights::{
    self, EraseBody, EraseConflict, EraseResult, ExportQuery, GdprExport,
};
use gad_service::gdpr::{Format, datamap};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_me))
        .routes(routes!(export_user))
        .routes(routes!(erase_user))
        .routes(routes!(data_map))
}

/// Runs the export use case and streams its bytes as an attachment.
async fn export_response(
    state: &AppState,
    me: &AuthUser,
    subject: i64,
    format: Format,
    origin: &RequestContext,
) -> ApiResult<Response> {
    let stream = rights::export(&state.ctx, me, origin, subject, format).await?;
    let (content_type, ext) = match format {
        Format::Json => ("application/json; charset=utf-8", "json"),
        Format::Zip => ("application/zip", "zip"),
    };
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"gad-export-usuario-{subject}.{ext}\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Everything GAD holds about the caller.
#[utoipa::path(get, path = "/api/v1/gdpr/me/export", tag = "gdpr", params(ExportQuery),
    description = "Level: 1. Everything held about the caller (profile, officer record, location history, tasks created/delegated/assigned, state history, dispatches, audit entries by or about them, revoked tokens, Telegram link and WebSocket ticket metadata, idempotency keys) — never a password hash, code, ticket or token; in audit entries the caller's own personal values are opened and anyone else's read \"[de otra persona]\". Streamed; `?format=zip` gives datos.json plus one CSV per list. The whole stream has GDPR_EXPORT_MAX_SECONDS (300): past it the export stops and the transfer ends with an error (never a complete-looking file). Audited (gdpr_export).",
    responses((status = 200, description = "the export (application/json, or application/zip with ?format=zip)", content((GdprExport = "application/json"), (Vec<u8> = "application/zip"))),
              (status = 401, description = "not authenticated", body = crate::openapi::ErrorBody),
              (status = 403, description = "inactive user", body = crate::openapi::ErrorBody),
              (status = 422, description = "unknown format", body = crate::openapi::ErrorBody),
              (status = 429, description = "too many exports running (GDPR_EXPORT_CONCURRENCY)", body = crate::openapi::ErrorBody)))]
pub async fn export_me(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidQuery(q): ValidQuery<ExportQuery>,
) -> ApiResult<Response> {
    let subject = me.id;
    export_response(&state, &me, subject, q.format(), &origin).await
}

/// Everything GAD holds about one person.
#[utoipa::path(get, path = "/api/v1/gdpr/users/{user_id}/export", tag = "gdpr", params(("user_id" = i64, Path, description = "user id"), ExportQuery),
    description = "Level: 3. The export of `GET /api/v1/gdpr/me/export` for any user (deleted and anonymised users included). Audited (gdpr_export).",
    responses((status = 200, description = "the export (application/json, or application/zip with ?format=zip)", content((GdprExport = "application/json"), (Vec<u8> = "application/zip"))),
              (status = 401, description = "not authenticated", body = crate::openapi::ErrorBody),
              (status = 403, description = "not level 3", body = crate::openapi::ErrorBody),
              (status = 404, description = "unknown user", body = crate::openapi::ErrorBody),
              (status = 422, description = "bad id or format", body = crate::openapi::ErrorBody),
              (status = 429, description = "too many exports running (GDPR_EXPORT_CONCURRENCY)", body = crate::openapi::ErrorBody)))]
pub async fn export_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(user_id): ValidPath<i64>,
    ValidQuery(q): ValidQuery<ExportQuery>,
) -> ApiResult<Response> {
    export_response(&state, &me, user_id, q.format(), &origin).await
}

/// Erasure by anonymisation.
#[utoipa::path(post, path = "/api/v1/gdpr/users/{user_id}/erase", tag = "gdpr", request_body = EraseBody,
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. In one transaction: name, surname, DNI, e-mail, phone and Telegram id replaced by a pseudonym, password unusable, account deactivated and soft-deleted, officer record stripped of its code and position, location history, Telegram link codes, WebSocket tickets and emergency request keys deleted, every token revoked; the person's values (full name, e-mail, DNI, phone, Telegram id, internal code; first name or surname alone in what they wrote) replaced by [borrado] in task titles and descriptions, state-history notes and dispatch reasons, their own decline reasons cleared, their Telegram id removed from task data, their officer rank, unit and speciality nulled — other people's values stay; their audit key destroyed, so their values inside audit rows read [borrado] (the rows and the hash chain are unchanged). Tasks, dispatches, history and audit kept, pointing at the same (now pseudonymous) user. Sockets are closed after commit. Idempotent: a second call changes nothing and answers estado \"ya_anonimizado\". Refused (409) while the officer is on an open emergency. Audited (gdpr_erase, with the reason).",
    responses((status = 200, description = "anonymised (or already anonymised)", body = EraseResult),
              (status = 401, description = "not authenticated", body = crate::openapi::ErrorBody),
              (status = 403, description = "not level 3", body = crate::openapi::ErrorBody),
              (status = 404, description = "unknown user", body = crate::openapi::ErrorBody),
              (status = 409, description = "the officer is on an open emergency", body = EraseConflict),
              (status = 413, description = "body too large", body = crate::openapi::ErrorBody),
              (status = 422, description = "validation error (motivo)", body = crate::openapi::ErrorBody)))]
pub async fn erase_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(user_id): ValidPath<i64>,
    ValidJson(body): ValidJson<EraseBody>,
) -> ApiResult<Json<EraseResult>> {
    let erased = rights::erase(&state.ctx, &me, &origin, user_id, &body).await?;
    // The sockets live in this adapter's hub; they close only after the erasure is committed.
    let sesiones_cerradas = if erased.ends_sessions() {
        state.hub.end_user_sessions(user_id)
    } else {
        state.hub.refresh_user_auth(user_id);
        0
    };
    Ok(Json(erased.result(user_id, sesiones_cerradas)))
}

/// Which column holds which personal data, why, for how long, on what basis.
#[utoipa::path(get, path = "/api/v1/gdpr/data-map", tag = "gdpr",
    description = "Level: 3. Generated from the schema: every column classified as personal data (column comments `gdpr:categoria=…;finalidad=…;retencion=…`), with its category, purpose, legal basis and retention (the setting and its value here), in Spanish and English. `sin_clasificar` lists personal-looking columns without a classification (empty when the schema is complete). docs/PRIVACY.md is the same map.",
    responses((status = 200, description = "the data map", body = datamap::DataMap),
              (status = 401, description = "not authenticated", body = crate::openapi::ErrorBody),
              (status = 403, description = "not level 3", body = crate::openapi::ErrorBody)))]
pub async fn data_map(
    State(state): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<Json<datamap::DataMap>> {
    Ok(Json(rights::data_map(&state.ctx, &me).await?))
}
