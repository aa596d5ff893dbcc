//! Authentication: JWT (HS256 pinned) and the `AuthUser` / `RequireLevel` extractors every
//! protected route uses. Password hashing lives with the use cases (`gad_service::password`).

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, Method, header, request::Parts};
use axum_extra::extract::cookie::Cookie;
use chrono::{DateTime, Utc};
use gad_core::{Actor, Nivel};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth_cache::CachedSession;
use crate::error::ApiError;
use crate::state::AppState;
use gad_service::ServiceError;

pub const ISSUER: &str = "gad";
pub const COOKIE_NAME: &str = "access_token";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub nivel: i16,
    pub iss: String,
}

/// Issues a token for a user; returns (token, claims).
pub fn issue_token(
    state: &AppState,
    user_id: i64,
    nivel: Nivel,
) -> Result<(String, Claims), ApiError> {
    issue_token_after(state, user_id, nivel, None)
}

/// Issues a token that survives the user's `tokens_valid_after` cut-off (which revokes tokens
/// with `iat` ≤ its second): a token issued in the same second as a password change gets the
/// next second as `iat`, so the new session lives and every older token does not.
pub fn issue_token_after(
    state: &AppState,
    user_id: i64,
    nivel: Nivel,
    valid_after: Option<DateTime<Utc>>,
) -> Result<(String, Claims), ApiError> {
    let mut now = Utc::now().timestamp();
    if let Some(after) = valid_after {
        now = now.max(after.timestamp() + 1);
    }
    let claims = Claims {
        sub: user_id.to_string(),
        iat: now,
        exp: now + state.config.access_token_expire_minutes * 60,
        jti: Uuid::new_v4().to_string(),
        nivel: nivel.as_i16(),
        iss: ISSUER.into(),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.config.jwt_secret.as_bytes()),
    )
    .map_err(ApiError::internal)?;
    Ok((token, claims))
}

/// Decodes and validates a token (signature, algorithm, exp, iss). Any failure → 401.
pub fn decode_token(secret: &str, token: &str) -> Result<Claims, ApiError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "sub", "iss", "iat"]);
    v.leeway = 0;
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret.as_bytes()), &v)
        .map(|d| d.claims)
        .map_err(|_| ApiError::from(ServiceError::InvalidCredentials))
}

/// Where the token came from; cookie-borne unsafe requests need an Origin check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Header,
    Cookie,
    Query,
}

/// Finds a token in the Authorization header or the `access_token` cookie.
pub fn token_from_parts(parts: &Parts) -> Option<(String, TokenSource)> {
    if let Some(h) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut it = h.splitn(2, ' ');
        if let (Some(scheme), Some(tok)) = (it.next(), it.next())
            && scheme.eq_ignore_ascii_case("bearer")
            && !tok.trim().is_empty()
        {
            return Some((tok.trim().to_string(), TokenSource::Header));
        }
    }
    cookie_value(&parts.headers, COOKIE_NAME).map(|t| (t, TokenSource::Cookie))
}

/// The first non-empty value of cookie `name` across the request's `Cookie` headers, read
/// with the `cookie` crate's parser. The value is taken as sent (no percent-decoding), and the
/// first one wins when a name repeats, as the browser puts the most specific path first.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// True when `origin` is allowed: listed in CORS_ALLOWED_ORIGINS or the server's own origin
/// (same host as the request's Host header).
pub fn origin_allowed(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    if state
        .config
        .cors_allowed_origins
        .iter()
        .any(|o| o == origin || o == "*")
    {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
}

/// An authenticated, active user, read from the database or from this instance's session cache
/// (`crate::auth_cache`: a few seconds at most, forgotten on every instance when a demotion,
/// deletion or logout happens anywhere).
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// Who acts, as every use case sees it (`me.id`, `me.nivel`… read through it).
    pub actor: Actor,
    pub jti: Uuid,
    pub exp: DateTime<Utc>,
    /// The user's level requires a second factor they have not enrolled yet.
    pub totp_enrolment_required: bool,
}

impl std::ops::Deref for AuthUser {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.actor
    }
}

/// What a session that still owes its second factor (`TOTP_REQUIRED_LEVEL`) may reach: the
/// caller's profile, the enrolment and logout.
const ENROLMENT_PATHS: [&str; 4] = [
    "/api/v1/users/me",
    "/api/v1/users/me/totp",
    "/api/v1/users/me/totp/confirmar",
    "/api/v1/auth/logout",
];

/// The refusal of a session that owes its second factor, elsewhere than `ENROLMENT_PATHS`.
pub const TOTP_ENROLMENT_REQUIRED: &str = "totp_enrolment_required";

