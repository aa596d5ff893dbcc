//! Users API (contract §5). Level rules: list/get others = 2, create/update/delete = 3, `me` = 1.
//! Server-set fields never come from the body; nobody raises their own level.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use gad_core::Nivel;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, AuditEntry, Origin};
use crate::auth::{Admin, AuthUser, Supervisor, password};
use crate::error::{ApiError, ApiResult, FieldError, json_response};
use crate::extract::{ValidJson, ValidPath, ValidQuery, Validate, rules};
use crate::state::AppState;
use gad_store::usuarios::{self, Usuario};

pub use gad_service::stats::USER_NOT_FOUND;

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

fn to_json(u: &Usuario) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Filter by level (1–3).
    #[param(minimum = 1, maximum = 3)]
    pub nivel: Option<i64>,
    /// Name or e-mail contains (case-insensitive).
    pub q: Option<String>,
    /// Include soft-deleted users (level 3 only).
    pub include_deleted: Option<bool>,
}

impl Validate for ListQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
        if let Some(n) = self.nivel
            && Nivel::from_i64(n).is_none()
        {
            errors.push(FieldError::query(
                "nivel",
                "enum",
                Nivel::allowed_message(),
                json!(n),
            ));
        }
    }
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListQuery),
    description = "Level: 2. Lists users (newest first), excluding deleted ones unless include_deleted (level 3).",
    responses((status = 200, description = "users", body = [Usuario])))]
pub async fn list_users(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Response> {
    let include_deleted = q.include_deleted.unwrap_or(false);
    if include_deleted && !me.is_admin() {
        return Err(ApiError::InsufficientLevel);
    }
    let nivel = q.nivel.and_then(Nivel::from_i64).map(|n| n.as_db());
    let pattern = q.q.as_deref().map(|s| format!("%{}%", escape_like(s)));
    let rows = usuarios::list(
        &state.db,
        usuarios::ListFilter {
            include_deleted,
            nivel,
            pattern,
            skip: q.skip.unwrap_or(0),
            limit: q.limit.unwrap_or(100),
        },
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::to_value(rows).unwrap_or_default(),
    ))
}

pub use gad_store::escape_like;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateUser {
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\x00\x85]+@[^@\s.\x00\x85][^@\s\x00\x85]*\.[^@\s\x00\x85]*[^@\s.\x00\x85]$"
    )]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(min_length = 1, max_length = 100)]
    pub nombre: String,
    #[schema(min_length = 1, max_length = 100)]
    pub apellido: String,
    #[schema(min_length = 1, max_length = 20)]
    pub dni: String,
    #[schema(max_length = 20)]
    pub telefono: Option<String>,
    pub telegram_id: Option<i64>,
    pub nivel: Option<Nivel>,
    pub verificado: Option<bool>,
}

fn check_password(errors: &mut Vec<FieldError>, field: &str, p: &str) {
    rules::len(errors, field, p, 8, 128);
}

impl Validate for CreateUser {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::email(errors, "email", &self.email);
        check_password(errors, "password", &self.password);
        rules::len(errors, "nombre", &self.nombre, 1, 100);
        rules::len(errors, "apellido", &self.apellido, 1, 100);
        rules::len(errors, "dni", &self.dni, 1, 20);
        rules::opt_len(errors, "telefono", &self.telefono, 0, 20);
    }
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
    Origin(ctx): Origin,
    ValidJson(body): ValidJson<CreateUser>,
) -> ApiResult<Response> {
    let nivel = body.nivel.unwrap_or(Nivel::Efectivo);
    if !gad_core::permissions::can_grant_level(me.nivel, nivel) {
        return Err(ApiError::InsufficientLevel);
    }
    let hash = password::hash(&state, body.password.clone()).await?;
    let mut tx = state.db.begin().await?;
    let user = usuarios::insert(
        &mut *tx,
        usuarios::NewUsuario {
            email: body.email.trim(),
            dni: body.dni.trim(),
            nombre: &body.nombre,
            apellido: &body.apellido,
            telefono: body.telefono.as_deref(),
            telegram_id: body.telegram_id,
            nivel,
            hashed_password: &hash,
            verificado: body.verificado.unwrap_or(false),
        },
    )
    .await?;
    let entry = AuditEntry::new("user_created", Some(me.id))
        .resource("usuario", user.id)
        .values(None, Some(to_json(&user)))
        .status(201)
        .context(&ctx);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;
    let mut resp = json_response(StatusCode::CREATED, &to_json(&user));
    resp.headers_mut()
        .insert(header::LOCATION, location(user.id));
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    description = "Level: 1. The caller's own profile.",
    responses((status = 200, description = "me", body = Usuario)))]
pub async fn get_me(State(state): State<AppState>, me: AuthUser) -> ApiResult<Response> {
    let u = usuarios::by_id(&state.db, me.id, false)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    Ok(json_response(StatusCode::OK, &to_json(&u)))
}

