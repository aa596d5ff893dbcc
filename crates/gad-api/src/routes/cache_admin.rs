//! Cache administration (contract §11), level 3 only. Works on Redis when it is up and on the
//! in-process cache otherwise; Redis trouble is never a 5xx.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, AuditEntry, Origin, RequestContext};
use crate::auth::{Admin, AuthUser};
use crate::error::{ApiError, ApiResult, json_response};
use crate::extract::ValidPath;
use crate::state::AppState;

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
    responses((status = 200, description = "figures", body = gad_service::cache::CacheStats), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value)))]
pub async fn stats(State(state): State<AppState>, Admin(_admin): Admin) -> ApiResult<Response> {
    let s = state.cache.stats().await;
    Ok(axum::Json(s).into_response())
}

/// Deletes one key.
#[utoipa::path(post, path = "/api/v1/cache/invalidate/{key}", tag = "cache",
    description = "Level: 3. Deletes one cache key (without the namespace prefix); 404 when it did not exist.",
    params(("key" = String, Path, description = "cache key")),
    responses((status = 200, description = "deleted", body = gad_service::wire::Mensaje), (status = 404, description = "no such key", body = Value),
              (status = 401, description = "not authenticated", body = Value), (status = 403, description = "not level 3", body = Value)))]
pub async fn invalidate(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Origin(ctx): Origin,
    ValidPath(key): ValidPath<String>,
) -> ApiResult<Response> {
    if state.cache.delete(&key).await {
        audited(&state, &admin, &ctx, "cache_invalidated", &key).await?;
        Ok(json_response(
            StatusCode::OK,
            &json!(gad_service::wire::Mensaje {
                message: format!("Key '{key}' eliminada del caché"),
                deleted_count: None
            }),
        ))
    } else {
        Err(ApiError::NotFound(format!(
            "Key '{key}' no existía en el caché"
        )))
    }
}

/// Deletes every key matching a glob pattern.
#[utoipa::path(post, path = "/api/v1/cache/invalidate-pattern/{pattern}", tag = "cache",
    description = "Level: 3. Deletes the cache keys matching a glob pattern (`*`, `?`) inside the GAD namespace (SCAN, never KEYS).",
    params(("pattern" = String, Path, description = "glob pattern, e.g. stats:*")),
    responses((status = 200, description = "deleted", body = gad_service::wire::Mensaje), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value)))]
pub async fn invalidate_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Origin(ctx): Origin,
    ValidPath(pattern): ValidPath<String>,
) -> ApiResult<Response> {
    let n = state.cache.delete_pattern(&pattern).await;
    audited(&state, &admin, &ctx, "cache_invalidated", &pattern).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!(gad_service::wire::Mensaje {
            message: format!("Patrón '{pattern}' invalidado"),
            deleted_count: Some(n)
        }),
    ))
}

/// Empties the cache.
#[utoipa::path(post, path = "/api/v1/cache/clear", tag = "cache",
    description = "Level: 3. Deletes every cache entry of the GAD namespace.",
    responses((status = 200, description = "cleared", body = gad_service::wire::Mensaje), (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "not level 3", body = Value)))]
pub async fn clear(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Origin(ctx): Origin,
) -> ApiResult<Response> {
    state.cache.clear().await;
    audited(&state, &admin, &ctx, "cache_cleared", "*").await?;
    Ok(json_response(
        StatusCode::OK,
        &json!(gad_service::wire::Mensaje {
            message: "Caché limpiado exitosamente".into(),
            deleted_count: None
        }),
    ))
}

/// One audit row per cache administration (issue 18). The cache is not in the database, so
/// the row is written right after the action.
async fn audited(
    state: &AppState,
    admin: &AuthUser,
    ctx: &RequestContext,
    event: &str,
    target: &str,
) -> ApiResult<()> {
    audit::record(
        &state.db,
        &AuditEntry::new(event, Some(admin.id))
            .resource("cache", target)
            .status(200)
            .context(ctx),
    )
    .await?;
    Ok(())
}
