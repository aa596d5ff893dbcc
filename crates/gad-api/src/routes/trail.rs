//! An officer's trail (issue 16): the stored location history (`efectivo_ubicaciones`, kept
//! `LOCATION_RETENTION_DAYS`) between two instants, oldest first, for the command centre map.
//! Issue 20: only the day partitions of the window are read, and a window holding more than
//! `max_points` fixes is simplified server-side (Douglas–Peucker with a point budget,
//! `gad_core::positions::simplify`, after a bucketed pre-sample in SQL for very long windows).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Supervisor;
use crate::error::{ApiError, ApiResult, FieldError, json_response};
use crate::extract::{ValidPath, ValidQuery, Validate, rules};
use crate::state::AppState;
pub use gad_store::efectivos::PuntoTrayecto;
use gad_store::efectivos::{self as store, EFECTIVO_NOT_FOUND};
use gad_store::positions;

/// Most points answered at once (the upper bound of `max_points`, and its default).
pub const MAX_PUNTOS: i64 = 5000;
/// Fewest points `max_points` may ask for (a line needs two).
pub const MIN_PUNTOS: i64 = 2;
/// Default window when `desde` is absent.
const DEFAULT_HOURS: i64 = 4;
/// Longest window one request may ask for.
const MAX_DAYS: i64 = 31;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trail))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrailQuery {
    /// From this instant (inclusive), RFC 3339; default 4 hours before `hasta`.
    pub desde: Option<DateTime<Utc>>,
    /// Until this instant (inclusive), RFC 3339; default now.
    pub hasta: Option<DateTime<Utc>>,
    /// Most points answered, 2–5000 (default 5000). A window holding more fixes is simplified
    /// (Douglas–Peucker keeping the shape; first and last fix always kept).
    #[param(minimum = 2, maximum = 5000)]
    pub max_points: Option<i64>,
}

impl Validate for TrailQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::plausible_time(errors, "query", "desde", self.desde);
        rules::plausible_time(errors, "query", "hasta", self.hasta);
        if let Some(m) = self.max_points
            && !(MIN_PUNTOS..=MAX_PUNTOS).contains(&m)
        {
            errors.push(FieldError::query(
                "max_points",
                "value_error",
                "Input should be between 2 and 5000",
                Value::from(m),
            ));
        }
        let (desde, hasta) = window(self);
        if desde > hasta {
            errors.push(FieldError::query(
                "hasta",
                "value_error",
                "hasta must not be earlier than desde",
                Value::String(gad_core::time::rfc3339(hasta)),
            ));
        } else if hasta - desde > Duration::days(MAX_DAYS) {
            errors.push(FieldError::query(
                "desde",
                "value_error",
                "the window may span at most 31 days",
                Value::String(gad_core::time::rfc3339(desde)),
            ));
        }
    }
}

fn window(q: &TrailQuery) -> (DateTime<Utc>, DateTime<Utc>) {
    let hasta = q.hasta.unwrap_or_else(Utc::now);
    let desde = q
        .desde
        .unwrap_or_else(|| hasta - Duration::hours(DEFAULT_HOURS));
    (desde, hasta)
}

/// The trail of one officer in a window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Trayecto {
    pub efectivo_id: i64,
    #[serde(serialize_with = "gad_core::time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub desde: DateTime<Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub hasta: DateTime<Utc>,
    /// Oldest first.
    pub puntos: Vec<PuntoTrayecto>,
    /// True when the window held more than `max_points` fixes and `puntos` is a simplification
    /// of the whole window (not only its newest part).
    pub truncado: bool,
    /// Fixes stored in the window.
    pub total_puntos: i64,
}

#[utoipa::path(get, path = "/api/v1/efectivos/{id}/ubicaciones", tag = "efectivos",
    params(("id" = i64, Path, description = "efectivo id"), TrailQuery),
    description = "Level: 2. The officer's stored positions between desde and hasta (default the last 4 hours; at most 31 days), oldest first. Reads only the day partitions of the window. More than max_points fixes (2–5000, default 5000) → simplified server-side to at most max_points (shape kept, first and last fix kept; truncado true, total_puntos tells how many were stored). Unknown or deleted efectivo → 404; desde after hasta, a window over 31 days or max_points out of range → 422.",
    responses((status = 200, description = "trail", body = Trayecto),
              (status = 401, description = "not authenticated", body = Value),
              (status = 403, description = "level below 2", body = Value),
              (status = 404, description = "not found", body = Value),
              (status = 422, description = "validation", body = Value),
              (status = 429, description = "rate limited", body = Value)))]
pub async fn trail(
    State(state): State<AppState>,
    _sup: Supervisor,
    ValidPath(id): ValidPath<i64>,
    ValidQuery(q): ValidQuery<TrailQuery>,
) -> ApiResult<Response> {
    let (desde, hasta) = window(&q);
    if !store::exists(&state.db, id).await? {
        return Err(ApiError::NotFound(EFECTIVO_NOT_FOUND.into()));
    }
    let max = q
        .max_points
        .unwrap_or(MAX_PUNTOS)
        .clamp(MIN_PUNTOS, MAX_PUNTOS) as usize;
    let (puntos, total_puntos) = positions::trail(&state.db, id, desde, hasta).await?;
    let truncado = puntos.len() > max || (total_puntos as usize) > puntos.len();
    let puntos = if puntos.len() > max {
        let latlng: Vec<(f64, f64)> = puntos.iter().map(|p| (p.lat, p.lng)).collect();
        let keep = gad_core::positions::simplify(&latlng, max);
        let mut it = keep.into_iter().peekable();
        puntos
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| {
                (it.peek() == Some(&i)).then(|| {
                    it.next();
                    p
                })
            })
            .collect()
    } else {
        puntos
    };
    let body = Trayecto {
        efectivo_id: id,
        desde,
        hasta,
        puntos,
        truncado,
        total_puntos,
    };
    let value = serde_json::to_value(&body).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, &value))
}
