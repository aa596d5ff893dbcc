//! Statistics (contract §9): per-user task statistics (cached 300 s in the shared cache,
//! invalidated by every task write that touches the user) and the supervisors' overview.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
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
    let estados = BTreeMap::from([
        ("COMPLETED".to_string(), r.completadas),
        ("IN_PROGRESS".to_string(), r.en_progreso),
        ("PROGRAMMED".to_string(), r.programadas),
        ("CANCELLED".to_string(), r.canceladas),
        ("PAUSED".to_string(), r.pausadas),
    ]);
    let stats = UserStats {
        user_id,
        period_days: days,
        total: r.total,
        completadas: r.completadas,
        en_progreso: r.en_progreso,
        programadas: r.programadas,
        canceladas: r.canceladas,
        pausadas: r.pausadas,
        promedio_duracion_horas: round2(r.promedio.unwrap_or(0.0)),
        productividad_diaria: round2(r.completadas as f64 / days as f64),
        estados,
        calculated_at: now_rfc3339(),
        cache: None,
    };
    serde_json::to_value(stats).map_err(ApiError::internal)
}

/// A user's task statistics (`GET /stats/user/{id}`); `_cache` says where the answer came from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserStats {
    pub user_id: i64,
    pub period_days: i64,
    pub total: i64,
    pub completadas: i64,
    pub en_progreso: i64,
    pub programadas: i64,
    pub canceladas: i64,
    pub pausadas: i64,
    pub promedio_duracion_horas: f64,
    pub productividad_diaria: f64,
    /// Counts by estado (DB labels: COMPLETED, IN_PROGRESS, PROGRAMMED, CANCELLED, PAUSED).
    pub estados: BTreeMap<String, i64>,
    pub calculated_at: String,
    #[serde(rename = "_cache", skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheInfo>,
}

/// Where a cached answer came from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CacheInfo {
    pub hit: bool,
    /// `redis`, `memory` or `database`.
    pub source: String,
    /// The cache key (on a hit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `POST /stats/invalidate/user/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invalidated {
    pub message: String,
    pub deleted_keys: u64,
    pub pattern: String,
}

fn with_cache_info(mut v: Value, info: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("_cache".into(), info);
    }
    v
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
    if user_id != me.id && !me.is_supervisor() {
        return Err(ApiError::Forbidden(FORBIDDEN_OTHER.into()));
    }
    let days = q.days.unwrap_or(30);
    let key = user_key(user_id, days);
    if q.use_cache.unwrap_or(true)
        && let Some((v, source)) = state.cache.get(&key).await
        && v.is_object()
    {
        let info = CacheInfo {
            hit: true,
            source: source.as_str().into(),
            key: Some(key.clone()),
        };
        let body = with_cache_info(v, json!(info));
        return Ok(json_response(StatusCode::OK, &body));
    }
    let stats = compute_user_stats(&state, user_id, days).await?;
    state.cache.set(&key, &stats, STATS_TTL).await;
    let info = CacheInfo {
        hit: false,
        source: "database".into(),
        key: None,
    };
    let body = with_cache_info(stats, json!(info));
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
    if user_id != me.id && !me.is_supervisor() {
        return Err(ApiError::Forbidden(FORBIDDEN_OTHER.into()));
    }
    let pattern = user_pattern(user_id);
    let deleted = state.cache.delete_pattern(&pattern).await;
    Ok(json_response(
        StatusCode::OK,
        &json!(Invalidated {
            message: format!("Estadísticas del usuario {user_id} invalidadas"),
            deleted_keys: deleted as u64,
            pattern,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "stats",
    description = "Level: 2. Counts of live tasks by estado, tipo and prioridad; efectivos by availability and located; emergencies of the last 24 h and their median dispatch distance.",
    responses((status = 200, description = "overview", body = crate::store::stats::Overview)))]
pub async fn overview(
    State(state): State<AppState>,
    Supervisor(_me): Supervisor,
) -> ApiResult<Response> {
    let body = crate::store::stats::overview(&state.db).await?;
    Ok(axum::Json(body).into_response())
}
