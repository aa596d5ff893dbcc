//! Administration (contract §14), level 3 only: the HTTP face of `gad_service::admin`
//! (administrative commands and the audit trail).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::Admin;
use crate::error::ApiResult;
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;
use gad_service::admin::{self, Aceptado, AdminCommand, AuditQuery, AuditRow, CommandBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(agent_command))
        .routes(routes!(audit_list))
        .route("/api/v1/admin/audit/", axum::routing::get(audit_list))
}

/// Runs an administrative command and records it in the audit trail.
#[utoipa::path(post, path = "/api/v1/admin/agent/command", tag = "admin",
    description = "Level: 3. Actions: broadcast (payload {title, content, level, audience: all|supervisores|efectivos|unidad:<name>}; live `notification` to dashboards, and for every audience but supervisores a message through the bot with delivery records — all/efectivos → {\"todos\": true}, unidad → {\"unidad\": name} — named by result.mensaje_id), cache_clear, audit_purge (deletes the audit rows past their retention_until — fixed at insert, AUDIT_RETENTION_DAYS, at least 365 —, oldest first). 202 with the result; unknown action → 422 listing the allowed ones.",
    request_body = AdminCommand,
    responses((status = 202, description = "accepted", body = Aceptado), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value), (status = 422, description = "unknown action or bad payload", body = Value)))]
pub async fn agent_command(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidJson(body): ValidJson<CommandBody>,
) -> ApiResult<Response> {
    let answer = admin::run_command(&state.ctx, &me, &origin, &body).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(answer)).into_response())
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    description = "Level: 3. Audit entries, newest first, filtered by desde/hasta (RFC 3339), user_id, event_type, resource_type, resource_id; skip/limit pagination. Personal values in old_values/new_values (email, nombre, apellido, dni, telefono, telegram_id) are stored encrypted with a key per person and shown opened; once the person is erased they read \"[borrado]\" (\"[ilegible]\": the server's master secret changed).",
    params(AuditQuery),
    responses((status = 200, description = "entries", body = [AuditRow]), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value), (status = 422, description = "bad filter", body = Value)))]
pub async fn audit_list(
    State(state): State<AppState>,
    Admin(me): Admin,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> ApiResult<Response> {
    let rows = admin::audit_list(&state.ctx, &me, &q).await?;
    Ok(axum::Json(rows).into_response())
}
