//! Data-subject rights (issue 18): export (access and portability), erasure by anonymisation,
//! and the data map. Thin: extract, authorise, call `crate::gdpr` / `store::gdpr`, answer.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, AuditEntry, Origin, RequestContext};
use crate::auth::{Admin, AuthUser};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ValidJson, ValidPath, ValidQuery, Validate, rules};
use crate::state::AppState;
use gad_service::gdpr::{self, Format, datamap};
use gad_store::gdpr as store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_me))
        .routes(routes!(export_user))
        .routes(routes!(erase_user))
        .routes(routes!(data_map))
}

const USER_NOT_FOUND: &str = "The user with this id does not exist in the system";
const TOO_MANY_EXPORTS: &str =
    "Hay demasiadas exportaciones en curso; vuelva a intentarlo en unos segundos";
const ON_EMERGENCY: &str = "El efectivo está asignado a una emergencia abierta: no se puede anonimizar hasta que se cierre";

/// `json` (default) or `zip` (datos.json + one CSV per list).
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Zip,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `zip`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

impl Validate for ExportQuery {}

/// The JSON export (documentation of the streamed document; `?format=zip` puts it in
/// `datos.json` next to one CSV per list).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GdprExport {
    /// "gad-export-v1".
    pub formato: String,
    pub generado_en: String,
    pub usuario_id: i64,
    pub perfil: store::PerfilExport,
    pub efectivo: Option<store::EfectivoExport>,
    pub ubicaciones: Vec<store::UbicacionExport>,
    pub tareas: Vec<store::TareaExport>,
    pub historial_estados: Vec<store::HistorialExport>,
    pub despachos: Vec<store::DespachoExport>,
    pub auditoria: Vec<store::AuditoriaExport>,
    pub tokens_revocados: Vec<store::TokenRevocadoExport>,
    pub telegram_codigos_vinculacion: Vec<store::CredencialExport>,
    pub tickets_ws: Vec<store::CredencialExport>,
    pub claves_idempotencia: Vec<store::IdempotenciaExport>,
}

async fn export_response(
    state: AppState,
    me: &AuthUser,
    subject: i64,
    format: Format,
    ctx: &RequestContext,
) -> ApiResult<Response> {
    let permit = state
        .gdpr_exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::Custom(
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "detail": TOO_MANY_EXPORTS }),
            )
        })?;
    let fmt = match format {
        Format::Json => "json",
        Format::Zip => "zip",
    };
    let mut tx = state.db.begin().await?;
    if store::perfil(&mut *tx, subject).await?.is_none() {
        return Err(ApiError::NotFound(USER_NOT_FOUND.into()));
    }
    audit::record(
        &mut *tx,
        &AuditEntry::new("gdpr_export", Some(me.id))
            .resource("usuario", subject)
            .describe("Exportación de datos personales (derecho de acceso y portabilidad)")
            .values(None, Some(json!({"formato": fmt, "usuario_id": subject})))
            .status(200)
            .context(ctx),
    )
    .await?;
    tx.commit().await?;
    let (content_type, ext) = match format {
        Format::Json => ("application/json; charset=utf-8", "json"),
        Format::Zip => ("application/zip", "zip"),
    };
    let body = Body::from_stream(gdpr::start_export(
        state.ctx.clone(),
        subject,
        format,
        permit,
    ));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"gad-export-usuario-{subject}.{ext}\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn format_of(q: &ExportQuery) -> Format {
    match q.format {
        Some(ExportFormat::Zip) => Format::Zip,
        _ => Format::Json,
    }
}

/// Everything GAD holds about the caller.
#[utoipa::path(get, path = "/api/v1/gdpr/me/export", tag = "gdpr", params(ExportQuery),
    description = "Level: 1. Everything held about the caller (profile, officer record, location history, tasks created/delegated/assigned, state history, dispatches, audit entries by or about them, revoked tokens, Telegram link and WebSocket ticket metadata, idempotency keys) — never a password hash, code, ticket or token. Streamed; `?format=zip` gives datos.json plus one CSV per list. Audited (gdpr_export).",
    responses((status = 200, description = "the export (application/json, or application/zip with ?format=zip)", content((GdprExport = "application/json"), (Vec<u8> = "application/zip"))),
              (status = 401, description = "not authenticated", body = crate::openapi::ErrorBody),
              (status = 403, description = "inactive user", body = crate::openapi::ErrorBody),
              (status = 422, description = "unknown format", body = crate::openapi::ErrorBody),
              (status = 429, description = "too many exports running (GDPR_EXPORT_CONCURRENCY)", body = crate::openapi::ErrorBody)))]
