//! Many location fixes in one request (issue 20): the route of a device gateway (a tracker
//! server, an MQTT bridge, a phone app that buffered fixes while out of coverage) that forwards
//! the fixes of many officers at once. Every fix goes through the same group-commit writer as
//! `PUT /efectivos/{id}/ubicacion` and gets the same rules, ordering and events; the answer
//! comes after every fix is committed and says, fix by fix, what became of it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{RawBody, Validate, parse_json_body};
use crate::state::AppState;
use gad_service::efectivos::{UbicacionBody, after_applied_fix, may_act_on};
use gad_store::positions::Written;

/// Most fixes one request may carry.
pub const MAX_FIXES: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_fixes))
}

/// One officer's fix inside a batch: the officer and the fields of `UbicacionBody`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FixDeEfectivo {
    pub efectivo_id: i64,
    #[serde(flatten)]
    pub ubicacion: UbicacionBody,
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

#[utoipa::path(post, path = "/api/v1/ubicaciones", tag = "efectivos", request_body = LoteUbicaciones,
    description = "Level: 1 (own fixes only) / 2+ (any officer). Up to 500 location fixes of one or many officers in one request (a device gateway, or a phone sending what it buffered). Each fix follows the rules of PUT /efectivos/{id}/ubicacion and goes through the same group-commit writer; the answer comes after every fix is committed. An invalid fix refuses the whole request (422, loc [\"body\",\"ubicaciones\",i,field]); an unknown officer is answered per fix (no_encontrado).",
    responses((status = 200, description = "every fix committed; what became of each", body = LoteResultado),
              (status = 403, description = "a level-1 user sent another officer's fix", body = Value),
              (status = 422, description = "validation (1–500 fixes; lat, lng, accuracy_m, heading, speed, recorded_at of each)", body = Value)))]
pub async fn post_fixes(
    State(state): State<AppState>,
    me: AuthUser,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let lote: LoteUbicaciones = parse_json_body(&body)?;
    if lote
        .ubicaciones
        .iter()
        .any(|f| !may_act_on(&me, f.efectivo_id))
    {
        return Err(ApiError::InsufficientLevel);
    }
    let mut fixes = Vec::with_capacity(lote.ubicaciones.len());
    for (i, f) in lote.ubicaciones.into_iter().enumerate() {
        let fix = f
            .ubicacion
            .into_fix(f.efectivo_id, &state.ctx)
            .map_err(|e| ApiError::validation(at_index(*e, i)))?;
        fixes.push(fix);
    }
    let answers = state.ingest.submit_many(fixes.clone()).await;
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
                after_applied_fix(&state.ctx, *row, fix).await?;
                out.aplicadas += 1;
                ResultadoFix::Aplicada
            }
        };
        out.resultados.push(FixResultado {
            efectivo_id: fix.efectivo_id,
            resultado,
        });
    }
    Ok((StatusCode::OK, Json(out)).into_response())
}
