//! Map view (contract §8): the HTTP face of `gad_service::geo`. `/api/v1/geo/geo/map/view` is
//! kept as an undocumented legacy alias.

use axum::Json;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Supervisor;
use crate::error::ApiResult;
use crate::extract::ValidQuery;
use crate::state::AppState;
use gad_service::geo::{self, MapQuery, MapView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(map_view))
        .route("/api/v1/geo/geo/map/view", axum::routing::get(map_view))
}

#[utoipa::path(get, path = "/api/v1/geo/map/view", tag = "geo", params(MapQuery),
    description = "Level: 2. Located efectivos and open tasks (not finalizada/cancelada) within radius_m of the centre, nearest first; distance_m in whole metres.",
    responses((status = 200, description = "markers", body = MapView)))]
pub async fn map_view(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<MapQuery>,
) -> ApiResult<Json<MapView>> {
    Ok(Json(geo::map_view(&state.ctx, &me, &q).await?))
}
