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
use axum::response::Response;
use chrono::{DateTime, Utc};
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
use crate::store::efectivos::{point_sql, round2};

pub const NONE_AVAILABLE: &str = "No efectivos with location data available";
const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(emergency))
        .routes(routes!(suggestions))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmergencyBody {
    pub lat: f64,
    pub lng: f64,
    pub telegram_id: Option<i64>,
    pub descripcion: Option<String>,
    /// 100–100 000 metres, default 10 000.
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

/// The result of one dispatch row.
#[derive(Debug, sqlx::FromRow)]
struct Dispatched {
    efectivo_id: i64,
    usuario_id: i64,
    distance_m: f64,
    task_id: i64,
    task_uuid: uuid::Uuid,
    codigo: String,
    created_at: DateTime<Utc>,
    body: Value,
}

enum Outcome {
    Assigned(Box<Dispatched>),
    Replay { status: u16, body: Value },
    NoneAvailable,
}

/// The dispatch statement. $1 lng, $2 lat, $3 radius_m, $4 caller, $5 descripcion,
/// $6 telegram_id, $7 idempotency key (or NULL), $8 received_at, $9 ip, $10 user agent,
/// $11 request id, $12 maximum position age in minutes, $13 acknowledgement timeout (seconds).
pub fn dispatch_sql() -> String {
    let pt = point_sql(1, 2);
    let eligible = crate::store::dispatch::eligible_sql(12, 4);
    format!(
        "WITH pick AS (
            SELECT e.id, e.usuario_id, ST_Distance(e.geom, {pt}) AS distance_m
            FROM efectivos e
            WHERE {eligible}
              AND ST_DWithin(e.geom, {pt}, $3::float8)
            ORDER BY e.geom <-> {pt}
            LIMIT 1
            FOR UPDATE OF e SKIP LOCKED
        ),
        task AS (
            INSERT INTO tareas (codigo, titulo, descripcion, tipo, prioridad, estado, inicio_programado,
                inicio_real, delegado_usuario_id, creado_por_usuario_id, ubicacion_lat, ubicacion_lon, geom,
                efectivos_asignados, extra_data)
            SELECT 'EMG-' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') || '-'
                       || lpad(s.n::text, greatest(6, length(s.n::text)), '0'),
                   'Emergencia', $5::text, 'INTERVENCION'::tipo_tarea, 'CRITICAL'::prioridad_tarea,
                   'IN_PROGRESS'::estado_tarea, now(), now(), p.usuario_id, $4::int8, $2::float8, $1::float8,
                   {pt}, ARRAY[p.id],
                   jsonb_strip_nulls(jsonb_build_object('emergency', true,
                       'distance_m', round(p.distance_m::numeric, 2), 'radius_m', $3::float8,
                       'telegram_id', $6::int8))
            FROM pick p CROSS JOIN LATERAL (SELECT nextval('emergency_code_seq') AS n) s
            RETURNING id, uuid, codigo, created_at
        ),
        link AS (
            INSERT INTO tarea_efectivos (tarea_id, efectivo_id)
            SELECT t.id, p.id FROM task t, pick p RETURNING 1
        ),
        busy AS (
            UPDATE efectivos e SET estado_disponibilidad = 'EN_TAREA', ultima_actualizacion_estado = now()
            FROM pick p WHERE e.id = p.id RETURNING e.id
        ),
        hist AS (
            INSERT INTO historial_estados (tarea_id, estado_anterior, estado_nuevo, usuario_id, nota, evento)
            SELECT t.id, NULL, 'IN_PROGRESS'::estado_tarea, $4::int8,
                   'emergencia', 'despachado'
            FROM task t, pick p RETURNING 1
        ),
        desp AS (
            INSERT INTO despachos (tarea_id, efectivo_id, intento, distancia_m, vence_at)
            SELECT t.id, p.id, 1, p.distance_m, now() + make_interval(secs => $13::float8)
            FROM task t, pick p RETURNING vence_at
        ),
        result AS (
            SELECT p.id AS efectivo_id, p.usuario_id, p.distance_m, t.id AS task_id, t.uuid AS task_uuid,
                   t.codigo, t.created_at,
                   jsonb_build_object('assigned_efectivo_id', p.id,
                       'distance_m', round(p.distance_m::numeric, 2), 'received_at', $8::text,
                       'status', 'assigned', 'task_id', t.id, 'codigo', t.codigo,
                       'ack_status', 'pendiente_confirmacion',
                       'ack_deadline', to_char(d.vence_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) AS body
            FROM pick p, task t, desp d
        ),
        aud AS (
            INSERT INTO audit_logs (event_type, severity, user_id, ip_address, user_agent, request_id,
                resource_type, resource_id, action_description, new_values, success, response_status)
            SELECT 'emergency_dispatched', 'info', $4::int8, $9::text::inet, $10::text, $11::text, 'tarea',
                   r.task_id::text, 'Emergency dispatched to the nearest available efectivo', r.body, true, 201
            FROM result r RETURNING 1
        ),
        idem AS (
            UPDATE idempotency_keys k SET response_status = 201, response_body = r.body
            FROM result r WHERE k.user_id = $4::int8 AND k.key = $7::text RETURNING 1
        )
        SELECT efectivo_id, usuario_id, distance_m, task_id, task_uuid, codigo, created_at, body FROM result"
    )
}

async fn run_dispatch<'e, E: sqlx::PgExecutor<'e>>(
    exec: E,
    me: &AuthUser,
    ctx: &RequestContext,
    b: &EmergencyBody,
    key: Option<&str>,
    received_at: &str,
    cfg: &crate::config::Config,
) -> Result<Option<Dispatched>, sqlx::Error> {
    sqlx::query_as::<_, Dispatched>(&dispatch_sql())
        .bind(b.lng)
        .bind(b.lat)
        .bind(b.radius())
        .bind(me.id)
        .bind(&b.descripcion)
        .bind(b.telegram_id)
        .bind(key)
        .bind(received_at)
        .bind(&ctx.ip)
        .bind(&ctx.user_agent)
        .bind(&ctx.request_id)
        .bind(cfg.dispatch_max_position_age_minutes)
        .bind(cfg.dispatch_ack_timeout_seconds as f64)
        .fetch_optional(exec)
        .await
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
        return Ok(
            match run_dispatch(&state.db, me, ctx, b, None, received_at, &state.config).await? {
                Some(d) => Outcome::Assigned(Box::new(d)),
                None => Outcome::NoneAvailable,
            },
        );
    };
    let hash = b.fingerprint();
    let mut tx = state.db.begin().await?;
    // Claim the key (a key older than 24 h is reclaimed). A concurrent request holding the same
    // key makes this wait until it commits (then we replay) or rolls back (then we dispatch).
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
                created_at = now()
            WHERE idempotency_keys.created_at < now() - interval '24 hours'
         RETURNING true",
    )
    .bind(me.id)
    .bind(key)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    if claimed.is_none() {
        let stored: Option<(String, Option<i32>, Option<Value>)> = sqlx::query_as(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys
             WHERE user_id = $1 AND key = $2",
        )
        .bind(me.id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        tx.rollback().await?;
        return match stored {
            // Same key, different request: refused with 422 (the key is the invalid input;
            // nothing is dispatched and the first response stays stored).
            Some((h, _, _)) if h != hash => Err(ApiError::validation(FieldError::new(
                "value_error",
                &["header", IDEMPOTENCY_HEADER],
                "Idempotency-Key already used with a different request",
                Value::String(key.to_string()),
            ))),
            Some((_, Some(status), Some(body))) => Ok(Outcome::Replay {
                status: u16::try_from(status).unwrap_or(201),
                body,
            }),
            _ => Err(ApiError::Custom(
                StatusCode::CONFLICT,
                json!({"detail": "A request with this Idempotency-Key is being processed"}),
            )),
        };
    }
    match run_dispatch(&mut *tx, me, ctx, b, Some(key), received_at, &state.config).await? {
        Some(d) => {
            tx.commit().await?;
            Ok(Outcome::Assigned(Box::new(d)))
        }
        None => {
            // Nothing was dispatched: release the key so a retry can try again.
            tx.rollback().await?;
            Ok(Outcome::NoneAvailable)
        }
    }
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
    params(("Idempotency-Key" = Option<String>, Header, description = "1–64 chars; a retry with the same key within 24 h returns the first response")),
    description = "Level: 1. Assigns the nearest available efectivo within radius_m (never two emergencies to one efectivo) and creates the emergency task.",
    responses((status = 201, description = "assigned", body = Value),
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
fn publish(state: &AppState, me: &AuthUser, b: &EmergencyBody, d: &Dispatched) {
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
    state.events.publish(
        DomainEvent::new(
            EventType::TaskCreated,
            json!({
                "id": d.task_id,
                "uuid": d.task_uuid,
                "codigo": d.codigo,
                "titulo": "Emergencia",
                "descripcion": b.descripcion,
                "tipo": "intervencion",
                "prioridad": 5,
                "estado": "en_curso",
                "inicio_programado": created,
                "inicio_real": created,
                "delegado_usuario_id": d.usuario_id,
                "creado_por_usuario_id": me.id,
                "efectivos_asignados": [d.efectivo_id],
                "ubicacion_lat": b.lat,
                "ubicacion_lon": b.lng,
                "created_at": created,
            }),
            involved,
        )
        .topic(format!("task:{}", d.task_id)),
    );
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SuggestionsQuery {
    pub lat: f64,
    pub lng: f64,
    /// 100–100 000 metres, default 10 000.
    pub radius_m: Option<f64>,
    /// 1–20, default 5.
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

#[derive(Debug, sqlx::FromRow)]
struct Suggestion {
    efectivo_id: i64,
    distance_m: f64,
    codigo_interno: String,
    nombre: String,
    unidad: Option<String>,
    especialidad: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/tasks/emergency/suggestions", tag = "emergency", params(SuggestionsQuery),
    description = "Level: 2. The nearest available efectivos within radius_m (optionally by especialidad/unidad), nearest first; nothing is assigned.",
    responses((status = 200, description = "suggestions", body = Value)))]
pub async fn suggestions(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ValidQuery(q): ValidQuery<SuggestionsQuery>,
) -> ApiResult<Response> {
    let pt = point_sql(1, 2);
    let eligible = crate::store::dispatch::eligible_sql(7, 8);
    let sql = format!(
        "SELECT e.id AS efectivo_id, ST_Distance(e.geom, {pt}) AS distance_m, e.codigo_interno,
                u.nombre, e.unidad, e.especialidad
         FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE {eligible}
           AND ST_DWithin(e.geom, {pt}, $3)
           AND ($4::text IS NULL OR e.especialidad = $4)
           AND ($5::text IS NULL OR e.unidad = $5)
         ORDER BY e.geom <-> {pt}, e.id
         LIMIT $6"
    );
    let rows: Vec<Suggestion> = sqlx::query_as(&sql)
        .bind(q.lng)
        .bind(q.lat)
        .bind(q.radius_m.unwrap_or(gad_core::geo::RadiusM::DEFAULT))
        .bind(&q.especialidad)
        .bind(&q.unidad)
        .bind(q.limit.unwrap_or(5))
        .bind(state.config.dispatch_max_position_age_minutes)
        .bind(me.id)
        .fetch_all(&state.db)
        .await?;
    let body: Vec<Value> = rows
        .iter()
        .map(|s| {
            json!({
                "efectivo_id": s.efectivo_id,
                "distance_m": round2(s.distance_m),
                "codigo_interno": s.codigo_interno,
                "nombre": s.nombre,
                "unidad": s.unidad,
                "especialidad": s.especialidad,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(body)))
}
