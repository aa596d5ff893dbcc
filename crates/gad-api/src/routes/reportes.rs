//! Reports (`/api/v1/reportes/*`): the HTTP face of `gad_service::reportes`. The CSV's
//! streamed body and its download headers are HTTP's part.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::Supervisor;
use crate::error::ApiResult;
use crate::extract::ValidQuery;
use crate::state::AppState;
use gad_service::reportes::{self, Formato, ReporteRespuesta, RespuestaQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(respuesta))
}

#[utoipa::path(get, path = "/api/v1/reportes/respuesta", tag = "reportes", params(RespuestaQuery),
    description = "Level: 2. Response times: one row per emergency created in [desde, hasta) (desde/hasta as YYYY-MM-DD in ZONA_HORARIA — hasta inclusive of that day — or RFC 3339; at most 366 days; filters zona_id, tipo_incidente, prioridad) with the times of its recorded events (recibida, first despachada, first aceptada, first llegada en_escena, cerrada; null when it did not happen) and the seconds between them, oldest first; `resumen`: count, median and p90 of received→accepted and received→arrived per priority, type, zone, hour of day and day of week (ZONA_HORARIA), and per priority the share arriving within SLA_LLEGADA_MINUTOS. `formato=csv`: streamed `text/csv` (UTF-8 with BOM, `;`, Spanish headers, times in ZONA_HORARIA, formula-safe) ending in `#` footer lines (generation time, filters, audit chain head, sha256 of the header and data lines) — check it with `gad reportes verificar`. Audited (report_generated).",
    responses((status = 200, description = "the report (application/json, or text/csv with formato=csv)", content((ReporteRespuesta = "application/json"), (String = "text/csv"))),
              (status = 401, description = "not authenticated", body = crate::openapi::ErrorBody),
              (status = 403, description = "not level 2", body = crate::openapi::ErrorBody),
              (status = 422, description = "bad range or filter", body = crate::openapi::ErrorBody)))]
pub async fn respuesta(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    Origin(origin): Origin,
    ValidQuery(q): ValidQuery<RespuestaQuery>,
) -> ApiResult<Response> {
    match q.formato() {
        Formato::Json => {
            Ok(Json(reportes::respuesta(&state.ctx, &me, &origin, &q).await?).into_response())
        }
        Formato::Csv => {
            let stream = reportes::respuesta_csv(&state.ctx, &me, &origin, &q).await?;
            let mut resp = Response::new(Body::from_stream(stream));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"reporte-respuesta.csv\""),
            );
            Ok(resp)
        }
    }
}
