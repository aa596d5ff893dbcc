//! Users API (contract §5): the HTTP face of `gad_service::users`. Each handler extracts, calls
//! the use case and answers; ending the live sessions a change invalidates (the WebSocket hub)
//! and the fresh token after an own password change are HTTP's part.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{Admin, AuthUser, Supervisor};
use crate::error::{ApiResult, json_response};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::telegram_link::{self, LinkCodeRequest};
use gad_service::users::{
    self, CreateUser, GetUserQuery, ListQuery, UpdateMe, UpdateUser, Usuario, to_json,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_me, update_me))
        .routes(routes!(telegram_link))
        .routes(routes!(get_user, update_user, delete_user))
        .route(
            "/api/v1/users/",
            axum::routing::get(list_users).post(create_user),
        )
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListQuery),
    description = "Level: 2. Lists users (newest first), excluding deleted ones unless include_deleted (level 3).",
    responses((status = 200, description = "users", body = [Usuario])))]
pub async fn list_users(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Response> {
    let rows = users::list(&state.ctx, &me, &q).await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::to_value(rows).unwrap_or_default(),
    ))
}

fn location(id: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("/api/v1/users/{id}"))
        .unwrap_or_else(|_| HeaderValue::from_static("/api/v1/users"))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    description = "Level: 3. Creates a user (201 + Location). Duplicate email, dni or telegram_id → 409 naming the field.",
    responses((status = 201, description = "created", body = Usuario), (status = 409, description = "duplicate", body = Value)))]
pub async fn create_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidJson(body): ValidJson<CreateUser>,
) -> ApiResult<Response> {
    let user = users::create(&state.ctx, &me, &origin, &body).await?;
    let mut resp = json_response(StatusCode::CREATED, &to_json(&user));
    resp.headers_mut()
        .insert(header::LOCATION, location(user.id));
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    description = "Level: 1. The caller's own profile; `telegram_vinculado` says whether a Telegram account is linked.",
    responses((status = 200, description = "me", body = Usuario)))]
pub async fn get_me(State(state): State<AppState>, me: AuthUser) -> ApiResult<Response> {
    let u = users::get_me(&state.ctx, &me).await?;
    Ok(json_response(StatusCode::OK, &to_json(&u)))
}

#[utoipa::path(put, path = "/api/v1/users/me", tag = "users", request_body = UpdateMe,
    description = "Level: 1. Updates telefono, nombre, apellido; a password change needs current_password (400 if wrong) and ends the other sessions and the Telegram link.",
    responses((status = 200, description = "updated", body = Usuario), (status = 400, description = "wrong current password", body = Value),
              (status = 423, description = "too many wrong current passwords: locked like failed logins", body = Value)))]
pub async fn update_me(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidJson(body): ValidJson<UpdateMe>,
) -> ApiResult<Response> {
    let updated = users::update_me(&state.ctx, &me, &origin, &body).await?;
    if !updated.password_changed {
        return Ok(json_response(StatusCode::OK, &to_json(&updated.user)));
    }
    // A password change ends every other session (tokens and sockets); this one continues
    // with the fresh token returned here (and in the cookie).
    state.hub.end_user_sessions(me.id);
    let (token, claims) =
        crate::auth::issue_token_after(&state, me.id, me.nivel, updated.tokens_valid_after)?;
    let mut body = to_json(&updated.user);
    body["access_token"] = json!(token);
    body["token_type"] = json!("bearer");
    body["expires_in"] = json!(claims.exp - claims.iat);
    let jar = crate::routes::auth::session_cookie(&state, &token, claims.exp - claims.iat);
    Ok((jar, json_response(StatusCode::OK, &body)).into_response())
}

#[utoipa::path(post, path = "/api/v1/users/me/telegram-link", tag = "users", request_body = LinkCodeRequest,
    description = "Level: 1. One-time 8-character code (valid 10 minutes, stored hashed) that links a Telegram account through the bot, after the officer confirms in the chat. Needs the password again (`current_password`): a wrong one is 400 and counts toward the login lockout (423 once locked).",
    responses((status = 201, description = "code", body = gad_service::wire::TelegramLinkCode),
              (status = 400, description = "wrong current password", body = Value),
              (status = 422, description = "current_password missing", body = Value),
              (status = 423, description = "too many wrong passwords: locked like failed logins", body = Value)))]
pub async fn telegram_link(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(origin): Origin,
    ValidJson(body): ValidJson<LinkCodeRequest>,
) -> ApiResult<Response> {
    let code = telegram_link::issue_code(&state.ctx, &me, &origin, &body).await?;
    Ok((StatusCode::CREATED, axum::Json(code)).into_response())
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = i64, Path, description = "user id"), GetUserQuery),
    description = "Level: 1 (own). Self, or any user for level 2+; others get 404. A deleted user is 404 unless include_deleted (level 3), as in the list.",
    responses((status = 200, description = "user", body = Usuario), (status = 404, description = "not found", body = Value)))]
pub async fn get_user(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(user_id): ValidPath<i64>,
    ValidQuery(q): ValidQuery<GetUserQuery>,
) -> ApiResult<Response> {
    let u = users::get(&state.ctx, &me, user_id, &q).await?;
    Ok(json_response(StatusCode::OK, &to_json(&u)))
}

#[utoipa::path(put, path = "/api/v1/users/{user_id}", tag = "users", request_body = UpdateUser,
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Partial update of any field (password re-hashed). Nobody raises their own level. A new password, `verificado: false` or a level change ends the user's sessions and Telegram link; `\"telegram_id\": null` removes the link (absent keeps it). A removed link is audited (`telegram_unlinked`) and announced in the chat by the bot.",
    responses((status = 200, description = "updated", body = Usuario), (status = 404, description = "not found", body = Value),
              (status = 409, description = "duplicate", body = Value)))]
pub async fn update_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(user_id): ValidPath<i64>,
    ValidJson(body): ValidJson<UpdateUser>,
) -> ApiResult<Response> {
    let updated = users::update(&state.ctx, &me, &origin, user_id, &body).await?;
    // A new password, a deactivation or a level change ends the user's live sessions at once.
    if updated.end_sessions {
        state.hub.end_user_sessions(user_id);
    }
    Ok(json_response(StatusCode::OK, &to_json(&updated.user)))
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Soft delete; every token of the user stops working at once and the Telegram link ends (announced in the chat by the bot).",
    responses((status = 200, description = "deleted user", body = Usuario), (status = 404, description = "not found", body = Value)))]
pub async fn delete_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<impl IntoResponse> {
    let user = users::delete(&state.ctx, &me, &origin, user_id).await?;
    state.hub.end_user_sessions(user_id);
    Ok(json_response(StatusCode::OK, &to_json(&user)))
}
