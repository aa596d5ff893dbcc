//! The command centre in the browser (issue 16): HTML pages for supervisors (level 2) and
//! administrators (level 3), served by `gad serve` itself with every asset embedded in the
//! binary — no CDN, no request leaves the machine except map tiles (`MAP_TILE_URL`).
//!
//! Pages are static shells; their scripts talk to the documented API with the HttpOnly session
//! cookie (same origin, so the Origin check of cookie-borne writes passes) and to `/ws/connect`.
//! The page routes check the session themselves so an expired one lands on the login page
//! instead of an empty shell.

mod assets;
mod pages;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use gad_core::Nivel;
use serde::Deserialize;

use crate::auth::{self, AuthUser};
use crate::state::AppState;
use pages::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login))
        .route("/dashboard", get(|s, h| page(s, h, Page::Dashboard)))
        .route("/tareas", get(|s, h| page(s, h, Page::Tareas)))
        .route("/estadisticas", get(|s, h| page(s, h, Page::Estadisticas)))
        .route("/turnos", get(|s, h| page(s, h, Page::Turnos)))
        .route("/admin", get(|s, h| page(s, h, Page::Admin)))
        .route("/assets/{*path}", get(asset))
}

/// The signed-in user behind the session cookie, if it is still valid.
async fn session(state: &AppState, headers: &HeaderMap) -> Option<AuthUser> {
    let token = auth::cookie_value(headers, auth::COOKIE_NAME)?;
    auth::authenticate_token(state, &token).await.ok()
}

async fn root(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session(&state, &headers).await {
        Some(u) if u.nivel >= Nivel::Supervisor => Redirect::to("/dashboard").into_response(),
        _ => Redirect::to("/login").into_response(),
    }
}

async fn login(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // Already signed in as a supervisor: straight to work.
    if session(&state, &headers)
        .await
        .is_some_and(|u| u.nivel >= Nivel::Supervisor)
    {
        return Redirect::to("/dashboard").into_response();
    }
    pages::render(&state, &headers, Page::Login, None, StatusCode::OK)
}

async fn page(State(state): State<AppState>, headers: HeaderMap, which: Page) -> Response {
    match session(&state, &headers).await {
        None => Redirect::to("/login").into_response(),
        // Level 1 has the Telegram bot and the API; the login page tells them so.
        Some(u) if u.nivel < Nivel::Supervisor => {
            Redirect::to("/login?motivo=supervisores").into_response()
        }
        Some(u) if which == Page::Admin && u.nivel < Nivel::Administrador => pages::render(
            &state,
            &headers,
            Page::Prohibido,
            Some(u.nivel),
            StatusCode::FORBIDDEN,
        ),
        Some(u) => pages::render(&state, &headers, which, Some(u.nivel), StatusCode::OK),
    }
}

#[derive(Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

async fn asset(
    Path(path): Path<String>,
    Query(q): Query<AssetQuery>,
    headers: HeaderMap,
) -> Response {
    // Page templates are rendered by their routes, never served raw.
    let found = (!path.starts_with("pages/"))
        .then(|| assets::get(&path))
        .flatten();
    let Some(a) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", a.version);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        set_etag(&mut r, &etag);
        return r;
    }
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut r = match (&a.gzip, gzip_ok) {
        (Some(z), true) => {
            let mut r = z.clone().into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        _ => a.bytes.clone().into_response(),
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // A URL carrying the current hash never changes: cache it for a year.
    let cache = if q.v.as_deref() == Some(a.version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    set_etag(&mut r, &etag);
    r
}

fn set_etag(r: &mut Response, etag: &str) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
}
