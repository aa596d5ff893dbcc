//! The second factor: the HTTP face of `gad_service::totp`. A user enrols and confirms their own
//! authenticator; an administrator resets a lost one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{Admin, AuthUser};
use crate::error::ApiResult;
use crate::extract::{ValidJson, ValidPath};
use crate::state::AppState;
use gad_service::totp::{self, CodeBody, Enrolment, RecoveryCodes, TotpReset};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enrol))
        .routes(routes!(confirm))
        .routes(routes!(reset))
}

#[utoipa::path(post, path = "/api/v1/users/me/totp", tag = "users",
    description = "Level: 1. Starts (or restarts) the caller's second-factor enrolment: a new TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s) as an `otpauth://` URI and a QR code (SVG) for an authenticator app. Nothing changes at login until it is confirmed. A confirmed factor is not replaced (409): an administrator resets a lost one.",
    responses((status = 201, description = "enrolment", body = Enrolment), (status = 409, description = "already enrolled", body = Value)))]
pub async fn enrol(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
) -> ApiResult<Response> {
    let enrolment = totp::enrol(&state.ctx, &me, &origin).await?;
    Ok((StatusCode::CREATED, Json(enrolment)).into_response())
}

#[utoipa::path(post, path = "/api/v1/users/me/totp/confirmar", tag = "users", request_body = CodeBody,
    description = "Level: 1. Confirms the pending enrolment with a current code from the authenticator; answers 10 recovery codes, shown once (stored hashed, each usable once instead of a code). From then on login asks for a code. Wrong code → 400; nothing pending → 409.",
    responses((status = 200, description = "recovery codes", body = RecoveryCodes), (status = 400, description = "wrong code", body = Value),
              (status = 409, description = "no pending enrolment", body = Value)))]
pub async fn confirm(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidJson(body): ValidJson<CodeBody>,
) -> ApiResult<Response> {
    let codes = totp::confirm(&state.ctx, &me, &origin, &body).await?;
    // The second factor is enrolled: the sessions that owed it reach everything now.
    state.hub.refresh_user_auth(me.id);
    Ok(Json(codes).into_response())
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}/totp", tag = "users",
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Resets a user's second factor (lost phone): secret, recovery codes and open login challenges are removed (audited as totp_reset); the user enrols again. Idempotent. Unknown or deleted user → 404.",
    responses((status = 200, description = "reset", body = TotpReset), (status = 404, description = "not found", body = Value)))]
pub async fn reset(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let body = totp::reset(&state.ctx, &me, &origin, user_id).await?;
    // A user who must have a second factor owes it again, on every instance.
    state.hub.refresh_user_auth(user_id);
    Ok(Json(body).into_response())
}
