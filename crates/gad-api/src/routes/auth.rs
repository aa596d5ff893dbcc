//! Login and logout (contract §3).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gad_core::Nivel;
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, AuditEntry, Origin};
use crate::auth::{self, AuthUser, password};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{RawBody, Validate, parse_json_body};
use crate::state::AppState;
use gad_store::usuarios;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
}

/// Login body: form (`username`, `password`, OAuth2 extras ignored) or JSON (`username` or `email`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

impl Validate for LoginBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .username
            .as_deref()
            .or(self.email.as_deref())
            .is_none_or(str::is_empty)
        {
            errors.push(FieldError::body(
                "username",
                "missing",
                "Field required",
                Value::Null,
            ));
        }
        if self.password.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::body(
                "password",
                "missing",
                "Field required",
                Value::Null,
            ));
        }
    }
}

fn parse_login(headers: &HeaderMap, body: &[u8]) -> ApiResult<(String, String)> {
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
    let email = parsed
        .username
        .filter(|s| !s.is_empty())
        .or(parsed.email)
        .unwrap_or_default();
    Ok((
        email.trim().to_string(),
        parsed.password.unwrap_or_default(),
    ))
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
    Origin(ctx): Origin,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let (email, pass) = parse_login(&headers, &body)?;
    let Some(user) = usuarios::for_login(&state.db, &email).await? else {
        // Unknown e-mails are counted and locked like accounts (a 423 reveals nothing), and
        // get the same work as a real check, so timing does not reveal which e-mails exist.
        let attempt = usuarios::claim_unknown_login(&state.db, &email).await?;
        if let usuarios::Attempt::Locked(until) = attempt {
            let entry = AuditEntry::new("login_locked", None)
                .describe(format!(
                    "unknown e-mail {}",
                    email.chars().take(254).collect::<String>()
                ))
                .failed(423)
                .context(&ctx);
            audit::record(&state.db, &entry).await?;
            return Err(ApiError::Locked { until });
        }
        let _ = password::verify(&state, pass, password::DUMMY_HASH.to_string()).await?;
        let entry = AuditEntry::new("login_failed", None)
            .describe(format!(
                "unknown e-mail {}",
                email.chars().take(254).collect::<String>()
            ))
            .failed(401)
            .context(&ctx);
        audit::record(&state.db, &entry).await?;
        return Err(ApiError::IncorrectLogin);
    };
    // The attempt is claimed (and counted) before the password is checked: parallel guesses
    // cannot all be verified.
    let failures = match usuarios::claim_login_attempt(&state.db, user.id).await? {
        usuarios::Attempt::Allowed(n) => n,
        usuarios::Attempt::Locked(until) => {
            let entry = AuditEntry::new("login_locked", Some(user.id))
                .resource("usuario", user.id)
                .failed(423)
                .context(&ctx);
            audit::record(&state.db, &entry).await?;
            return Err(ApiError::Locked { until });
        }
    };
    let (ok, needs_rehash) =
        password::verify(&state, pass.clone(), user.hashed_password.clone()).await?;
    if !ok {
        let mut entry = AuditEntry::new("login_failed", Some(user.id))
            .resource("usuario", user.id)
            .describe(format!("wrong password ({failures} consecutive)"))
            .failed(401)
            .context(&ctx);
        if failures >= usuarios::MAX_FAILURES {
            entry = entry.describe(format!(
                "account locked for 30 minutes after {failures} failures"
            ));
            entry.event_type = "account_locked".into();
            entry.severity = "critical";
        }
        audit::record(&state.db, &entry).await?;
        return Err(ApiError::IncorrectLogin);
    }
    if !user.verificado || user.deleted {
        let entry = AuditEntry::new("login_inactive", Some(user.id))
            .resource("usuario", user.id)
            .failed(403)
            .context(&ctx);
        audit::record(&state.db, &entry).await?;
        return Err(ApiError::InactiveUser);
    }
    let new_hash = if needs_rehash {
        Some(password::hash(&state, pass).await?)
    } else {
        None
    };
    let nivel =
        Nivel::from_db(&user.nivel).ok_or_else(|| ApiError::internal("unknown nivel label"))?;
    let mut tx = state.db.begin().await?;
    usuarios::record_successful_login(&mut *tx, user.id, new_hash.as_deref()).await?;
    let mut entry = AuditEntry::new("login_success", Some(user.id))
        .resource("usuario", user.id)
        .status(200)
        .context(&ctx);
    if new_hash.is_some() {
        entry = entry.describe("legacy bcrypt hash replaced by argon2id");
    }
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;

    let (token, claims) = auth::issue_token_after(&state, user.id, nivel, user.tokens_valid_after)?;
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
    Origin(ctx): Origin,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    gad_store::tokens::revoke(&mut *tx, user.jti, user.id, user.exp).await?;
    // Expired revocations are useless: prune a few on each logout so the table stays small.
    gad_store::tokens::prune_expired(&mut *tx, 100).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("logout", Some(user.id))
            .resource("usuario", user.id)
            .status(200)
            .context(&ctx),
    )
    .await?;
    tx.commit().await?;
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
