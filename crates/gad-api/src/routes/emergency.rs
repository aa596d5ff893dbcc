//! Emergency dispatch (contract §8): the nearest available officer within the radius is
//! assigned in one statement, race-free (`FOR UPDATE SKIP LOCKED`), and suggestions for
//! dispatchers of other systems.
//!
//! Design: the whole dispatch (pick + task + link + efectivo state + history + audit +
//! idempotent response) is ONE data-modifying CTE, so without an `Idempotency-Key` it is a single
//! round trip in an implicit transaction. With a key, the key is claimed first in the same
//! explicit transaction (`INSERT … ON CONFLICT`), so a concurrent retry with the same key waits
//! on the unique index until the first commits and then reads the stored response.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::RequestContext;
use crate::auth::{AuthUser, Supervisor};
use crate::error::{ApiError, ApiResult, FieldError, json_response};
use crate::events::{Audience, DomainEvent, EventType};
use crate::extract::{ValidJson, ValidQuery, Validate, rules};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::efectivos::round2;
use crate::store::emergency;
use crate::store::nearest::{self, Order};
use crate::store::tareas::Tarea;
use gad_core::{EstadoTarea, Prioridad, TipoTarea};

pub const NONE_AVAILABLE: &str = "No efectivos with location data available";
const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(emergency))
        .routes(routes!(suggestions))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmergencyBody {
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lng: f64,
    pub telegram_id: Option<i64>,
    #[schema(max_length = 1000)]
    pub descripcion: Option<String>,
    /// 100–100 000 metres, default 10 000.
    #[schema(minimum = 100.0, maximum = 100000.0)]
    pub radius_m: Option<f64>,
}

impl Validate for EmergencyBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::range(errors, "lat", self.lat, -90.0, 90.0);
        rules::range(errors, "lng", self.lng, -180.0, 180.0);
        rules::opt_range(errors, "radius_m", self.radius_m, 100.0, 100_000.0);
        rules::opt_len(errors, "descripcion", &self.descripcion, 0, 1000);
    }
}

impl EmergencyBody {
    fn radius(&self) -> f64 {
        self.radius_m.unwrap_or(gad_core::geo::RadiusM::DEFAULT)
    }
    /// Fingerprint of the request, to tell a retry from a different request under the same key.
    fn fingerprint(&self) -> String {
        let canonical = json!([
            self.lat,
            self.lng,
            self.radius(),
            self.descripcion,
            self.telegram_id
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// `Idempotency-Key`: absent, or 1–64 visible ASCII characters (else 422 at ["header", …]).
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let bad = |input: Value| {
        ApiError::validation(FieldError::new(
            "value_error",
            &["header", IDEMPOTENCY_HEADER],
            "Idempotency-Key must be 1 to 64 visible ASCII characters",
            input,
        ))
    };
    let s = v.to_str().map_err(|_| bad(Value::Null))?;
    if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(Value::String(s.to_string())));
    }
    Ok(Some(s.to_string()))
}

fn request<'a>(
    state: &AppState,
    me: &AuthUser,
    ctx: &'a RequestContext,
    b: &'a EmergencyBody,
    key: Option<&'a str>,
    received_at: &'a str,
) -> emergency::DispatchRequest<'a> {
    emergency::DispatchRequest {
        lat: b.lat,
        lng: b.lng,
        radius_m: b.radius(),
        caller_id: me.id,
        descripcion: b.descripcion.as_deref(),
        telegram_id: b.telegram_id,
        idempotency_key: key,
        received_at,
        ip: ctx.ip.as_deref(),
        user_agent: ctx.user_agent.as_deref(),
        request_id: ctx.request_id.as_deref(),
        max_position_age_minutes: state.config.dispatch_max_position_age_minutes,
        ack_timeout_seconds: state.config.dispatch_ack_timeout_seconds as f64,
    }
}

enum Outcome {
    Assigned(Box<emergency::Dispatched>),
    Replay { status: u16, body: Value },
    NoneAvailable,
}

async fn dispatch(
    state: &AppState,
    me: &AuthUser,
    ctx: &RequestContext,
    b: &EmergencyBody,
    key: Option<&str>,
    received_at: &str,
) -> ApiResult<Outcome> {
    let Some(key) = key else {
        // No key: one statement, one implicit transaction, one round trip.
        let req = request(state, me, ctx, b, None, received_at);
        return Ok(match emergency::dispatch(&state.db, &req).await? {
            Some(d) => Outcome::Assigned(Box::new(d)),
            None => Outcome::NoneAvailable,
        });
    };
    // With a key: claim it and dispatch in one transaction. If PostGIS refuses the index's
    // order (store::nearest), the whole transaction runs again with the exact order.
    for order in [Order::Index, Order::Exact] {
        match dispatch_keyed(state, me, ctx, b, key, received_at, order).await? {
            Keyed::Done(outcome) => return Ok(outcome),
            Keyed::Refused => nearest::log_fallback(),
        }
    }
    // Only the index order can be refused.
    Err(ApiError::Internal(anyhow::anyhow!(
        "nearest-first dispatch refused in the exact order"
    )))
}

