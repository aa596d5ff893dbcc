//! Acknowledgement and backup of a dispatched emergency (issue 15): thin adapters over
//! `crate::dispatch` (what happens next) and `store::dispatch` (the SQL).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, AuditEntry, RequestContext};
use crate::auth::AuthUser;
use crate::dispatch::{self, Answer};
use crate::error::{ApiError, ApiResult, FieldError, json_response};
use crate::extract::{ValidJson, ValidPath, Validate, rules};
use crate::state::AppState;
use crate::store::dispatch as store;
use crate::wire::{AckAnswer, BackupAnswer, Llamado, Refuerzo};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ack))
        .routes(routes!(backup))
}

const TASK_NOT_FOUND: &str = "Tarea no encontrada";
const NOTHING_PENDING: &str = "No hay un despacho pendiente de confirmación para este efectivo";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AckBody {
    /// true: the officer is on the way (`en_camino`); false: declined, the next is called.
    pub accept: bool,
    /// Why (optional, ≤ 500 characters).
    #[schema(max_length = 500)]
    pub motivo: Option<String>,
    /// Level 2+ answering on an officer's behalf: which officer (optional when only one is
    /// pending). Ignored for level 1 (an officer answers for themselves).
    pub efectivo_id: Option<i64>,
}

impl Validate for AckBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::opt_len(errors, "motivo", &self.motivo, 0, 500);
    }
}

fn conflict(detail: &str) -> ApiError {
    ApiError::Custom(StatusCode::CONFLICT, json!({ "detail": detail }))
}

fn ack_status(accept: bool) -> &'static str {
    if accept { "aceptado" } else { "rechazado" }
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/ack", tag = "emergency", request_body = AckBody,
    params(("task_id" = i64, Path, description = "emergency task id")),
    description = "Level: 1 (own dispatch). The dispatched officer (or level 2+ on their behalf) accepts (→ en_camino) or declines (→ disponible; the next nearest eligible officer is dispatched in the same transaction, or after DISPATCH_MAX_ATTEMPTS the emergency stays open \"sin asignar\" and supervisors get an alert).",
    responses((status = 200, description = "answered", body = AckAnswer),
              (status = 404, description = "task not found or not visible", body = Value),
              (status = 409, description = "no pending dispatch for this officer", body = Value),
              (status = 422, description = "validation error (e.g. efectivo_id needed)", body = Value)))]
pub async fn ack(
    State(state): State<AppState>,
    me: AuthUser,
    ctx: RequestContext,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(b): ValidJson<AckBody>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let site = store::lock_site(&mut tx, task_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(TASK_NOT_FOUND.into()))?;
    if !site.open {
        return Err(conflict("La tarea está cerrada"));
    }
    let efectivo_id = if me.is_supervisor() {
        match b.efectivo_id {
            Some(id) => id,
            None => {
                let pending = store::pending_officers(&mut tx, task_id).await?;
                match pending.as_slice() {
                    [only] => *only,
                    [] => return Err(conflict(NOTHING_PENDING)),
                    _ => {
                        return Err(ApiError::validation(FieldError::body(
                            "efectivo_id",
                            "missing",
                            "Several officers are pending: name the one answering",
                            Value::Null,
                        )));
                    }
                }
            }
        }
    } else {
        let Some(own) = me.efectivo_id else {
            return Err(ApiError::NotFound(TASK_NOT_FOUND.into()));
        };
        // Level 1 sees only emergencies it is dispatched to (never reveal others).
        if !store::is_dispatched(&mut tx, task_id, own).await? {
            return Err(ApiError::NotFound(TASK_NOT_FOUND.into()));
        }
        own
    };
    let answer = if b.accept {
        Answer::Accept
    } else {
        Answer::Decline
    };
    let out = dispatch::answer(
        &state,
        &mut tx,
        &site,
        efectivo_id,
        answer,
        Some(me.id),
        b.motivo.as_deref(),
    )
    .await?
    .ok_or_else(|| conflict(NOTHING_PENDING))?;
    let answer = AckAnswer {
        task_id,
        efectivo_id,
        ack_status: ack_status(b.accept),
        next: out.next.as_ref().map(|a| Llamado {
            efectivo_id: a.efectivo_id,
            distance_m: (a.distance_m * 100.0).round() / 100.0,
            ack_deadline: a.vence_at,
        }),
        sin_asignar: out.sin_asignar,
    };
    let body = serde_json::to_value(&answer).map_err(ApiError::internal)?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("dispatch_acknowledged", Some(me.id))
            .resource("tarea", task_id)
            .values(None, Some(body.clone()))
            .status(200)
            .context(&ctx),
    )
    .await?;
    tx.commit().await?;
    for e in out.events {
        state.events.publish(e);
    }
    Ok(json_response(StatusCode::OK, &body))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BackupBody {
    /// How many more officers (1–10).
    #[schema(minimum = 1, maximum = 10)]
    pub efectivos: i64,
    /// Search radius in metres (100–100 000; default: the emergency's own).
    #[schema(minimum = 100.0, maximum = 100000.0)]
    pub radius_m: Option<f64>,
}

