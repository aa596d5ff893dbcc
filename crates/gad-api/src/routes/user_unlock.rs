//! Unlocking an account: the HTTP face of `gad_service::users::unlock`. An administrator clears
//! the lockout that five failed logins set so the user can sign in at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, json_response};
use crate::extract::ValidPath;
use crate::state::AppState;
use gad_service::users::{self, Desbloqueo};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(unlock_user))
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/unlock", tag = "users",
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Clears the login lockout and the failed-login count of a user (audited as user_unlocked). Idempotent: a user that is not locked answers estaba_bloqueado false. Unknown or deleted user → 404.",
    responses((status = 200, description = "unlocked", body = Desbloqueo), (status = 404, description = "not found", body = Value)))]
pub async fn unlock_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let body: Desbloqueo = users::unlock(&state.ctx, &me, &origin, user_id).await?;
    let value = serde_json::to_value(&body).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, &value))
}