pub async fn export_me(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(ctx): Origin,
    ValidQuery(q): ValidQuery<ExportQuery>,
) -> ApiResult<Response> {
    let subject = me.id;
    export_response(state, &me, subject, format_of(&q), &ctx).await
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
    Origin(ctx): Origin,
    ValidPath(user_id): ValidPath<i64>,
    ValidQuery(q): ValidQuery<ExportQuery>,
) -> ApiResult<Response> {
    export_response(state, &me, user_id, format_of(&q), &ctx).await
}

/// Why the person's data is erased.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EraseBody {
    /// Reason (1–500 characters), kept in the audit trail.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub motivo: String,
}

impl Validate for EraseBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::len(errors, "motivo", rules::trim(&self.motivo), 1, 500);
    }
}

/// What an erasure did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EraseResult {
    pub usuario_id: i64,
    /// "anonimizado" (now) or "ya_anonimizado" (an earlier request did it; nothing changed).
    pub estado: String,
    pub borrados: store::EraseCounts,
    /// WebSocket connections closed on this instance (others close theirs through Redis).
    pub sesiones_cerradas: usize,
}

/// 409 body: the open emergencies that block the erasure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EraseConflict {
    pub detail: String,
    pub tareas: Vec<i64>,
}

/// Erasure by anonymisation.
#[utoipa::path(post, path = "/api/v1/gdpr/users/{user_id}/erase", tag = "gdpr", request_body = EraseBody,
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. In one transaction: name, surname, DNI, e-mail, phone and Telegram id replaced by a pseudonym, password unusable, account deactivated and soft-deleted, officer record stripped of its code and position, location history, Telegram link codes and WebSocket tickets deleted, every token revoked; tasks, dispatches, history and audit kept, pointing at the same (now pseudonymous) user. Sockets are closed after commit. Idempotent: a second call changes nothing and answers estado \"ya_anonimizado\". Refused (409) while the officer is on an open emergency. Audited (gdpr_erase, with the reason).",
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
    Origin(ctx): Origin,
    ValidPath(user_id): ValidPath<i64>,
    ValidJson(body): ValidJson<EraseBody>,
) -> ApiResult<Json<EraseResult>> {
    let motivo = body.motivo.trim().to_string();
    let mut tx = state.db.begin().await?;
    let target = store::lock_for_erase(&mut tx, user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(USER_NOT_FOUND.into()))?;
    if target.anonimizado {
        audit::record(
            &mut *tx,
            &AuditEntry::new("gdpr_erase", Some(me.id))
                .resource("usuario", user_id)
                .describe("Supresión solicitada de nuevo: el usuario ya estaba anonimizado")
                .values(None, Some(json!({"motivo": motivo, "repetida": true})))
                .status(200)
                .context(&ctx),
        )
        .await?;
        tx.commit().await?;
        return Ok(Json(EraseResult {
            usuario_id: user_id,
            estado: "ya_anonimizado".into(),
            borrados: store::EraseCounts::default(),
            sesiones_cerradas: 0,
        }));
    }
    let open = store::open_emergencies(&mut tx, user_id).await?;
    if !open.is_empty() {
        return Err(ApiError::Custom(
            StatusCode::CONFLICT,
            json!({ "detail": ON_EMERGENCY, "tareas": open }),
        ));
    }
    let counts = store::anonymise(&mut tx, &target, &motivo, me.id).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("gdpr_erase", Some(me.id))
            .resource("usuario", user_id)
            .describe("Supresión por anonimización (derecho de supresión)")
            .values(
                None,
                Some(json!({"motivo": motivo, "borrados": counts, "usuario_uuid": target.uuid})),
            )
            .severity("warning")
            .status(200)
            .context(&ctx),
    )
    .await?;
    tx.commit().await?;
    let sesiones_cerradas = state.hub.end_user_sessions(user_id);
    Ok(Json(EraseResult {
        usuario_id: user_id,
        estado: "anonimizado".into(),
        borrados: counts,
        sesiones_cerradas,
    }))
}

/// Which column holds which personal data, why, for how long, on what basis.
#[utoipa::path(get, path = "/api/v1/gdpr/data-map", tag = "gdpr",
    description = "Level: 3. Generated from the schema: every column classified as personal data (column comments `gdpr:categoria=…;finalidad=…;retencion=…`), with its category, purpose, legal basis and retention (the setting and its value here), in Spanish and English. `sin_clasificar` lists personal-looking columns without a classification (empty when the schema is complete). docs/PRIVACY.md is the same map.",
    responses((status = 200, description = "the data map", body = datamap::DataMap),
              (status = 401, description = "not authenticated", body = crate::openapi::ErrorBody),
              (status = 403, description = "not level 3", body = crate::openapi::ErrorBody)))]
pub async fn data_map(
    State(state): State<AppState>,
    Admin(_me): Admin,
) -> ApiResult<Json<datamap::DataMap>> {
    let columns = store::schema_columns(&state.db).await?;
    Ok(Json(datamap::build(&columns, Some(&state.config))))
}
