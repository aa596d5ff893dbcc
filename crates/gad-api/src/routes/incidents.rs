//! The incident-type catalogue (`/api/v1/tipos-incidente`): the HTTP face of
//! `gad_service::tipos_incidente`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::Origin;
use crate::auth::{Admin, AuthUser};
use crate::error::ApiResult;
use crate::extract::{ValidJson, ValidPath};
use crate::state::AppState;
use gad_service::tipos_incidente::{self, TipoBody, TipoCambio, TipoIncidente, TipoNuevo};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_types, create_type))
        .routes(routes!(get_type, update_type, delete_type))
}

#[utoipa::path(get, path = "/api/v1/tipos-incidente", tag = "incidents",
    description = "Level: 1. The incident-type catalogue, by code: default priority and response plan (officers required, preferred specialities, check-in interval).",
    responses((status = 200, description = "types", body = [TipoIncidente])))]
pub async fn list_types(State(state): State<AppState>, me: AuthUser) -> ApiResult<Response> {
    let rows = tipos_incidente::list(&state.ctx, &me).await?;
    Ok(axum::Json(rows).into_response())
}

#[utoipa::path(post, path = "/api/v1/tipos-incidente", tag = "incidents", request_body = TipoNuevo,
    description = "Level: 3. Adds an incident type (201 + Location); a taken codigo → 409; audited.",
    responses((status = 201, description = "created", body = TipoIncidente),
              (status = 409, description = "codigo taken", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn create_type(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidJson(b): ValidJson<TipoBody>,
) -> ApiResult<Response> {
    let t = tipos_incidente::create(&state.ctx, &me, &origin, &b).await?;
    super::created(&t, format!("/api/v1/tipos-incidente/{}", t.codigo))
}

#[utoipa::path(get, path = "/api/v1/tipos-incidente/{codigo}", tag = "incidents",
    params(("codigo" = String, Path, description = "type code")),
    description = "Level: 1. One incident type; unknown → 404.",
    responses((status = 200, description = "type", body = TipoIncidente), (status = 404, description = "not found", body = serde_json::Value)))]
pub async fn get_type(
    State(state): State<AppState>,
    me: AuthUser,
    ValidPath(codigo): ValidPath<String>,
) -> ApiResult<Response> {
    let t = tipos_incidente::get(&state.ctx, &me, &codigo).await?;
    Ok(axum::Json(t).into_response())
}

#[utoipa::path(put, path = "/api/v1/tipos-incidente/{codigo}", tag = "incidents", request_body = TipoCambio,
    params(("codigo" = String, Path, description = "type code")),
    description = "Level: 3. Replaces an incident type's fields (the code stays: a `codigo` in the body other than the path's is 409); unknown → 404; audited. Incidents already raised keep their officers; new ones follow the new plan.",
    responses((status = 200, description = "type", body = TipoIncidente), (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "a different codigo in the body", body = serde_json::Value),
              (status = 422, description = "validation", body = serde_json::Value)))]
pub async fn update_type(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(codigo): ValidPath<String>,
    ValidJson(b): ValidJson<TipoBody>,
) -> ApiResult<Response> {
    let t = tipos_incidente::update(&state.ctx, &me, &origin, &codigo, &b).await?;
    Ok(axum::Json(t).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tipos-incidente/{codigo}", tag = "incidents",
    params(("codigo" = String, Path, description = "type code")),
    description = "Level: 3. Deletes an incident type (204); unknown → 404; a type some incident uses → 409; audited.",
    responses((status = 204, description = "deleted"), (status = 404, description = "not found", body = serde_json::Value),
              (status = 409, description = "in use", body = serde_json::Value)))]
pub async fn delete_type(
    State(state): State<AppState>,
    Admin(me): Admin,
    Origin(origin): Origin,
    ValidPath(codigo): ValidPath<String>,
) -> ApiResult<Response> {
    tipos_incidente::delete(&state.ctx, &me, &origin, &codigo).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