impl Validate for BackupBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !(1..=10).contains(&self.efectivos) {
            errors.push(FieldError::body(
                "efectivos",
                "value_error",
                "Input should be between 1 and 10",
                json!(self.efectivos),
            ));
        }
        if let Some(r) = self.radius_m {
            rules::range_at(errors, "body", "radius_m", r, 100.0, 100_000.0);
        }
    }
}

#[utoipa::path(post, path = "/api/v1/tasks/{task_id}/backup", tag = "emergency", request_body = BackupBody,
    params(("task_id" = i64, Path, description = "emergency task id")),
    description = "Level: 1 (dispatched officer) or 2. Adds the n nearest eligible officers to the same task (same locking and eligibility as dispatch; never an officer already busy or already dispatched to it); each must acknowledge like the first.",
    responses((status = 201, description = "backup dispatched", body = BackupAnswer),
              (status = 404, description = "task not found / nobody available", body = Value),
              (status = 409, description = "task closed", body = Value),
              (status = 422, description = "validation error", body = Value)))]
pub async fn backup(
    State(state): State<AppState>,
    me: AuthUser,
    ctx: RequestContext,
    ValidPath(task_id): ValidPath<i64>,
    ValidJson(b): ValidJson<BackupBody>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let mut site = store::lock_site(&mut tx, task_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(TASK_NOT_FOUND.into()))?;
    if !me.is_supervisor() {
        let dispatched = match me.efectivo_id {
            Some(own) => store::is_dispatched(&mut tx, task_id, own).await?,
            None => false,
        };
        if !dispatched {
            return Err(ApiError::NotFound(TASK_NOT_FOUND.into()));
        }
    }
    if !site.open {
        return Err(conflict("La tarea está cerrada"));
    }
    if let Some(r) = b.radius_m {
        site.radius_m = r;
    }
    let cfg = &state.config;
    let added = store::assign_nearest(
        &mut tx,
        &site,
        b.efectivos,
        0,
        true,
        cfg.dispatch_max_position_age_minutes,
        cfg.dispatch_ack_timeout_seconds,
    )
    .await?;
    if added.is_empty() {
        return Err(ApiError::NotFound(
            crate::routes::emergency::NONE_AVAILABLE.into(),
        ));
    }
    let mut events = Vec::new();
    for a in &added {
        store::timeline(
            &mut tx,
            task_id,
            Some(me.id),
            "refuerzo",
            &format!("refuerzo: despachado el efectivo {}", a.efectivo_id),
        )
        .await?;
        events.extend(dispatch::assigned_events(&site, a, true));
    }
    let answer = BackupAnswer {
        task_id,
        requested: b.efectivos,
        added: added
            .iter()
            .map(|a| Refuerzo {
                efectivo_id: a.efectivo_id,
                distance_m: (a.distance_m * 100.0).round() / 100.0,
                ack_status: "pendiente_confirmacion",
                ack_deadline: a.vence_at,
            })
            .collect(),
    };
    let body = serde_json::to_value(&answer).map_err(ApiError::internal)?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("dispatch_backup", Some(me.id))
            .resource("tarea", task_id)
            .values(None, Some(body.clone()))
            .status(201)
            .context(&ctx),
    )
    .await?;
    tx.commit().await?;
    for e in events {
        state.events.publish(e);
    }
    Ok(json_response(StatusCode::CREATED, &body))
}
