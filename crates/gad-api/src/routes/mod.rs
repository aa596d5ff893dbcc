//! One module per resource; each exposes `router()` returning its routes with their OpenAPI
//! operations, so routes and documentation come from one source.

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod cache_admin;
pub mod checkins;
pub mod dispatch;
pub mod docs;
pub mod efectivos;
pub mod emergency;
pub mod evidencia;
pub mod fixes;
pub mod gdpr;
pub mod geo;
pub mod geo_search;
pub mod health;
pub mod incidents;
pub mod mensajes;
pub mod reportes;
pub mod stats;
pub mod tasks;
pub mod trail;
pub mod turnos;
pub mod user_totp;
pub mod user_unlock;
pub mod users;
pub mod zonas;

/// A 201 answer with `body` and its `Location` (left out when the path is not a header value).
pub(crate) fn created(
    body: &impl serde::Serialize,
    location: String,
) -> crate::error::ApiResult<axum::response::Response> {
    let body = serde_json::to_value(body).map_err(crate::error::ApiError::internal)?;
    let mut resp = crate::error::json_response(axum::http::StatusCode::CREATED, &body);
    if let Ok(v) = axum::http::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}
