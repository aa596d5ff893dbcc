//! An officer's trail (issue 16): the stored location history (`efectivo_ubicaciones`, kept
//! `LOCATION_RETENTION_DAYS`) between two instants, oldest first, for the command centre map.

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
pub use crate::store::efectivos::PuntoTrayecto;
use crate::store::efectivos::{self as store, EFECTIVO_NOT_FOUND};

/// Most points answered at once; a longer trail is thinned to the newest ones.
pub const MAX_PUNTOS: i64 = 5000;
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
}

impl Validate for TrailQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::plausible_time(errors, "query", "desde", self.desde);
        rules::plausible_time(errors, "query", "hasta", self.hasta);
        let (desde, hasta) = window(self);
        if desde > hasta {
            errors.push(FieldError::query(
                "hasta",
                "value_error",
                "hasta must not be earlier than desde",
                Value::String(crate::time::rfc3339(hasta)),
            ));
        } else if hasta - desde > Duration::days(MAX_DAYS) {
            errors.push(FieldError::query(
                "desde",
                "value_error",
                "the window may span at most 31 days",
                Value::String(crate::time::rfc3339(desde)),
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
    #[serde(serialize_with = "crate::time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub desde: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::ser")]
    #[schema(value_type = String, format = DateTime)]
    pub hasta: DateTime<Utc>,
    /// Oldest first.
    pub puntos: Vec<PuntoTrayecto>,
    /// True when the window held more than 5000 points and only the newest are answered.
    pub truncado: bool,
}

#[utoipa::path(get, path = "/api/v1/efectivos/{id}/ubicaciones", tag = "efectivos",
    params(("id" = i64, Path, description = "efectivo id"), TrailQuery),
    description = "Level: 2. The officer's stored positions between desde and hasta (default the last 4 hours; at most 31 days), oldest first; at most 5000 points (the newest; truncado tells). Unknown or deleted efectivo → 404; desde after hasta → 422.",
    responses((status = 200, description = "trail", body = Trayecto), (status = 404, description = "not found", body = Value),
              (status = 422, description = "validation", body = Value)))]
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
    // Newest MAX+1 first, then reversed: one extra row tells whether the window was truncated.
    let mut puntos = store::trail(&state.db, id, desde, hasta, MAX_PUNTOS + 1).await?;
    let truncado = puntos.len() as i64 > MAX_PUNTOS;
    puntos.truncate(MAX_PUNTOS as usize);
    puntos.reverse();
    let body = Trayecto {
        efectivo_id: id,
        desde,
        hasta,
        puntos,
        truncado,
    };
    let value = serde_json::to_value(&body).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, &value))
}
