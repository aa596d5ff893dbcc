//! Many location fixes in one request: what a device gateway (a tracker server, an MQTT bridge, a
//! phone app that buffered fixes while out of coverage) sends for many officers at once. Every fix
//! goes through the same group-commit writer as a single report
//! ([`efectivos::set_location`](crate::efectivos::set_location)) and gets the same rules,
//! ordering and events; the answer comes after every fix is committed and says, fix by fix,
//! what became of it.

use chrono::{DateTime, Utc};
use gad_core::geo::{Lat, Lng};
use gad_core::validate::Validate;
use gad_core::{Actor, FieldError};
use gad_store::positions::Written;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::efectivos::{UbicacionBody, after_applied_fix, may_act_on};
use crate::error::{ServiceError, ServiceResult};

/// Most fixes one request may carry.
pub const MAX_FIXES: usize = 500;

/// One officer's fix inside a batch: the officer and the fields of `UbicacionBody`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(from = "FixWire")]
pub struct FixDeEfectivo {
    pub efectivo_id: i64,
    // Read through `FixWire`; `flatten` here shapes the schema (UbicacionBody's fields inline).
    #[serde(flatten)]
    pub ubicacion: UbicacionBody,
}

/// How a fix is read: the same fields side by side. Through `#[serde(flatten)]` serde buffers the
/// inner struct and reads it without the path, so a value its types refuse (a latitude out of
/// range) would be reported at the fix, not at `["body", "ubicaciones", i, "lat"]`.
#[derive(Deserialize)]
struct FixWire {
    efectivo_id: i64,
    lat: Lat,
    lng: Lng,
    accuracy_m: Option<f64>,
    heading: Option<f64>,
    speed: Option<f64>,
    recorded_at: Option<DateTime<Utc>>,
}

impl From<FixWire> for FixDeEfectivo {
    fn from(w: FixWire) -> Self {
        FixDeEfectivo {
            efectivo_id: w.efectivo_id,
            ubicacion: UbicacionBody {
                lat: w.lat,
                lng: w.lng,
                accuracy_m: w.accuracy_m,
                heading: w.heading,
                speed: w.speed,
                recorded_at: w.recorded_at,
            },
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoteUbicaciones {
    /// 1–500 fixes, of one officer or many, in any order (the newest `recorded_at` of each
    /// officer becomes its position).
    #[schema(min_items = 1, max_items = 500)]
    pub ubicaciones: Vec<FixDeEfectivo>,
}

impl Validate for LoteUbicaciones {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let n = self.ubicaciones.len();
        if !(1..=MAX_FIXES).contains(&n) {
            errors.push(FieldError::body(
                "ubicaciones",
                if n == 0 { "too_short" } else { "too_long" },
                format!("Between 1 and {MAX_FIXES} fixes per request"),
                Value::from(n),
            ));
            return;
        }
        for (i, f) in self.ubicaciones.iter().enumerate() {
            let mut own = Vec::new();
            f.ubicacion.validate(&mut own);
            errors.extend(own.into_iter().map(|e| at_index(e, i)));
        }
    }
}

/// `["body", field]` of a single fix → `["body", "ubicaciones", i, field]`.
fn at_index(mut e: FieldError, i: usize) -> FieldError {
    let rest = e.loc.split_off(1.min(e.loc.len()));
    e.loc = vec![json!("body"), json!("ubicaciones"), json!(i)];
    e.loc.extend(rest);
    e
}

/// What became of one fix.
#[derive(Debug, Serialize, utoipa::ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResultadoFix {
    /// Committed and now the officer's current position.
    Aplicada,
    /// Committed to the history only: the officer already had a newer fix.
    SoloHistorial,
    /// No live officer with that id: nothing stored.
    NoEncontrado,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FixResultado {
    pub efectivo_id: i64,
    pub resultado: ResultadoFix,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoteResultado {
    pub aplicadas: usize,
    pub solo_historial: usize,
    pub no_encontradas: usize,
    /// One per fix sent, in the order sent.
    pub resultados: Vec<FixResultado>,
}

/// Stores every fix of the batch. A level-1 user may send only its own fixes (403 otherwise,
/// before anything is stored); a fix outside the retention window refuses the whole batch
/// (422 naming its index); an unknown officer is answered per fix.
pub async fn submit(ctx: &Ctx, me: &Actor, lote: LoteUbicaciones) -> ServiceResult<LoteResultado> {
    if lote
        .ubicaciones
        .iter()
        .any(|f| !may_act_on(me, f.efectivo_id))
    {
        return Err(ServiceError::InsufficientLevel);
    }
    let mut fixes = Vec::with_capacity(lote.ubicaciones.len());
    for (i, f) in lote.ubicaciones.into_iter().enumerate() {
        let fix = f
            .ubicacion
            .into_fix(f.efectivo_id, ctx)
            .map_err(|e| ServiceError::validation(at_index(*e, i)))?;
        fixes.push(fix);
    }
    let answers = ctx.ingest.submit_many(fixes.clone()).await;
    let mut out = LoteResultado {
        aplicadas: 0,
        solo_historial: 0,
        no_encontradas: 0,
        resultados: Vec::with_capacity(fixes.len()),
    };
    for (fix, answer) in fixes.iter().zip(answers) {
        let resultado = match answer? {
            Written::NotFound => {
                out.no_encontradas += 1;
                ResultadoFix::NoEncontrado
            }
            Written::Stored { applied: false, .. } => {
                out.solo_historial += 1;
                ResultadoFix::SoloHistorial
            }
            Written::Stored { row, applied: true } => {
                after_applied_fix(ctx, *row, fix).await?;
                out.aplicadas += 1;
                ResultadoFix::Aplicada
            }
        };
        out.resultados.push(FixResultado {
            efectivo_id: fix.efectivo_id,
            resultado,
        });
    }
    Ok(out)
}