/// Fields a user may change on their own profile. Anything else in the body (nivel, email…)
/// is ignored: nobody raises their own level.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateMe {
    #[schema(max_length = 20)]
    pub telefono: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub nombre: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub apellido: Option<String>,
    pub current_password: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

impl Validate for UpdateMe {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::opt_len(errors, "telefono", &self.telefono, 0, 20);
        rules::opt_len(errors, "nombre", &self.nombre, 1, 100);
        rules::opt_len(errors, "apellido", &self.apellido, 1, 100);
        if let Some(p) = &self.password {
            check_password(errors, "password", p);
            if self.current_password.is_none() {
                errors.push(FieldError::body(
                    "current_password",
                    "missing",
                    "Field required",
                    Value::Null,
                ));
            }
        }
    }
}

#[utoipa::path(put, path = "/api/v1/users/me", tag = "users", request_body = UpdateMe,
    description = "Level: 1. Updates telefono, nombre, apellido; a password change needs current_password (400 if wrong).",
    responses((status = 200, description = "updated", body = Usuario), (status = 400, description = "wrong current password", body = Value),
              (status = 423, description = "too many wrong current passwords: locked like failed logins", body = Value)))]
pub async fn update_me(
    State(state): State<AppState>,
    me: AuthUser,
    Origin(ctx): Origin,
    ValidJson(body): ValidJson<UpdateMe>,
) -> ApiResult<Response> {
    let new_hash = match (&body.password, &body.current_password) {
        (Some(new), Some(current)) => {
            // A wrong current password is a password guess: it counts toward the same lockout
            // as login (claimed before the check, so parallel guesses cannot all be verified).
            if let usuarios::Attempt::Locked(until) =
                usuarios::claim_login_attempt(&state.db, me.id).await?
            {
                return Err(ApiError::Locked { until });
            }
            let stored = usuarios::password_hash(&state.db, me.id)
                .await?
                .ok_or(ApiError::InvalidCredentials)?;
            let (ok, _) = password::verify(&state, current.clone(), stored).await?;
            if !ok {
                return Err(ApiError::BadRequest("Current password is incorrect".into()));
            }
            usuarios::reset_failures(&state.db, me.id).await?;
            Some(password::hash(&state, new.clone()).await?)
        }
        _ => None,
    };
    let mut tx = state.db.begin().await?;
    let old = usuarios::by_id(&mut *tx, me.id, false)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let user = usuarios::update(
        &mut *tx,
        me.id,
        usuarios::UsuarioChanges {
            telefono: body.telefono.as_deref(),
            nombre: body.nombre.as_deref(),
            apellido: body.apellido.as_deref(),
            hashed_password: new_hash.as_deref(),
            ..Default::default()
        },
    )
    .await?
    .ok_or(ApiError::InvalidCredentials)?;
    let mut entry = AuditEntry::new("user_updated", Some(me.id))
        .resource("usuario", me.id)
        .values(Some(to_json(&old)), Some(to_json(&user)))
        .status(200)
        .context(&ctx);
    if new_hash.is_some() {
        entry = entry.describe("own profile updated; password changed; other sessions ended");
    }
    audit::record(&mut *tx, &entry).await?;
    let valid_after: Option<chrono::DateTime<Utc>> = if new_hash.is_some() {
        usuarios::tokens_valid_after(&mut *tx, me.id).await?
    } else {
        None
    };
    tx.commit().await?;
    if new_hash.is_none() {
        return Ok(json_response(StatusCode::OK, &to_json(&user)));
    }
    // A password change ends every other session (tokens and sockets); this one continues
    // with the fresh token returned here (and in the cookie).
    state.hub.end_user_sessions(me.id);
    let (token, claims) = crate::auth::issue_token_after(&state, me.id, me.nivel, valid_after)?;
    let mut body = to_json(&user);
    body["access_token"] = json!(token);
    body["token_type"] = json!("bearer");
    body["expires_in"] = json!(claims.exp - claims.iat);
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut().insert(
        axum::http::header::SET_COOKIE,
        crate::routes::auth::cookie(&state, &token, claims.exp - claims.iat),
    );
    Ok(resp)
}

#[utoipa::path(post, path = "/api/v1/users/me/telegram-link", tag = "users",
    description = "Level: 1. One-time 8-character code (valid 10 minutes) that links a Telegram account through the bot.",
    responses((status = 201, description = "code", body = gad_service::wire::TelegramLinkCode)))]