/// The keyed dispatch's transaction, or word that PostGIS refused the index's order.
enum Keyed {
    Done(Outcome),
    Refused,
}

async fn dispatch_keyed(
    state: &AppState,
    me: &AuthUser,
    ctx: &RequestContext,
    b: &EmergencyBody,
    key: &str,
    received_at: &str,
    order: Order,
) -> ApiResult<Keyed> {
    let hash = b.fingerprint();
    let mut tx = state.db.begin().await?;
    // Claim the key (a key older than 24 h is reclaimed). A concurrent request holding the same
    // key makes this wait until it commits (then we replay) or rolls back (then we dispatch).
    let claimed = emergency::claim_key(&mut tx, me.id, key, &hash).await?;
    if !claimed {
        let stored = emergency::stored_response(&mut tx, me.id, key).await?;
        tx.rollback().await?;
        return Ok(Keyed::Done(match stored {
            // Same key, different request: refused with 422 (the key is the invalid input;
            // nothing is dispatched and the first response stays stored).
            Some((h, _, _)) if h != hash => {
                return Err(ApiError::validation(FieldError::new(
                    "value_error",
                    &["header", IDEMPOTENCY_HEADER],
                    "Idempotency-Key already used with a different request",
                    Value::String(key.to_string()),
                )));
            }
            Some((_, Some(status), Some(body))) => Outcome::Replay {
                status: u16::try_from(status).unwrap_or(201),
                body,
            },
            _ => {
                return Err(ApiError::Custom(
                    StatusCode::CONFLICT,
                    json!({"detail": "A request with this Idempotency-Key is being processed"}),
                ));
            }
        }));
    }
    let req = request(state, me, ctx, b, Some(key), received_at);
    let dispatched = match emergency::dispatch_in(&mut tx, &req, order).await {
        Err(e) if order == Order::Index && nearest::refused(&e) => {
            tx.rollback().await?;
            return Ok(Keyed::Refused);
        }
        other => other?,
    };
    Ok(Keyed::Done(match dispatched {
        Some(d) => {
            tx.commit().await?;
            Outcome::Assigned(Box::new(d))
        }
        None => {
            // Nothing was dispatched: release the key so a retry can try again.
            tx.rollback().await?;
            Outcome::NoneAvailable
        }
    }))
}

fn with_location(mut resp: Response, task_id: Option<i64>) -> Response {
    if let Some(id) = task_id
        && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/tasks/{id}"))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

#[utoipa::path(post, path = "/api/v1/tasks/emergency", tag = "emergency", request_body = EmergencyBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–64 visible ASCII characters; a retry with the same key within 24 h returns the first response", pattern = r"^[\x21-\x7e]{1,64}$")),
    description = "Level: 1. Assigns the nearest available efectivo within radius_m (never two emergencies to one efectivo) and creates the emergency task.",
    responses((status = 201, description = "assigned", body = crate::wire::EmergencyAssigned),
              (status = 404, description = "no efectivo available", body = Value),
              (status = 422, description = "validation error", body = Value)))]
pub async fn emergency(
    State(state): State<AppState>,
    me: AuthUser,
    ctx: RequestContext,
    headers: HeaderMap,
    ValidJson(b): ValidJson<EmergencyBody>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let started = Instant::now();
    let received_at = crate::time::now_rfc3339();
    let outcome = dispatch(&state, &me, &ctx, &b, key.as_deref(), &received_at).await;
    let elapsed = started.elapsed().as_secs_f64();
    match outcome {
        Ok(Outcome::Assigned(d)) => {
            state.metrics.emergency_dispatch_seconds.observe(elapsed);
            Metrics::inc(&state.metrics.emergency_dispatch, "assigned");
            publish(&state, &me, &b, &d);
            Ok(with_location(
                json_response(StatusCode::CREATED, &d.body),
                Some(d.task_id),
            ))
        }
        Ok(Outcome::Replay { status, body }) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
            let task_id = body.get("task_id").and_then(Value::as_i64);
            let mut resp = with_location(json_response(code, &body), task_id);
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(resp)
        }
        Ok(Outcome::NoneAvailable) => {
            state.metrics.emergency_dispatch_seconds.observe(elapsed);
            Metrics::inc(&state.metrics.emergency_dispatch, "none_available");
            Err(ApiError::NotFound(NONE_AVAILABLE.into()))
        }
        Err(e) => {
            if !matches!(e, ApiError::Validation(_)) {
                Metrics::inc(&state.metrics.emergency_dispatch, "error");
            }
            Err(e)
        }
    }
}

