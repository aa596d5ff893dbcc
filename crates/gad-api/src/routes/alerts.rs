//! Monitoring alerts into the platform: the HTTP face of `gad_service::alerts` (Alertmanager's
//! webhook receiver, deploy/alertmanager.yml).
//!
//! Alertmanager is a machine, not a user: it authenticates with a shared bearer secret
//! (`ALERTMANAGER_WEBHOOK_TOKEN`). Without the variable the route refuses everything with 401.

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::state::AppState;
use gad_service::ServiceError;
use gad_service::alerts::{self, AlertmanagerWebhook, Reenviadas};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(alertmanager_webhook))
}

/// Proof that the request carries the configured webhook secret.
pub struct AlertmanagerAuth;

impl FromRequestParts<AppState> for AlertmanagerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::from(ServiceError::NotAuthenticated))?;
        alerts::check_token(&state.ctx, presented)?;
        Ok(AlertmanagerAuth)
    }
}

/// Receives an Alertmanager webhook and forwards each alert to the supervisors.
#[utoipa::path(post, path = "/api/v1/alerts/alertmanager", tag = "monitoring",
    security(("AlertmanagerWebhookToken" = [])),
    description = "Level: machine (Alertmanager; `Authorization: Bearer <ALERTMANAGER_WEBHOOK_TOKEN>`, not a user token). Accepts Alertmanager's webhook payload (version 4) and publishes each alert as an `alert` WebSocket event to levels 2 and 3 (topic `monitoreo`; `level` from the `severity` label, `info` once resolved). 200 with the count; missing secret → 401 \"Not authenticated\", wrong secret or secret not configured → 401 \"Could not validate credentials\"; malformed payload → 422.",
    request_body = AlertmanagerWebhook,
    responses((status = 200, description = "alerts forwarded", body = Reenviadas),
              (status = 401, description = "missing or wrong webhook secret", body = Value),
              (status = 422, description = "not an Alertmanager version 4 payload", body = Value)))]
pub async fn alertmanager_webhook(
    State(state): State<AppState>,
    _auth: AlertmanagerAuth,
    ValidJson(body): ValidJson<AlertmanagerWebhook>,
) -> ApiResult<Response> {
    let answer: Reenviadas = alerts::forward(&state.ctx, &body);
    Ok(axum::Json(answer).into_response())
}