pub async fn telegram_link(State(state): State<AppState>, me: AuthUser) -> ApiResult<Response> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let code: String = {
        let mut rng = rand::thread_rng();
        (0..8)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    };
    let expires_at = Utc::now() + Duration::minutes(10);
    usuarios::insert_telegram_link_code(&state.db, &code, me.id, expires_at).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(gad_service::wire::TelegramLinkCode { code, expires_at }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetUserQuery {
    /// Also find a soft-deleted user (level 3 only), as `include_deleted` on the list.
    pub include_deleted: Option<bool>,
}

impl Validate for GetUserQuery {}

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
    let include_deleted = q.include_deleted.unwrap_or(false);
    if include_deleted && !me.is_admin() {
        return Err(ApiError::InsufficientLevel);
    }
    if user_id != me.id && !me.is_supervisor() {
        return Err(ApiError::NotFound(USER_NOT_FOUND.into()));
    }
    let u = usuarios::by_id(&state.db, user_id, include_deleted)
        .await?
        .ok_or_else(|| ApiError::NotFound(USER_NOT_FOUND.into()))?;
    Ok(json_response(StatusCode::OK, &to_json(&u)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateUser {
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\x00\x85]+@[^@\s.\x00\x85][^@\s\x00\x85]*\.[^@\s\x00\x85]*[^@\s.\x00\x85]$"
    )]
    pub email: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub nombre: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub apellido: Option<String>,
    #[schema(min_length = 1, max_length = 20)]
    pub dni: Option<String>,
    #[schema(max_length = 20)]
    pub telefono: Option<String>,
    pub telegram_id: Option<i64>,
    pub nivel: Option<Nivel>,
    pub verificado: Option<bool>,
}

impl Validate for UpdateUser {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(e) = &self.email {
            rules::email(errors, "email", e);
        }
        if let Some(p) = &self.password {
            check_password(errors, "password", p);
        }
        rules::opt_len(errors, "nombre", &self.nombre, 1, 100);
        rules::opt_len(errors, "apellido", &self.apellido, 1, 100);
        rules::opt_len(errors, "dni", &self.dni, 1, 20);
        rules::opt_len(errors, "telefono", &self.telefono, 0, 20);
    }
}

#[utoipa::path(put, path = "/api/v1/users/{user_id}", tag = "users", request_body = UpdateUser,
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Partial update of any field (password re-hashed). Nobody raises their own level.",
    responses((status = 200, description = "updated", body = Usuario), (status = 404, description = "not found", body = Value),
              (status = 409, description = "duplicate", body = Value)))]
pub async fn update_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(ctx): Origin,
    ValidPath(user_id): ValidPath<i64>,
    ValidJson(body): ValidJson<UpdateUser>,
) -> ApiResult<Response> {
    if let Some(n) = body.nivel {
        let allowed = if user_id == me.id {
            gad_core::permissions::can_change_own_level(me.nivel, n)
        } else {
            gad_core::permissions::can_grant_level(me.nivel, n)
        };
        if !allowed {
            return Err(ApiError::InsufficientLevel);
        }
    }
    let new_hash = match &body.password {
        Some(p) => Some(password::hash(&state, p.clone()).await?),
        None => None,
    };
    let mut tx = state.db.begin().await?;
    let old = usuarios::by_id(&mut *tx, user_id, false)
        .await?
        .ok_or_else(|| ApiError::NotFound(USER_NOT_FOUND.into()))?;
    let user = usuarios::update(
        &mut *tx,
        user_id,
        usuarios::UsuarioChanges {
            email: body.email.as_deref().map(str::trim),
            hashed_password: new_hash.as_deref(),
            nombre: body.nombre.as_deref(),
            apellido: body.apellido.as_deref(),
            dni: body.dni.as_deref().map(str::trim),
            telefono: body.telefono.as_deref(),
            telegram_id: body.telegram_id,
            nivel: body.nivel,
            verificado: body.verificado,
        },
    )
    .await?
    .ok_or_else(|| ApiError::NotFound(USER_NOT_FOUND.into()))?;
    let entry = AuditEntry::new("user_updated", Some(me.id))
        .resource("usuario", user_id)
        .values(Some(to_json(&old)), Some(to_json(&user)))
        .status(200)
        .context(&ctx);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;
    // A new password, a deactivation or a level change ends the user's live sessions at once.
    if body.password.is_some()
        || body.verificado == Some(false)
        || body.nivel.is_some_and(|n| n.as_i16() != old.nivel)
    {
        state.hub.end_user_sessions(user_id);
    }
    Ok(json_response(StatusCode::OK, &to_json(&user)))
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 3. Soft delete; every token of the user stops working at once.",
    responses((status = 200, description = "deleted user", body = Usuario), (status = 404, description = "not found", body = Value)))]
pub async fn delete_user(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(ctx): Origin,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<impl IntoResponse> {
    let mut tx = state.db.begin().await?;
    let user = usuarios::soft_delete(&mut *tx, user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(USER_NOT_FOUND.into()))?;
    let entry = AuditEntry::new("user_deleted", Some(me.id))
        .resource("usuario", user_id)
        .values(None, Some(to_json(&user)))
        .severity("warning")
        .status(200)
        .context(&ctx);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;
    state.hub.end_user_sessions(user_id);
    Ok(json_response(StatusCode::OK, &to_json(&user)))
}
