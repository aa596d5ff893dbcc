//! An officer's trail: the stored location history (`efectivo_ubicaciones`, kept
//! `LOCATION_RETENTION_DAYS`) between two instants, oldest first, for the command centre map.
//! Only the day partitions of the window are read, and a window holding more than `max_points`
//! fixes is simplified here (Douglas–Peucker with a point budget,
//! `gad_core::positions::simplify`, after a bucketed pre-sample in SQL for very long windows).

use chrono::{DateTime, Duration, Utc};
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
use gad_store::efectivos::{self as store, EFECTIVO_NOT_FOUND};
use gad_store::positions;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};

/// One stored position of the trail.
pub use gad_store::efectivos::PuntoTrayecto;

/// Most points answered at once (the upper bound of `max_points`, and its default).
pub const MAX_PUNTOS: i64 = 5000;
/// Fewest points `max_points` may ask for (a line needs two).
pub const MIN_PUNTOS: i64 = 2;
/// Default window when `desde` is absent.
const DEFAULT_HOURS: i64 = 4;
/// Longest window one request may ask for.
const MAX_DAYS: i64 = 31;

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

/// The trail of officer `id` (level 2) in the query's window, simplified to at most
/// `max_points` fixes. Unknown or deleted officer → 404. Reading someone else's trail is
/// audited (`efectivo_trail_read`, with the window) before it is answered: where a person was
/// is theirs, and they see in their own export who looked.
pub async fn trail(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
    q: &TrailQuery,
) -> ServiceResult<Trayecto> {
    require(me, Nivel::Supervisor)?;
    let (desde, hasta) = window(q);
    if !store::exists(&ctx.db, id).await? {
        return Err(ServiceError::NotFound(EFECTIVO_NOT_FOUND.into()));
    }
    let max = q
        .max_points
        .unwrap_or(MAX_PUNTOS)
        .clamp(MIN_PUNTOS, MAX_PUNTOS) as usize;
    let (puntos, total_puntos) = positions::trail(&ctx.db, id, desde, hasta).await?;
    if me.efectivo_id != Some(id) {
        let entry = AuditEntry::new("efectivo_trail_read", Some(me.id))
            .resource("efectivo", id)
            .describe("Lectura del trayecto de un efectivo")
            .values(
                None,
                Some(json!({
                    "desde": gad_core::time::rfc3339(desde),
                    "hasta": gad_core::time::rfc3339(hasta),
                    "max_points": q.max_points,
                    "total_puntos": total_puntos,
                })),
            )
            .status(200)
            .context(origin);
        audit::record(&ctx.db, &entry).await?;
    }
    let truncado = puntos.len() > max || (total_puntos as usize) > puntos.len();
    let puntos = if puntos.len() > max {
        simplified(puntos, max)
    } else {
        puntos
    };
    Ok(Trayecto {
        efectivo_id: id,
        desde,
        hasta,
        puntos,
        truncado,
        total_puntos,
    })
}

/// The `max` points of `puntos` that keep the line's shape (first and last always kept).
fn simplified(puntos: Vec<PuntoTrayecto>, max: usize) -> Vec<PuntoTrayecto> {
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
}
