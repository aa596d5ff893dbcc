//! Statistics: a user's task statistics (cached `STATS_TTL` in the shared cache) and the one
//! invalidation every write that touches a user's tasks calls (task writes, dispatch, arrival).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gad_core::geo::round2;
use gad_core::time::now_rfc3339;
use gad_core::validate::Validate;
use gad_core::{Actor, FieldError, Nivel};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};

/// What `overview` answers.
pub use gad_store::stats::Overview;

pub const STATS_TTL: Duration = Duration::from_secs(300);
pub const FORBIDDEN_OTHER: &str = "No tienes permiso para ver estadísticas de otro usuario";
pub const USER_NOT_FOUND: &str = "The user with this id does not exist in the system";

/// Cache key of one user's statistics over `days`.
pub fn user_key(user_id: i64, days: i64) -> String {
    format!("stats:user:{user_id}:days:{days}")
}

/// Pattern matching every cached statistics entry of a user.
pub fn user_pattern(user_id: i64) -> String {
    format!("stats:user:{user_id}:*")
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

async fn compute_user_stats(state: &Ctx, user_id: i64, days: i64) -> ServiceResult<Value> {
    let r = gad_store::stats::user_stats(&state.db, user_id, days).await?;
    if !r.user_exists {
        return Err(ServiceError::NotFound(USER_NOT_FOUND.into()));
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
    serde_json::to_value(stats).map_err(ServiceError::internal)
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

/// `GET /stats/user/{id}`: self, or anyone for level 2+; `_cache` says where the answer came from.
pub async fn user_stats(
    ctx: &Ctx,
    me: &Actor,
    user_id: i64,
    q: &UserStatsQuery,
) -> ServiceResult<Value> {
    may_see(me, user_id)?;
    let days = q.days.unwrap_or(30);
    let key = user_key(user_id, days);
    if q.use_cache.unwrap_or(true)
        && let Some((v, source)) = ctx.cache.get(&key).await
        && v.is_object()
    {
        let info = CacheInfo {
            hit: true,
            source: source.as_str().into(),
            key: Some(key.clone()),
        };
        return Ok(with_cache_info(v, json!(info)));
    }
    let stats = compute_user_stats(ctx, user_id, days).await?;
    ctx.cache.set(&key, &stats, STATS_TTL).await;
    let info = CacheInfo {
        hit: false,
        source: "database".into(),
        key: None,
    };
    Ok(with_cache_info(stats, json!(info)))
}

/// `POST /stats/invalidate/user/{id}`: drops a user's cached statistics.
pub async fn invalidate_user(ctx: &Ctx, me: &Actor, user_id: i64) -> ServiceResult<Invalidated> {
    may_see(me, user_id)?;
    let pattern = user_pattern(user_id);
    let deleted = ctx.cache.delete_pattern(&pattern).await;
    Ok(Invalidated {
        message: format!("Estadísticas del usuario {user_id} invalidadas"),
        deleted_keys: deleted as u64,
        pattern,
    })
}

/// `GET /stats/overview` filters: the same jurisdiction switches as the task list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// Only this zone (a comisaría or any zone): tasks whose `zona_id` or `comisaria_id` is it,
    /// officers whose last position is inside it. Unknown zone → 422.
    pub zona_id: Option<i64>,
    /// A supervisor with assigned comisarías counts theirs (and what lies outside every
    /// comisaría) by default; true counts the whole city.
    pub toda_la_ciudad: Option<bool>,
}

impl Validate for OverviewQuery {}

/// The supervisors' overview (level 2+): live tasks by estado, tipo and prioridad; efectivos by
/// availability and located; emergencies of the last 24 h and their median dispatch distance;
/// of one zone, of the supervisor's comisarías by default, or of the whole city.
pub async fn overview(ctx: &Ctx, me: &Actor, q: &OverviewQuery) -> ServiceResult<Overview> {
    require(me, Nivel::Supervisor)?;
    if let Some(z) = q.zona_id {
        crate::jurisdiccion::known_zone(ctx, "zona_id", z).await?;
    }
    let alcance = gad_store::stats::Alcance {
        zona_id: q.zona_id,
        comisarias: crate::jurisdiccion::default_comisarias(ctx, me, q.toda_la_ciudad).await?,
    };
    Ok(gad_store::stats::overview_in(&ctx.db, &alcance).await?)
}

fn may_see(me: &Actor, user_id: i64) -> ServiceResult<()> {
    if user_id != me.id && !me.is_supervisor() {
        return Err(ServiceError::Forbidden(FORBIDDEN_OTHER.into()));
    }
    Ok(())
}

/// Drops the cached stats of every user a write touched (contract §9): called after the commit
/// of every task write, dispatch and arrival, so no answer is stale after a change.
pub async fn invalidate(ctx: &Ctx, users: impl IntoIterator<Item = i64>) {
    let all: BTreeSet<i64> = users.into_iter().collect();
    for u in all {
        ctx.cache.delete_pattern(&user_pattern(u)).await;
    }
}
