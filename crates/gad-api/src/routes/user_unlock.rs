//! Unlocking an account (issue 16): an administrator clears the lockout that five failed
//! logins set (`bloqueado_hasta`, `intentos_fallidos`) so the user can sign in at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, AuditEntry, Origin};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, json_response};
use crate::extract::ValidPath;
use crate::routes::users::USER_NOT_FOUND;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(unlock_user))
}

/// The answer of an unlock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Desbloqueo {
    pub user_id: i64,
    /// Whether a lockout was in force when the request arrived.
    pub estaba_bloqueado: bool,
    /// Consecutive failed logins before the reset.
    pub intentos_fallidos: i32,
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/unlock", tag = "users",
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Clears the login lockout and the failed-login count of a user (audited as user_unlocked). Idempotent: a user that is not locked answers estaba_bloqueado false. Unknown or deleted user → 404.",
    responses((status = 200, description = "unlocked", body = Desbloqueo), (status = 404, description = "not found", body = Value)))]
pub async fn unlock_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(ctx): Origin,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let row = gad_store::usuarios::unlock(&mut tx, user_id).await?;
    let Some((estaba_bloqueado, intentos_fallidos)) = row else {
        return Err(ApiError::NotFound(USER_NOT_FOUND.into()));
    };
    let entry = AuditEntry::new("user_unlocked", Some(me.id))
        .resource("usuario", user_id)
        .describe(format!(
            "lockout cleared (locked: {estaba_bloqueado}, failed logins: {intentos_fallidos})"
        ))
        .status(200)
        .context(&ctx);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;
    let body = Desbloqueo {
        user_id,
        estaba_bloqueado,
        intentos_fallidos,
    };
    let value = serde_json::to_value(&body).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, &value))
}
