//! Many location fixes in one request: the HTTP face of `gad_service::fixes` (the route of a
//! device gateway that forwards the fixes of many officers at once).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::{RawBody, parse_json_body};
use crate::state::AppState;
use gad_service::fixes::{self, LoteResultado, LoteUbicaciones};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_fixes))
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
    let out: LoteResultado = fixes::submit(&state.ctx, &me, lote).await?;
    Ok((StatusCode::OK, Json(out)).into_response())
}