/// Validates a raw token and loads the user (shared by HTTP and WebSocket authentication). A
/// session that owes its second factor is refused here (403): only the extractor, which knows
/// the path, lets it reach the enrolment.
pub async fn authenticate_token(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let user = authenticate_token_owing_enrolment(state, token).await?;
    if user.totp_enrolment_required {
        return Err(enrolment_required());
    }
    Ok(user)
}

fn enrolment_required() -> ApiError {
    ApiError::from(ServiceError::Forbidden(TOTP_ENROLMENT_REQUIRED.into()))
}

/// As `authenticate_token`, also for a session that owes its second factor.
async fn authenticate_token_owing_enrolment(
    state: &AppState,
    token: &str,
) -> Result<AuthUser, ApiError> {
    let claims = decode_token(&state.config.jwt_secret, token)?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| ApiError::from(ServiceError::InvalidCredentials))?;
    let jti = Uuid::parse_str(&claims.jti)
        .map_err(|_| ApiError::from(ServiceError::InvalidCredentials))?;
    let session = match state.auth_cache.get(jti, user_id).await {
        Some(s) => s,
        None => {
            let ticket = state.auth_cache.ticket();
            let s = gad_service::auth::session(&state.ctx, user_id, jti, claims.iat).await?;
            let s = CachedSession {
                actor: s.actor,
                totp_enrolment_required: s.totp_enrolment_required,
            };
            state.auth_cache.put(ticket, jti, user_id, s).await;
            s
        }
    };
    Ok(AuthUser {
        actor: session.actor,
        jti,
        exp: DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now),
        totp_enrolment_required: session.totp_enrolment_required,
    })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(u) = parts.extensions.get::<AuthUser>() {
            return Ok(u.clone());
        }
        let (token, source) =
            token_from_parts(parts).ok_or(ApiError::from(ServiceError::NotAuthenticated))?;
        let user = authenticate_token_owing_enrolment(state, &token).await?;
        if user.totp_enrolment_required
            && !ENROLMENT_PATHS.contains(&parts.uri.path().trim_end_matches('/'))
        {
            return Err(enrolment_required());
        }
        if source == TokenSource::Cookie && !is_safe(&parts.method) {
            let origin = parts
                .headers
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok());
            if !origin.is_some_and(|o| origin_allowed(state, &parts.headers, o)) {
                return Err(ApiError::from(ServiceError::Forbidden(
                    "Cross-site request refused".into(),
                )));
            }
        }
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// An authenticated user with at least level `N` (1–3); otherwise 403.
pub struct RequireLevel<const N: i16>(pub AuthUser);

/// Level 2 or higher (`Supervisor(user): Supervisor` in handler arguments).
pub struct Supervisor(pub AuthUser);
/// Level 3 (`Admin(user): Admin`).
pub struct Admin(pub AuthUser);

impl FromRequestParts<AppState> for Supervisor {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        RequireLevel::<2>::from_request_parts(parts, state)
            .await
            .map(|r| Supervisor(r.0))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        RequireLevel::<3>::from_request_parts(parts, state)
            .await
            .map(|r| Admin(r.0))
    }
}

impl<const N: i16> FromRequestParts<AppState> for RequireLevel<N> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.nivel.as_i16() < N {
            return Err(ApiError::from(ServiceError::InsufficientLevel));
        }
        Ok(RequireLevel(user))
    }
}

/// Where the tools (seed, admin creation, tests) have always found the hashing functions.
pub use gad_service::password;

pub use gad_service::hashing::HashPool;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_value_takes_the_first_non_empty_one() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "theme=dark; access_token=; x=1".parse().unwrap(),
        );
        h.append(
            header::COOKIE,
            "access_token=a.b-c_d;access_token=e".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h, COOKIE_NAME).as_deref(), Some("a.b-c_d"));
        assert_eq!(cookie_value(&h, "x").as_deref(), Some("1"));
        assert_eq!(cookie_value(&h, "missing"), None);
        let h = HeaderMap::from_iter([(header::COOKIE, "access_token=".parse().unwrap())]);
        assert_eq!(cookie_value(&h, COOKIE_NAME), None);
    }

    #[test]
    fn algorithm_is_pinned() {
        // A token signed with HS512 using the same secret must be refused.
        let claims = Claims {
            sub: "1".into(),
            exp: Utc::now().timestamp() + 60,
            iat: 0,
            jti: Uuid::new_v4().to_string(),
            nivel: 3,
            iss: ISSUER.into(),
        };
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(decode_token("k", &t).is_err());
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(decode_token("k", &t).is_ok());
        assert!(decode_token("other", &t).is_err());
    }
}
