//! Login and logout (contract §3): the HTTP face of `gad_service::auth`. The credential check,
//! lockout, audit and revocation are the use cases'; reading a form or JSON body, issuing the
//! token, the cookie and ending the session's sockets (the WebSocket hub) are HTTP's part.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{self, AuthUser};
use crate::error::ApiResult;
use crate::extract::{RawBody, ValidJson, Validate, parse_json_body};
use crate::state::AppState;
use gad_service::ServiceError;
use gad_service::auth::{
    self as use_cases, Credentials, LoggedIn, LoginBody, LoginOutcome, TotpLoginBody,
};
use gad_service::{device, wire};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(login_totp))
        .routes(routes!(logout))
        .routes(routes!(logout_everywhere))
}

/// Login CSRF: a page on another site must not sign the browser in to an account of the
/// attacker's choosing (a form post needs no preflight). A request that names a cross-site
/// `Origin` is refused; one without (curl, the bot, older tools) is not a browser form post.
fn refuse_cross_site_login(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let same_site = origin
        .to_str()
        .is_ok_and(|o| auth::origin_allowed(state, headers, o));
    if same_site {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("Cross-site request refused".into()).into())
    }
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

/// The device cookie (`gad_service::device`): sent only to the login routes, never readable by
/// scripts, never on cross-site requests, and Secure outside development.
fn build_device_cookie(value: &str, secure: bool) -> Cookie<'static> {
    Cookie::build((device::COOKIE_NAME, value.to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/api/v1/auth")
        .max_age(time::Duration::days(device::MAX_AGE_DAYS))
        .secure(secure)
        .build()
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
    description = "Level: public. Form (`username`, `password`) or JSON body. 401 on wrong credentials; the 5th consecutive failure locks the account for 30 minutes (423) for clients without a device cookie. A successful login also sets `gad_device` (HttpOnly, SameSite=Strict, Path=/api/v1/auth, 180 days), signed and bound to the account: a login presenting it is counted on its own (5 failures lock that cookie only) and is not subject to the account's lock. A cross-site `Origin` is refused (403, login CSRF). A user with a confirmed second factor gets `{\"totp_required\": true, \"challenge\"}` instead of a token. A user whose level is at or above TOTP_REQUIRED_LEVEL and who has not enrolled gets a token marked `totp_enrolment_required` that only reaches /users/me, /users/me/totp* and logout (elsewhere 403 `totp_enrolment_required`).",
    request_body(content = LoginBody, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "token, or `{\"totp_required\": true, \"challenge\"}` (no token, no cookie) for a user with a second factor: send the code to /api/v1/auth/totp", body = gad_service::wire::Token), (status = 401, description = "wrong credentials", body = Value),
              (status = 403, description = "inactive user, or a cross-site `Origin` (login CSRF)", body = Value), (status = 413, description = "body over 16 KiB", body = Value),
              (status = 422, description = "missing fields", body = Value),
              (status = 423, description = "locked (also for unknown e-mails after 5 failures)", body = Value)))]
pub async fn login(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    refuse_cross_site_login(&state, &headers)?;
    let creds = parse_login(&headers, &body)?;
    let device_cookie = auth::cookie_value(&headers, device::COOKIE_NAME);
    match use_cases::login(&state.ctx, &origin, creds, device_cookie.as_deref()).await? {
        LoginOutcome::Session(user) => signed_in(&state, &user),
        LoginOutcome::TotpRequired { challenge } => Ok(Json(wire::TotpChallenge {
            totp_required: true,
            challenge,
        })
        .into_response()),
    }
}

/// The token answer with the session and device cookies.
fn signed_in(state: &AppState, user: &LoggedIn) -> ApiResult<Response> {
    let (token, claims) =
        auth::issue_token_after(state, user.user_id, user.nivel, user.tokens_valid_after)?;
    let expires_in = claims.exp - claims.iat;
    let secure = !state.config.environment.is_development();
    let jar = session_cookie(state, &token, expires_in);
    // After the session cookie (clients that read one `Set-Cookie` read the session's).
    let device = AppendHeaders([(
        header::SET_COOKIE,
        build_device_cookie(&user.device_cookie, secure).to_string(),
    )]);
    let body = Json(wire::Token {
        access_token: token,
        token_type: "bearer",
        expires_in,
        totp_enrolment_required: user.totp_enrolment_required,
    });
    Ok((jar, device, body).into_response())
}

/// The second step of a login with a second factor: the challenge and a code → the token.
#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "auth", request_body = TotpLoginBody,
    description = "Level: public. After a login answered `totp_required`: the `challenge` (valid 5 minutes, used once) and a current 6-digit code (30-second steps, one step of drift either way) or an unused recovery code → the same token answer and cookies as a login. A code is accepted once (a replay is 401); wrong codes count toward the lockout like wrong passwords (423). A cross-site `Origin` is refused (403).",
    responses((status = 200, description = "token", body = wire::Token), (status = 401, description = "wrong, replayed or recovery code spent; unknown, used or expired challenge", body = Value),
              (status = 403, description = "inactive user, or a cross-site `Origin`", body = Value),
              (status = 422, description = "missing fields", body = Value),
              (status = 423, description = "locked", body = Value)))]
pub async fn login_totp(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    ValidJson(body): ValidJson<TotpLoginBody>,
) -> ApiResult<Response> {
    refuse_cross_site_login(&state, &headers)?;
    let user = use_cases::login_totp(&state.ctx, &origin, &body.challenge, &body.code).await?;
    signed_in(&state, &user)
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
