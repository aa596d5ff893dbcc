//! The bot's door into the service layer. Every write goes through the same gad-api functions
//! the HTTP routes run (state machine, dispatch with its idempotency key, audit rows, domain
//! events, cache invalidation), called in-process with the officer as the authenticated user —
//! never over HTTP to ourselves, and never by re-implementing a rule here.
//!
//! The handlers answer `Result<Response, ApiError>`; [`outcome`] turns both sides into the JSON
//! body or a [`Failure`] (status + the contract's `detail`), which the handlers map to Spanish.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gad_api::AppState;
use gad_api::audit::RequestContext;
use gad_api::auth::AuthUser;
use gad_api::error::ApiError;
use gad_api::extract::{RawBody, ValidJson, ValidPath, ValidQuery, Validate};
use gad_api::routes::{dispatch, efectivos, emergency, stats, tasks};
use gad_core::{EstadoDisponibilidad, EstadoTarea, Nivel};
use serde_json::{Value, json};

/// A refusal or failure from the service layer.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    pub body: Value,
}

impl Failure {
    pub fn is_server_error(&self) -> bool {
        self.status >= 500
    }
}

async fn outcome(r: Result<Response, ApiError>) -> Result<Value, Failure> {
    let resp = r.unwrap_or_else(IntoResponse::into_response);
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1024 * 1024)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status < 300 {
        Ok(body)
    } else {
        Err(Failure { status, body })
    }
}

/// Runs the same field rules the HTTP extractors run.
fn validated<T: Validate>(t: T) -> Result<T, Failure> {
    let mut errors = Vec::new();
    t.validate(&mut errors);
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(Failure {
            status: 422,
            body: json!({"detail": "validation"}),
        })
    }
}

/// The linked officer, loaded fresh for each update (so deactivation or deletion takes effect at
/// once), as the service layer's authenticated user.
#[derive(Debug, Clone)]
pub struct Officer {
    pub user: AuthUser,
    pub nombre: String,
    pub telegram_id: i64,
}

#[derive(sqlx::FromRow)]
struct OfficerRow {
    id: i64,
    nivel: String,
    nombre: String,
    efectivo_id: Option<i64>,
}

/// The active user linked to `telegram_id`, if any.
pub async fn officer_for(state: &AppState, telegram_id: i64) -> Result<Option<Officer>, Failure> {
    let row: Option<OfficerRow> = sqlx::query_as(
        "SELECT u.id, u.nivel::text AS nivel, u.nombre,
                (SELECT e.id FROM efectivos e WHERE e.usuario_id = u.id AND e.deleted_at IS NULL) AS efectivo_id
         FROM usuarios u
         WHERE u.telegram_id = $1 AND u.deleted_at IS NULL AND u.verificado",
    )
    .bind(telegram_id)
    .fetch_optional(&state.db)
    .await
    .map_err(db_failure)?;
    Ok(row.and_then(|r| {
        Some(Officer {
            user: AuthUser {
                id: r.id,
                nivel: Nivel::from_db(&r.nivel)?,
                jti: uuid::Uuid::new_v4(),
                exp: Utc::now() + chrono::Duration::minutes(5),
                efectivo_id: r.efectivo_id,
            },
            nombre: r.nombre,
            telegram_id,
        })
    }))
}

pub fn db_failure(e: sqlx::Error) -> Failure {
    tracing::error!(error = %e, "bot: database error");
    Failure {
        status: 503,
        body: json!({"detail": "database"}),
    }
}

/// Who/where for audit rows: the update id stands in for the request id.
pub fn context(update_id: u32) -> RequestContext {
    RequestContext {
        ip: None,
        user_agent: Some("gad-bot (Telegram)".into()),
        request_id: Some(format!("tg-{update_id}")),
    }
}

pub async fn change_status(
    state: &AppState,
    o: &Officer,
    ctx: RequestContext,
    task_id: i64,
    to: EstadoTarea,
) -> Result<Value, Failure> {
    let body = validated(tasks::StatusChange {
        estado: to,
        nota: Some("desde Telegram".into()),
    })?;
    outcome(
        tasks::change_status(
            State(state.clone()),
            o.user.clone(),
            ctx,
            ValidPath(task_id),
            ValidJson(body),
        )
        .await,
    )
    .await
}

pub async fn user_stats(state: &AppState, o: &Officer) -> Result<Value, Failure> {
    outcome(
        stats::user_stats(
            State(state.clone()),
            o.user.clone(),
            ValidPath(o.user.id),
            ValidQuery(stats::UserStatsQuery {
                days: Some(30),
                use_cache: Some(true),
            }),
        )
        .await,
    )
    .await
}

/// Dispatches an emergency at (lat, lng) reported by `o`. `key` is the Idempotency-Key, derived
/// from the Telegram message, so a re-delivered update replays the first dispatch.
pub async fn emergency(
    state: &AppState,
    o: &Officer,
    ctx: RequestContext,
    lat: f64,
    lng: f64,
    key: &str,
) -> Result<Value, Failure> {
    let body = validated(emergency::EmergencyBody {
        lat,
        lng,
        telegram_id: Some(o.telegram_id),
        descripcion: Some(format!(
            "Emergencia reportada por Telegram por {}",
            o.nombre
        )),
        radius_m: None,
    })?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(key) {
        headers.insert("Idempotency-Key", v);
    }
    outcome(
        emergency::emergency(
            State(state.clone()),
            o.user.clone(),
            ctx,
            headers,
            ValidJson(body),
        )
        .await,
    )
    .await
}

#[allow(clippy::too_many_arguments)] // the fields of one Telegram location, as the route takes them
pub async fn set_location(
    state: &AppState,
    o: &Officer,
    efectivo_id: i64,
    lat: f64,
    lng: f64,
    accuracy_m: Option<f64>,
    heading: Option<f64>,
    recorded_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Value, Failure> {
    // The fix's own time (Telegram's edit date of a live location): edits that arrive out of
    // order never move the officer back (issue 20).
    let body = json!({"lat": lat, "lng": lng, "accuracy_m": accuracy_m, "heading": heading,
                      "recorded_at": recorded_at.map(gad_api::time::rfc3339)});
    outcome(
        efectivos::update_ubicacion(
            State(state.clone()),
            o.user.clone(),
            ValidPath(efectivo_id),
            RawBody(Bytes::from(body.to_string())),
        )
        .await,
    )
    .await
}

pub async fn set_availability(
    state: &AppState,
    o: &Officer,
    ctx: RequestContext,
    efectivo_id: i64,
    estado: EstadoDisponibilidad,
) -> Result<Value, Failure> {
    let body = json!({"estado": estado.as_wire()});
    outcome(
        efectivos::update_disponibilidad(
            State(state.clone()),
            o.user.clone(),
            ctx,
            ValidPath(efectivo_id),
            RawBody(Bytes::from(body.to_string())),
        )
        .await,
    )
    .await
}

/// Accepts or declines the emergency `task_id` dispatched to the officer (issue 15's rule:
/// decline calls the next nearest officer in the same transaction).
pub async fn ack(
    state: &AppState,
    o: &Officer,
    ctx: RequestContext,
    task_id: i64,
    accept: bool,
) -> Result<Value, Failure> {
    let body = validated(dispatch::AckBody {
        accept,
        motivo: (!accept).then(|| "rechazada desde Telegram".to_string()),
        efectivo_id: o.user.efectivo_id,
    })?;
    outcome(
        dispatch::ack(
            State(state.clone()),
            o.user.clone(),
            ctx,
            ValidPath(task_id),
            ValidJson(body),
        )
        .await,
    )
    .await
}
