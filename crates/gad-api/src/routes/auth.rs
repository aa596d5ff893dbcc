//! Login and logout (contract §3): the HTTP face of `gad_service::auth`. The credential check,
//! lockout, audit and revocation are the use cases'; reading a form or JSON body, issuing the
//! token, the cookie and ending the session's sockets (the WebSocket hub) are HTTP's part.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{self, AuthUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{RawBody, Validate, parse_json_body};
use crate::state::AppState;
use gad_service::auth::{self as use_cases, Credentials, LoginBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
}

fn parse_login(headers: &HeaderMap, body: &[u8]) -> ApiResult<Credentials> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parsed: LoginBody = if ctype.starts_with("application/json") {
        parse_json_body(body)?
    } else {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        crate::extract::reject_nul(
            "body",
            pairs
                .iter()
                .filter(|(k, _)| k != "password")
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let b = LoginBody {
            username: get("username"),
            email: get("email"),
            password: get("password"),
        };
        let mut errors = Vec::new();
        b.validate(&mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        b
    };
    Ok(parsed.credentials())
}

pub(crate) fn cookie(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.environment.is_development() {
        ""
    } else {
        "; Secure"
    };
    let v = format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}",
        auth::COOKIE_NAME
    );
    HeaderValue::from_str(&v)
        .unwrap_or_else(|_| HeaderValue::from_static("access_token=; Max-Age=0; Path=/"))
}

/// Exchanges e-mail and password for a bearer token (also set as an HttpOnly cookie).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    description = "Level: public. Form (`username`, `password`) or JSON body. 401 on wrong credentials; the 5th consecutive failure locks the account for 30 minutes (423).",
    request_body(content = LoginBody, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "token", body = gad_service::wire::Token), (status = 401, description = "wrong credentials", body = Value),
              (status = 403, description = "inactive user", body = Value), (status = 413, description = "body over 16 KiB", body = Value),
              (status = 422, description = "missing fields", body = Value),
              (status = 423, description = "locked (also for unknown e-mails after 5 failures)", body = Value)))]
pub async fn login(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let creds = parse_login(&headers, &body)?;
    let user = use_cases::login(&state.ctx, &origin, creds).await?;
    let (token, claims) =
        auth::issue_token_after(&state, user.user_id, user.nivel, user.tokens_valid_after)?;
    let expires_in = claims.exp - claims.iat;
    let mut resp = Json(gad_service::wire::Token {
        access_token: token.clone(),
        token_type: "bearer",
        expires_in,
    })
    .into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &token, expires_in));
    Ok(resp)
}

/// Revokes the current token on every instance and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    description = "Level: 1. Revokes the presented token until it expires (every instance honours it) and clears the cookie.",
    responses((status = 200, description = "logged out", body = gad_service::wire::LoggedOut), (status = 401, description = "not authenticated", body = Value)))]
pub async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    Origin(origin): Origin,
) -> ApiResult<Response> {
    use_cases::logout(&state.ctx, &user, &origin, user.jti, user.exp).await?;
    // The session is over: its live sockets too, on every instance.
    state.hub.end_user_sessions(user.id);
    let mut resp = Json(gad_service::wire::LoggedOut {
        status: "logged_out",
    })
    .into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(resp.into_response())
}
