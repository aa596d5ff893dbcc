//! Cache administration (contract §11), level 3 only: the HTTP face of
//! `gad_service::cache_admin`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::Admin;
use crate::error::{ApiResult, json_response};
use crate::extract::ValidPath;
use crate::state::AppState;
use gad_service::cache::CacheStats;
use gad_service::cache_admin;
use gad_service::wire::Mensaje;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(invalidate))
        .routes(routes!(invalidate_pattern))
        .routes(routes!(clear))
}

/// Cache figures.
#[utoipa::path(get, path = "/api/v1/cache/stats", tag = "cache",
    description = "Level: 3. Backend (redis|memory), key count in the GAD namespace, hits, misses, hit rate (%), evictions, prefix.",
    responses((status = 200, description = "figures", body = CacheStats), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value)))]
pub async fn stats(State(state): State<AppState>, Admin(me): Admin) -> ApiResult<Response> {
    let s = cache_admin::stats(&state.ctx, &me).await?;
    Ok(axum::Json(s).into_response())
}

/// Deletes one key.
#[utoipa::path(post, path = "/api/v1/cache/invalidate/{key}", tag = "cache",
    description = "Level: 3. Deletes one cache key (without the namespace prefix); 404 when it did not exist.",
    params(("key" = String, Path, description = "cache key")),
    responses((status = 200, description = "deleted", body = Mensaje), (status = 404, description = "no such key", body = Value),
              (status = 401, description = "not authenticated", body = Value), (status = 403, description = "not level 3", body = Value)))]
pub async fn invalidate(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(key): ValidPath<String>,
) -> ApiResult<Response> {
    let m = cache_admin::invalidate(&state.ctx, &me, &origin, &key).await?;
    Ok(json_response(StatusCode::OK, &json!(m)))
}

/// Deletes every key matching a glob pattern.
#[utoipa::path(post, path = "/api/v1/cache/invalidate-pattern/{pattern}", tag = "cache",
    description = "Level: 3. Deletes the cache keys matching a glob pattern (`*`, `?`) inside the GAD namespace (SCAN, never KEYS).",
    params(("pattern" = String, Path, description = "glob pattern, e.g. stats:*")),
    responses((status = 200, description = "deleted", body = Mensaje), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value)))]
pub async fn invalidate_pattern(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(pattern): ValidPath<String>,
) -> ApiResult<Response> {
    let m = cache_admin::invalidate_pattern(&state.ctx, &me, &origin, &pattern).await?;
    Ok(json_response(StatusCode::OK, &json!(m)))
}

/// Empties the cache.
#[utoipa::path(post, path = "/api/v1/cache/clear", tag = "cache",
    description = "Level: 3. Deletes every cache entry of the GAD namespace.",
    responses((status = 200, description = "cleared", body = Mensaje), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value)))]
pub async fn clear(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
) -> ApiResult<Response> {
    let m = cache_admin::clear(&state.ctx, &me, &origin).await?;
    Ok(json_response(StatusCode::OK, &json!(m)))
}
