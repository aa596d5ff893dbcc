//! Login and logout (contract §3): the HTTP face of `gad_service::auth`. The credential check,
//! lockout, audit and revocation are the use cases'; reading a form or JSON body, issuing the
//! token, the cookie and ending the session's sockets (the WebSocket hub) are HTTP's part.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{self, AuthUser};
use crate::error::ApiResult;
use crate::extract::{RawBody, Validate, parse_json_body};
use crate::state::AppState;
use gad_service::ServiceError;
use gad_service::auth::{self as use_cases, Credentials, LoginBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_everywhere))
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
            return Err(ServiceError::Validation(errors).into());
        }
        b
    };
    Ok(parsed.credentials())
}

/// The session cookie carrying `token` for `max_age` seconds (an empty token with 0 clears
/// it), as a jar to return with the response (it becomes the `Set-Cookie` header).
pub(crate) fn session_cookie(state: &AppState, token: &str, max_age: i64) -> CookieJar {
    let secure = !state.config.environment.is_development();
    CookieJar::new().add(build_session_cookie(token, max_age, secure))
}

/// HttpOnly, SameSite=Strict, for the whole site, and Secure outside development.
fn build_session_cookie(token: &str, max_age: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((auth::COOKIE_NAME, token.to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .secure(secure)
        .build()
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
    let jar = session_cookie(&state, &token, expires_in);
    let body = Json(gad_service::wire::Token {
        access_token: token,
        token_type: "bearer",
        expires_in,
    });
    Ok((jar, body).into_response())
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
    let body = Json(gad_service::wire::LoggedOut {
        status: "logged_out",
    });
    Ok((session_cookie(&state, "", 0), body).into_response())
}

/// Ends every session of the caller (every token, every socket, on every instance) and the
/// Telegram link; clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout-everywhere", tag = "auth",
    description = "Level: 1. Every token of the caller issued until now stops working on every instance (this one included), their live sockets close, and the Telegram link ends (audited; the bot tells the chat). Clears the cookie; sign in again to continue.",
    responses((status = 200, description = "logged out everywhere", body = gad_service::wire::LoggedOut), (status = 401, description = "not authenticated", body = Value)))]
pub async fn logout_everywhere(
    State(state): State<AppState>,
    user: AuthUser,
    Origin(origin): Origin,
) -> ApiResult<Response> {
    use_cases::logout_everywhere(&state.ctx, &user, &origin).await?;
    state.hub.end_user_sessions(user.id);
    let body = Json(gad_service::wire::LoggedOut {
        status: "logged_out",
    });
    Ok((session_cookie(&state, "", 0), body).into_response())
}

#[cfg(test)]
mod tests {
    use super::build_session_cookie;

    #[test]
    fn session_cookie_attributes() {
        assert_eq!(
            build_session_cookie("a.b.c", 1800, true).to_string(),
            "access_token=a.b.c; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=1800"
        );
        assert_eq!(
            build_session_cookie("", 0, false).to_string(),
            "access_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        );
    }
}
