//! Administration (contract §14), level 3 only: the administrative commands (broadcast, cache
//! clear, audit purge), each recorded in the audit trail, and the audit trail's listing.

use chrono::{DateTime, Utc};
use gad_core::request_context::RequestContext;
use gad_core::time::now_rfc3339;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{Audience, Event, Notification};
use crate::mensajes::PrioridadMensaje;

/// One audit row as the listing answers it.
pub use gad_store::audit::AuditRow;

pub const ACTIONS: [&str; 3] = ["broadcast", "cache_clear", "audit_purge"];
const LEVELS: [&str; 4] = ["info", "warning", "alert", "critical"];

/// An administrative command as the OpenAPI document states it: one shape per action, so a
/// client (or a fuzzer) knows which `payload` fields each action needs. Requests are read as
/// [`CommandBody`], whose `Validate` applies the same rules.
#[derive(utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AdminCommand {
    /// A notification to connected users.
    Broadcast { payload: BroadcastPayload },
    /// Empties the shared cache (no payload needed).
    CacheClear {
        /// Ignored.
        #[serde(default)]
        payload: Value,
    },
    /// Runs the audit retention purge now (no payload needed).
    AuditPurge {
        /// Ignored.
        #[serde(default)]
        payload: Value,
    },
}

/// The payload of `broadcast`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BroadcastPayload {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    title: String,
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    content: String,
    /// Default `info`.
    #[schema(value_type = BroadcastLevel, required = false)]
    level: Option<String>,
    /// `all` (default), `supervisores`, `efectivos` or `unidad:<name>` (name 1–100 characters).
    #[schema(
        nullable = false,
        max_length = 107,
        pattern = r"^(all|supervisores|efectivos|unidad:[^\x00]*[^\s\x00\x85][^\x00]*)$"
    )]
    audience: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum BroadcastLevel {
    Info,
    Warning,
    Alert,
    Critical,
}

#[derive(Debug, Deserialize)]
pub struct CommandBody {
    pub action: String,
    #[serde(default)]
    pub payload: Value,
}

/// The broadcast payload, validated.
struct Broadcast {
    title: String,
    content: String,
    level: String,
    audience: String,
}

fn payload_str<'a>(payload: &'a Value, field: &str) -> Option<&'a str> {
    payload.get(field).and_then(Value::as_str)
}

fn payload_error(field: &str, kind: &str, msg: impl Into<String>, input: Value) -> FieldError {
    FieldError::new(kind, &["body", "payload", field], msg, input)
}

fn check_broadcast(payload: &Value, errors: &mut Vec<FieldError>) -> Option<Broadcast> {
    if !payload.is_object() {
        errors.push(FieldError::body(
            "payload",
            "model_attributes_type",
            "Input should be a valid dictionary or object",
            payload.clone(),
        ));
        return None;
    }
    let before = errors.len();
    let mut text = |field: &str, max: usize| -> String {
        match payload.get(field) {
            None | Some(Value::Null) => {
                errors.push(payload_error(
                    field,
                    "missing",
                    "Field required",
                    Value::Null,
                ));
                String::new()
            }
            Some(Value::String(s)) => {
                let n = s.trim().chars().count();
                if n == 0 {
                    errors.push(payload_error(
                        field,
                        "string_too_short",
                        "String should have at least 1 character",
                        Value::String(s.clone()),
                    ));
                } else if s.chars().count() > max {
                    errors.push(payload_error(
                        field,
                        "string_too_long",
                        format!("String should have at most {max} characters"),
                        Value::String(s.clone()),
                    ));
                }
                s.trim().to_string()
            }
            Some(other) => {
                errors.push(payload_error(
                    field,
                    "string_type",
                    "Input should be a valid string",
                    other.clone(),
                ));
                String::new()
            }
        }
    };
    let title = text("title", 200);
    let content = text("content", 4000);
    let level = payload_str(payload, "level").unwrap_or("info").to_string();
    if !LEVELS.contains(&level.as_str()) || payload.get("level").is_some_and(|v| !v.is_string()) {
        errors.push(payload_error(
            "level",
            "enum",
            "Input should be 'info', 'warning', 'alert' or 'critical'",
            payload.get("level").cloned().unwrap_or(Value::Null),
        ));
    }
    let audience = payload_str(payload, "audience")
        .unwrap_or("all")
        .to_string();
    let valid_audience = matches!(audience.as_str(), "all" | "supervisores" | "efectivos")
        || audience
            .strip_prefix("unidad:")
            .is_some_and(|u| !u.trim().is_empty() && u.chars().count() <= 100);
    if !valid_audience || payload.get("audience").is_some_and(|v| !v.is_string()) {
        errors.push(payload_error(
            "audience",
            "enum",
            "Input should be 'all', 'supervisores', 'efectivos' or 'unidad:<name>'",
            payload.get("audience").cloned().unwrap_or(Value::Null),
        ));
    }
    (errors.len() == before).then_some(Broadcast {
        title,
        content,
        level,
        audience,
    })
}

impl Validate for CommandBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !ACTIONS.contains(&self.action.as_str()) {
            errors.push(FieldError::body(
                "action",
                "enum",
                "Input should be 'broadcast', 'cache_clear' or 'audit_purge'",
                Value::String(self.action.clone()),
            ));
        } else if self.action == "broadcast" {
            check_broadcast(&self.payload, errors);
        }
    }
}

/// `POST /admin/agent/command` (202).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Aceptado {
    /// Always `accepted`.
    pub status: &'static str,
    pub message: String,
    pub timestamp: String,
    /// What the action did: broadcast → event_type, audience, title, level, unidad_recipients,
    /// mensaje_id (the officers' copy, null for `supervisores`);
    /// cache_clear → cleared, backend; audit_purge → deleted_count.
    #[schema(value_type = Object)]
    pub result: Value,
}

