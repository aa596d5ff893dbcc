//! Statistics (contract §9): the HTTP face of `gad_service::stats` and the supervisors' overview.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{AuthUser, Supervisor};
use crate::error::{ApiResult, json_response};
use crate::extract::{ValidPath, ValidQuery};
use crate::state::AppState;
use gad_service::stats::{self, Invalidated, Overview, OverviewQuery, UserStats, UserStatsQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(user_stats))
        .routes(routes!(invalidate_user))
        .routes(routes!(overview))
}

#[utoipa::path(get, path = "/api/v1/stats/user/{user_id}", tag = "stats", params(("user_id" = i64, Path, description = "user id"), UserStatsQuery),
    description = "Level: 1 (own). Statistics of the tasks delegated to the user in the last `days` (self, or any user for level 2+). Cached 300 s; `_cache` tells whether the answer came from the cache.",
    responses((status = 200, description = "statistics", body = UserStats), (status = 403, description = "other user at level 1", body = Value),
              (status = 404, description = "unknown user", body = Value)))]
pub async fn user_stats(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(user_id): ValidPath<i64>,
    ValidQuery(q): ValidQuery<UserStatsQuery>,
) -> ApiResult<Response> {
    let body = stats::user_stats(&state.ctx, &me, user_id, &q).await?;
    Ok(json_response(StatusCode::OK, &body))
}

#[utoipa::path(post, path = "/api/v1/stats/invalidate/user/{user_id}", tag = "stats", params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 1 (own). Drops the cached statistics of a user (self, or any user for level 2+).",
    responses((status = 200, description = "invalidated", body = Invalidated), (status = 403, description = "other user at level 1", body = Value)))]
pub async fn invalidate_user(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<Response> {
    let body = stats::invalidate_user(&state.ctx, &me, user_id).await?;
    Ok(json_response(StatusCode::OK, &json!(body)))
}

#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "stats", params(OverviewQuery),
    description = "Level: 2. Counts of live tasks by estado, tipo and prioridad; efectivos by availability and located; emergencies of the last 24 h and their median dispatch distance. `zona_id`: one zone (tasks whose zona_id or comisaria_id is it, officers whose last position is inside it). A supervisor with assigned comisarías gets theirs (and what lies outside every comisaría) by default; `toda_la_ciudad=true` counts the whole city.",
    responses((status = 200, description = "overview", body = Overview), (status = 422, description = "unknown zone", body = Value)))]
pub async fn overview(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<OverviewQuery>,
) -> ApiResult<Response> {
    let body = stats::overview(&state.ctx, &me, &q).await?;
    Ok(axum::Json(body).into_response())
}
