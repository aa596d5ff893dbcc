//! Statistics (contract §9): per-user task statistics (cached 300 s in the shared cache,
//! invalidated by every task write that touches the user) and the supervisors' overview.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{AuthUser, Supervisor};
use crate::error::{ApiError, ApiResult, FieldError, json_response};
use crate::extract::{ValidPath, ValidQuery, Validate};
use crate::routes::users::USER_NOT_FOUND;
use crate::state::AppState;
use crate::time::now_rfc3339;

pub const STATS_TTL: Duration = Duration::from_secs(300);
pub const FORBIDDEN_OTHER: &str = "No tienes permiso para ver estadísticas de otro usuario";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(user_stats))
        .routes(routes!(invalidate_user))
        .routes(routes!(overview))
}

/// Cache key of one user's statistics over `days`.
pub fn user_key(user_id: i64, days: i64) -> String {
    format!("stats:user:{user_id}:days:{days}")
}

/// Pattern matching every cached statistics entry of a user.
pub fn user_pattern(user_id: i64) -> String {
    format!("stats:user:{user_id}:*")
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserStatsQuery {
    /// 1–365, default 30.
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<i64>,
    /// Default true.
    pub use_cache: Option<bool>,
}

impl Validate for UserStatsQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(d) = self.days
            && !(1..=365).contains(&d)
        {
            errors.push(FieldError::query(
                "days",
                "value_error",
                "Input should be between 1 and 365",
                json!(d),
            ));
        }
    }
}

async fn compute_user_stats(state: &AppState, user_id: i64, days: i64) -> ApiResult<Value> {
    let r = crate::store::stats::user_stats(&state.db, user_id, days).await?;
    if !r.user_exists {
        return Err(ApiError::NotFound(USER_NOT_FOUND.into()));
    }
    Ok(json!({
        "user_id": user_id,
        "period_days": days,
        "total": r.total,
        "completadas": r.completadas,
        "en_progreso": r.en_progreso,
        "programadas": r.programadas,
        "canceladas": r.canceladas,
        "pausadas": r.pausadas,
        "promedio_duracion_horas": round2(r.promedio.unwrap_or(0.0)),
        "productividad_diaria": round2(r.completadas as f64 / days as f64),
        "estados": {
            "COMPLETED": r.completadas,
            "IN_PROGRESS": r.en_progreso,
            "PROGRAMMED": r.programadas,
            "CANCELLED": r.canceladas,
            "PAUSED": r.pausadas,
        },
        "calculated_at": now_rfc3339(),
    }))
}

fn with_cache_info(mut v: Value, info: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("_cache".into(), info);
    }
    v
}

#[utoipa::path(get, path = "/api/v1/stats/user/{user_id}", tag = "stats", params(("user_id" = i64, Path, description = "user id"), UserStatsQuery),
    description = "Level: 1 (own). Statistics of the tasks delegated to the user in the last `days` (self, or any user for level 2+). Cached 300 s; `_cache` tells whether the answer came from the cache.",
    responses((status = 200, description = "statistics", body = Value), (status = 403, description = "other user at level 1", body = Value),
              (status = 404, description = "unknown user", body = Value)))]
pub async fn user_stats(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(user_id): ValidPath<i64>,
    ValidQuery(q): ValidQuery<UserStatsQuery>,
) -> ApiResult<Response> {
    if user_id != me.id && !me.is_supervisor() {
        return Err(ApiError::Forbidden(FORBIDDEN_OTHER.into()));
    }
    let days = q.days.unwrap_or(30);
    let key = user_key(user_id, days);
    if q.use_cache.unwrap_or(true)
        && let Some((v, source)) = state.cache.get(&key).await
        && v.is_object()
    {
        let body = with_cache_info(
            v,
            json!({"hit": true, "source": source.as_str(), "key": key}),
        );
        return Ok(json_response(StatusCode::OK, &body));
    }
    let stats = compute_user_stats(&state, user_id, days).await?;
    state.cache.set(&key, &stats, STATS_TTL).await;
    let body = with_cache_info(stats, json!({"hit": false, "source": "database"}));
    Ok(json_response(StatusCode::OK, &body))
}

#[utoipa::path(post, path = "/api/v1/stats/invalidate/user/{user_id}", tag = "stats", params(("user_id" = i64, Path, description = "user id")),
    description = "Level: 1 (own). Drops the cached statistics of a user (self, or any user for level 2+).",
    responses((status = 200, description = "invalidated", body = Value), (status = 403, description = "other user at level 1", body = Value)))]
pub async fn invalidate_user(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(user_id): ValidPath<i64>,
) -> ApiResult<Response> {
    if user_id != me.id && !me.is_supervisor() {
        return Err(ApiError::Forbidden(FORBIDDEN_OTHER.into()));
    }
    let pattern = user_pattern(user_id);
    let deleted = state.cache.delete_pattern(&pattern).await;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "message": format!("Estadísticas del usuario {user_id} invalidadas"),
            "deleted_keys": deleted,
            "pattern": pattern,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "stats",
    description = "Level: 2. Counts of live tasks by estado, tipo and prioridad; efectivos by availability and located; emergencies of the last 24 h and their median dispatch distance.",
    responses((status = 200, description = "overview", body = Value)))]
pub async fn overview(
    State(state): State<AppState>,
    Supervisor(_me): Supervisor,
) -> ApiResult<Response> {
    let body = crate::store::stats::overview(&state.db).await?;
    Ok(json_response(StatusCode::OK, &body))
}