/// Runs an administrative command (level 3) and records it in the audit trail, in one
/// transaction; a broadcast's notification goes out after the commit.
pub async fn run_command(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    body: &CommandBody,
) -> ServiceResult<Aceptado> {
    require(me, Nivel::Administrador)?;
    let action = body.action.as_str();
    let mut tx = ctx.db.begin().await?;
    let mut event = None;
    let mut mensaje_event = None;
    let result = match action {
        "broadcast" => {
            let mut errors = Vec::new();
            let Some(b) = check_broadcast(&body.payload, &mut errors) else {
                return Err(ServiceError::Validation(errors));
            };
            let (audience, recipients) = match b.audience.as_str() {
                "all" => (Audience::Everyone, None),
                "supervisores" => (Audience::Supervisors, None),
                "efectivos" => (Audience::Efectivos, None),
                other => {
                    let name = other.trim_start_matches("unidad:").trim().to_string();
                    let user_ids =
                        gad_store::efectivos::usuarios_of_unidad(&mut *tx, &name).await?;
                    let n = user_ids.len();
                    (Audience::Unidad { name, user_ids }, Some(n))
                }
            };
            // The officers among the audience get it through the bot too, as a message with
            // a delivery record per recipient; the desk keeps the live notification.
            let destino = match b.audience.as_str() {
                "all" | "efectivos" => Some(json!({"todos": true})),
                "supervisores" => None,
                other => Some(json!({"unidad": other.trim_start_matches("unidad:").trim()})),
            };
            let mensaje_id = match destino {
                Some(destino) => {
                    let prioridad = if matches!(b.level.as_str(), "alert" | "critical") {
                        PrioridadMensaje::Urgente
                    } else {
                        PrioridadMensaje::Normal
                    };
                    let texto = format!("{}\n\n{}", b.title, b.content);
                    let (id, e) = crate::mensajes::broadcast_in(
                        ctx, &mut tx, me, origin, &destino, &texto, prioridad,
                    )
                    .await?;
                    mensaje_event = Some(e);
                    Some(id)
                }
                None => None,
            };
            let result = json!({"event_type": "notification", "audience": b.audience,
                   "title": b.title, "level": b.level, "unidad_recipients": recipients,
                   "mensaje_id": mensaje_id});
            event = Some(
                Event::Notification(Notification {
                    title: b.title,
                    content: b.content,
                    level: b.level,
                    audience: Some(b.audience),
                    from_user_id: Some(me.id),
                    timestamp: Some(Utc::now()),
                })
                .to(audience),
            );
            result
        }
        "cache_clear" => {
            ctx.cache.clear().await;
            json!({"cleared": true, "backend": ctx.cache.backend().as_str()})
        }
        _ => {
            // The expired prefix of the hash chain, through the database's purge function
            // (the server's role cannot DELETE audit rows).
            let n = audit::purge_expired(&mut *tx, i32::MAX).await?;
            json!({"deleted_count": n})
        }
    };
    let entry = AuditEntry::new("admin_command", Some(me.id))
        .resource("admin_command", action)
        .describe(format!("Administrative command '{action}'"))
        .values(
            None,
            Some(json!({"action": action, "payload": body.payload, "result": result})),
        )
        .status(202)
        .context(origin);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;
    for e in event.into_iter().chain(mensaje_event) {
        ctx.events.publish(e);
    }
    Ok(Aceptado {
        status: "accepted",
        message: format!("Administrative command '{action}' has been accepted and logged"),
        timestamp: now_rfc3339(),
        result,
    })
}

/// Filters of the audit listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// From this instant (inclusive), RFC 3339.
    pub desde: Option<DateTime<Utc>>,
    /// Until this instant (inclusive), RFC 3339.
    pub hasta: Option<DateTime<Utc>>,
    pub user_id: Option<i64>,
    pub event_type: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Only entries about tasks in this zone (a comisaría or any zone: tasks whose `zona_id`
    /// or `comisaria_id` is it), with those of their notes, attachments and alerts. Unknown
    /// zone → 422.
    pub zona_id: Option<i64>,
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl Validate for AuditQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
        rules::plausible_time(errors, "query", "desde", self.desde);
        rules::plausible_time(errors, "query", "hasta", self.hasta);
        if let (Some(d), Some(h)) = (self.desde, self.hasta)
            && d > h
        {
            errors.push(FieldError::query(
                "hasta",
                "value_error",
                "hasta must not be earlier than desde",
                Value::String(gad_core::time::rfc3339(h)),
            ));
        }
    }
}

/// The audit trail (level 3), newest first, with the personal values opened (or "[borrado]"
/// once their person was erased).
pub async fn audit_list(ctx: &Ctx, me: &Actor, q: &AuditQuery) -> ServiceResult<Vec<AuditRow>> {
    require(me, Nivel::Administrador)?;
    if let Some(z) = q.zona_id {
        crate::jurisdiccion::known_zone(ctx, "zona_id", z).await?;
    }
    let mut conn = ctx.db.acquire().await?;
    let mut rows = audit::list(
        &mut *conn,
        &audit::ListFilter {
            desde: q.desde,
            hasta: q.hasta,
            user_id: q.user_id,
            event_type: q.event_type.as_deref(),
            resource_type: q.resource_type.as_deref(),
            resource_id: q.resource_id.as_deref(),
            zona_id: q.zona_id,
            skip: q.skip.unwrap_or(0),
            limit: q.limit.unwrap_or(100),
        },
    )
    .await?;
    crate::audit::reveal(
        &ctx.personal,
        &mut conn,
        rows.iter_mut()
            .flat_map(|r| [&mut r.old_values, &mut r.new_values]),
    )
    .await?;
    Ok(rows)
}