/// `alert` (assigned officer + supervisors, topic `emergencias`) and `task_created`; only after
/// the dispatch transaction committed.
fn publish(state: &AppState, me: &AuthUser, b: &EmergencyBody, d: &emergency::Dispatched) {
    let created = crate::time::rfc3339(d.created_at);
    let involved = Audience::Involved {
        user_ids: vec![d.usuario_id],
    };
    state.events.publish(
        DomainEvent::new(
            EventType::Alert,
            json!({
                "title": "Emergencia",
                "level": "critical",
                "task_id": d.task_id,
                "codigo": d.codigo,
                "efectivo_id": d.efectivo_id,
                "usuario_id": d.usuario_id,
                "distance_m": round2(d.distance_m),
                "lat": b.lat,
                "lng": b.lng,
                "descripcion": b.descripcion,
                "reported_by": me.id,
                "created_at": created,
            }),
            involved.clone(),
        )
        .topic("emergencias")
        .topic(format!("task:{}", d.task_id)),
    );
    // The same wire object as every other task_created: what the dispatch statement inserted
    // (inicio_programado, inicio_real, created_at and updated_at are all its `now()`).
    let tarea = Tarea {
        id: d.task_id,
        uuid: d.task_uuid,
        codigo: d.codigo.clone(),
        titulo: "Emergencia".into(),
        descripcion: b.descripcion.clone(),
        tipo: TipoTarea::Intervencion,
        prioridad: Prioridad::Critica,
        estado: EstadoTarea::EnCurso,
        inicio_programado: d.created_at,
        fin_programado: None,
        inicio_real: Some(d.created_at),
        fin_real: None,
        pausado_en: None,
        tiempo_pausado_segundos: 0,
        duracion_real_horas: None,
        delegado_usuario_id: d.usuario_id,
        creado_por_usuario_id: Some(me.id),
        efectivos_asignados: vec![d.efectivo_id],
        ubicacion_lat: Some(b.lat),
        ubicacion_lon: Some(b.lng),
        ubicacion_descripcion: None,
        notas: json!({}),
        created_at: d.created_at,
        updated_at: d.created_at,
        deleted_at: None,
        es_emergencia: true,
    };
    state.events.publish(
        DomainEvent::new(EventType::TaskCreated, tarea.to_json(), involved)
            .topic(format!("task:{}", d.task_id)),
    );
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionsQuery {
    #[param(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    #[param(minimum = -180.0, maximum = 180.0)]
    pub lng: f64,
    /// 100–100 000 metres, default 10 000.
    #[param(minimum = 100.0, maximum = 100000.0)]
    pub radius_m: Option<f64>,
    /// 1–20, default 5.
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<i64>,
    pub especialidad: Option<String>,
    pub unidad: Option<String>,
    /// Accepted for compatibility (task type of the incident); not used for ranking.
    pub tipo: Option<String>,
}

impl Validate for SuggestionsQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::range_at(errors, "query", "lat", self.lat, -90.0, 90.0);
        rules::range_at(errors, "query", "lng", self.lng, -180.0, 180.0);
        if let Some(r) = self.radius_m {
            rules::range_at(errors, "query", "radius_m", r, 100.0, 100_000.0);
        }
        if let Some(l) = self.limit
            && !(1..=20).contains(&l)
        {
            errors.push(FieldError::query(
                "limit",
                "value_error",
                "Input should be between 1 and 20",
                json!(l),
            ));
        }
    }
}

#[utoipa::path(get, path = "/api/v1/tasks/emergency/suggestions", tag = "emergency", params(SuggestionsQuery),
    description = "Level: 2. The nearest available efectivos within radius_m (optionally by especialidad/unidad), nearest first; nothing is assigned.",
    responses((status = 200, description = "suggestions", body = [crate::store::emergency::Suggestion])))]
pub async fn suggestions(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<SuggestionsQuery>,
) -> ApiResult<Response> {
    let rows = emergency::suggestions(
        &state.db,
        &emergency::SuggestionFilter {
            lat: q.lat,
            lng: q.lng,
            radius_m: q.radius_m.unwrap_or(gad_core::geo::RadiusM::DEFAULT),
            especialidad: q.especialidad.as_deref(),
            unidad: q.unidad.as_deref(),
            limit: q.limit.unwrap_or(5),
            max_position_age_minutes: state.config.dispatch_max_position_age_minutes,
            caller_id: me.id,
        },
    )
    .await?;
    let body: Vec<emergency::Suggestion> = rows
        .into_iter()
        .map(|s| emergency::Suggestion {
            distance_m: round2(s.distance_m),
            ..s
        })
        .collect();
    Ok(axum::Json(body).into_response())
}
