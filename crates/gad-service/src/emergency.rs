//! Emergencies (contract §8): raise one (the nearest available officer is dispatched
//! race-free), answer a dispatch (accept → en camino; decline → the next is called), ask for
//! backup, and the suggestions dispatchers see. The same functions serve the API and Telegram.
//!
//! Design: the whole dispatch (pick + task + link + efectivo state + history + audit +
//! idempotent response) is ONE data-modifying CTE, so without an idempotency key it is a single
//! round trip in an implicit transaction. With a key, the key is claimed first in the same
//! explicit transaction (`INSERT … ON CONFLICT`), so a concurrent retry with the same key waits
//! on the unique index until the first commits and then reads the stored response.

use std::time::Instant;

use gad_core::geo::{Lat, Lng, RadiusM, round2};
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, EstadoTarea, FieldError, Nivel, Prioridad, TipoTarea};
use gad_store::audit::{self, AuditEntry};
use gad_store::dispatch as store;
use gad_store::dispatch::{Assigned, Site};
use gad_store::emergency;
/// One nearby officer as `suggestions` answers it.
pub use gad_store::emergency::Suggestion;
use gad_store::nearest::{self, Order};
use gad_store::tareas::{Incidente, Tarea};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::dispatch::{self, Answer};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{
    Alert, AlertLevel, Audience, EmergencyAlert, EmergencyRefusedAlert, Event, ShortfallAlert,
};
use crate::metrics::Metrics;
use crate::stats;
use crate::wire::{AckAnswer, BackupAnswer, Llamado, Refuerzo};

pub const NONE_AVAILABLE: &str = "No efectivos with location data available";
/// Where a refused idempotency key is reported (`["header", IDEMPOTENCY_HEADER]`).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
const TASK_NOT_FOUND: &str = "Tarea no encontrada";
const NOTHING_PENDING: &str = "No hay un despacho pendiente de confirmación para este efectivo";
const TASK_CLOSED: &str = "La tarea está cerrada";
const BACKUP_NEEDS_ACCEPT: &str = "Solo puede pedir refuerzos quien va en camino o está en el \
lugar: aceptá primero el despacho (POST /api/v1/tasks/{id}/ack con {\"accept\": true}).";

// ---------------------------------------------------------------------------------------------
// Raise

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmergencyBody {
    /// With `lng`; either both, or `direccion` (geocoded).
    pub lat: Option<Lat>,
    /// With `lat`.
    pub lng: Option<Lng>,
    pub telegram_id: Option<i64>,
    #[schema(max_length = 1000)]
    pub descripcion: Option<String>,
    /// Default 10 000 metres.
    pub radius_m: Option<RadiusM>,
    /// A code of `/api/v1/tipos-incidente`: its response plan decides how many officers are
    /// dispatched and which specialities are preferred.
    #[schema(max_length = 50)]
    pub tipo_incidente: Option<String>,
    /// 1–5, 5 most urgent (default: the type's, else 3).
    #[schema(minimum = 1, maximum = 5)]
    pub prioridad: Option<i64>,
    /// The address as the caller said it; without `lat`/`lng` it is geocoded.
    #[schema(max_length = 200)]
    pub direccion: Option<String>,
    /// e.g. "entre Lavalle y Tucumán".
    #[schema(max_length = 200)]
    pub referencia: Option<String>,
    /// Who called (personal data: level 2+ reads it back).
    pub denunciante: Option<DenuncianteBody>,
}

/// The caller of an incident.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DenuncianteBody {
    #[schema(max_length = 200)]
    pub nombre: Option<String>,
    #[schema(max_length = 200)]
    pub telefono: Option<String>,
}

/// Longest free text of an incident's intake fields.
const INTAKE_MAX: usize = 200;

fn missing_point(field: &str) -> FieldError {
    FieldError::body(
        field,
        "missing",
        "Field required: give lat and lng, or direccion",
        Value::Null,
    )
}

impl Validate for EmergencyBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::opt_len(errors, "descripcion", &self.descripcion, 0, 1000);
        rules::opt_len(errors, "tipo_incidente", &self.tipo_incidente, 1, 50);
        rules::opt_len(errors, "direccion", &self.direccion, 1, INTAKE_MAX);
        rules::opt_len(errors, "referencia", &self.referencia, 0, INTAKE_MAX);
        if let Some(p) = self.prioridad
            && !(1..=5).contains(&p)
        {
            errors.push(FieldError::body(
                "prioridad",
                "value_error",
                "Input should be between 1 and 5",
                json!(p),
            ));
        }
        if let Some(d) = &self.denunciante {
            for (field, v) in [("nombre", &d.nombre), ("telefono", &d.telefono)] {
                if let Some(v) = v
                    && let Some((kind, msg)) = rules::length_problem(v, 0, INTAKE_MAX)
                {
                    errors.push(FieldError::new(
                        kind,
                        &["body", "denunciante", field],
                        msg,
                        Value::String(v.clone()),
                    ));
                }
            }
        }
        match (self.lat, self.lng) {
            (Some(_), Some(_)) => {}
            (Some(_), None) => errors.push(missing_point("lng")),
            (None, Some(_)) => errors.push(missing_point("lat")),
            (None, None) if self.direccion.is_none() => {
                errors.push(missing_point("lat"));
                errors.push(missing_point("lng"));
            }
            (None, None) => {}
        }
    }
}

impl EmergencyBody {
    fn radius(&self) -> f64 {
        self.radius_m.unwrap_or(RadiusM::DEFAULT).get()
    }
    fn intake(&self) -> emergency::Intake<'_> {
        let d = self.denunciante.as_ref();
        emergency::Intake {
            tipo_incidente: self.tipo_incidente.as_deref(),
            prioridad: self.prioridad.and_then(|p| i16::try_from(p).ok()),
            direccion: self.direccion.as_deref(),
            referencia: self.referencia.as_deref(),
            denunciante_nombre: d.and_then(|d| d.nombre.as_deref()),
            denunciante_telefono: d.and_then(|d| d.telefono.as_deref()),
        }
    }
    /// Any of the incident's intake fields given.
    fn has_intake(&self) -> bool {
        self.tipo_incidente.is_some()
            || self.prioridad.is_some()
            || self.direccion.is_some()
            || self.referencia.is_some()
            || self.denunciante.is_some()
    }
    /// Fingerprint of the request, to tell a retry from a different request under the same key.
    /// A request without intake fields hashes as it always did.
    fn fingerprint(&self) -> String {
        let mut canonical = json!([
            self.lat.map(Lat::get),
            self.lng.map(Lng::get),
            self.radius(),
            self.descripcion,
            self.telegram_id
        ]);
        if self.has_intake()
            && let Value::Array(a) = &mut canonical
        {
            let d = self.denunciante.as_ref();
            a.push(json!([
                self.tipo_incidente,
                self.prioridad,
                self.direccion,
                self.referencia,
                d.map(|d| &d.nombre),
                d.map(|d| &d.telefono)
            ]));
        }
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// Where the incident is: the body's point, or its `direccion` geocoded.
#[derive(Debug, Clone, Copy)]
struct Point {
    lat: f64,
    lng: f64,
}

/// Geocodes an address as the caller said it (the address search's best answer: the external
/// geocoder when configured, else the gazetteer): `None` when no place matches.
pub async fn resolve_address(ctx: &Ctx, direccion: &str) -> ServiceResult<Option<(f64, f64)>> {
    Ok(crate::lugares::geocode_first(ctx, direccion)
        .await?
        .map(|l| (l.lat, l.lng)))
}

const ADDRESS_NOT_FOUND: &str = "no se encontró la dirección";

async fn locate(ctx: &Ctx, b: &EmergencyBody) -> ServiceResult<Point> {
    if let (Some(lat), Some(lng)) = (b.lat, b.lng) {
        return Ok(Point {
            lat: lat.get(),
            lng: lng.get(),
        });
    }
    let direccion = b.direccion.as_deref().unwrap_or_default();
    match resolve_address(ctx, direccion).await? {
        Some((lat, lng)) => Ok(Point { lat, lng }),
        None => Err(ServiceError::validation(FieldError::body(
            "direccion",
            "value_error",
            ADDRESS_NOT_FOUND,
            Value::String(direccion.to_string()),
        ))),
    }
}

const UNKNOWN_TYPE: &str = "Tipo de incidente desconocido: ver GET /api/v1/tipos-incidente";

fn unknown_type(codigo: &str) -> ServiceError {
    ServiceError::validation(FieldError::body(
        "tipo_incidente",
        "value_error",
        UNKNOWN_TYPE,
        Value::String(codigo.to_string()),
    ))
}

/// A type deleted while its incident was being dispatched meets the foreign key: 422 at
/// `tipo_incidente` like any unknown type.
fn db_error(e: gad_store::DbError, b: &EmergencyBody) -> ServiceError {
    match b.tipo_incidente.as_deref() {
        Some(codigo) if gad_store::violates(&e, "tareas_tipo_incidente_fkey") => {
            unknown_type(codigo)
        }
        _ => e.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn request<'a>(
    ctx: &Ctx,
    me: &Actor,
    origin: &'a RequestContext,
    b: &'a EmergencyBody,
    at: Point,
    key: Option<&'a str>,
    received_at: &'a str,
) -> emergency::DispatchRequest<'a> {
    emergency::DispatchRequest {
        lat: at.lat,
        lng: at.lng,
        radius_m: b.radius(),
        caller_id: me.id,
        descripcion: b.descripcion.as_deref(),
        telegram_id: b.telegram_id,
        idempotency_key: key,
        received_at,
        ip: origin.ip.as_deref(),
        user_agent: origin.user_agent.as_deref(),
        request_id: origin.request_id.as_deref(),
        max_position_age_minutes: ctx.config.dispatch_max_position_age_minutes,
        ack_timeout_seconds: ctx.config.dispatch_ack_timeout_seconds as f64,
        intake: b.intake(),
        specialty_slack_m: ctx.config.dispatch_specialty_slack_m as f64,
        duty: ctx.config.duty,
    }
}

/// What raising an emergency came to.
pub enum Raised {
    /// An officer was dispatched: the answer body is `d.body`.
    Assigned(Box<emergency::Dispatched>),
    /// A retry under the same Idempotency-Key: the first answer, as stored.
    Replay { status: u16, body: Value },
}

async fn dispatch(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &EmergencyBody,
    at: Point,
    key: Option<&str>,
    received_at: &str,
) -> ServiceResult<Option<Raised>> {
    if key.is_none() && !capped(me) {
        // The desk without a key: one statement, one implicit transaction, one round trip.
        let req = request(ctx, me, origin, b, at, None, received_at);
        let dispatched = emergency::dispatch(&ctx.db, &req)
            .await
            .map_err(|e| db_error(e, b))?;
        return Ok(dispatched.map(|d| Raised::Assigned(Box::new(d))));
    }
    // With a key, or a capped caller: claim the key, count and dispatch in one transaction. If
    // PostGIS refuses the index's order (store::nearest), the whole transaction runs again
    // with the exact order.
    for order in [Order::Index, Order::Exact] {
        match dispatch_keyed(ctx, me, origin, b, at, key, received_at, order).await? {
            Keyed::Done(outcome) => return Ok(outcome),
            Keyed::Refused => nearest::log_fallback(),
        }
    }
    // Only the index order can be refused.
    Err(ServiceError::Internal(anyhow::anyhow!(
        "nearest-first dispatch refused in the exact order"
    )))
}

/// The keyed dispatch's transaction (`None`: nobody available), or word that PostGIS refused the
/// index's order.
enum Keyed {
    Done(Option<Raised>),
    Refused,
}

/// Is this caller's number of emergencies bounded? Level 1 is; supervisors at the desk are not.
fn capped(me: &Actor) -> bool {
    !me.is_supervisor()
}

/// The window of the per-caller bound on emergencies.
const EMERGENCY_WINDOW_SECS: i64 = 3600;

/// Refuses a capped caller's emergency beyond `EMERGENCY_MAX_PER_HOUR` in the rolling hour.
/// The caller's lock makes the count exact under concurrent requests of the same user.
async fn check_cap(ctx: &Ctx, me: &Actor, tx: &mut gad_store::Conn) -> ServiceResult<()> {
    if !capped(me) {
        return Ok(());
    }
    let limit = ctx.config.emergency_max_per_hour;
    emergency::lock_caller(tx, me.id).await?;
    let (raised, oldest_leaves_in) =
        emergency::raised_within(tx, me.id, EMERGENCY_WINDOW_SECS).await?;
    if raised < limit {
        return Ok(());
    }
    Err(ServiceError::RateLimited {
        limit,
        window_seconds: EMERGENCY_WINDOW_SECS,
        retry_after_seconds: oldest_leaves_in.unwrap_or(1.0).ceil().max(1.0) as i64,
    })
}

/// Claims the idempotency key (a key older than 24 h is reclaimed): `None` once claimed, or the
/// stored answer to replay. A concurrent request holding the same key makes this wait until it
/// commits (then we replay) or rolls back (then we dispatch).
async fn claim(
    tx: &mut gad_store::Tx<'_>,
    me: &Actor,
    b: &EmergencyBody,
    key: &str,
) -> ServiceResult<Option<Raised>> {
    let hash = b.fingerprint();
    if emergency::claim_key(tx, me.id, key, &hash).await? {
        return Ok(None);
    }
    match emergency::stored_response(tx, me.id, key).await? {
        // Same key, different request: refused with 422 (the key is the invalid input;
        // nothing is dispatched and the first response stays stored).
        Some((h, _, _)) if h != hash => Err(ServiceError::validation(FieldError::new(
            "value_error",
            &["header", IDEMPOTENCY_HEADER],
            "Idempotency-Key already used with a different request",
            Value::String(key.to_string()),
        ))),
        Some((_, Some(status), Some(body))) => Ok(Some(Raised::Replay {
            status: u16::try_from(status).unwrap_or(201),
            body,
        })),
        _ => Err(ServiceError::Refused(
            "A request with this Idempotency-Key is being processed".into(),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn dispatch_keyed(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &EmergencyBody,
    at: Point,
    key: Option<&str>,
    received_at: &str,
    order: Order,
) -> ServiceResult<Keyed> {
    let mut tx = ctx.db.begin().await?;
    if let Some(key) = key
        && let Some(replay) = claim(&mut tx, me, b, key).await?
    {
        tx.rollback().await?;
        return Ok(Keyed::Done(Some(replay)));
    }
    check_cap(ctx, me, &mut tx).await?;
    let req = request(ctx, me, origin, b, at, key, received_at);
    let dispatched = match emergency::dispatch_in(&mut tx, &req, order).await {
        Err(e) if order == Order::Index && nearest::refused(&e) => {
            tx.rollback().await?;
            return Ok(Keyed::Refused);
        }
        other => other.map_err(|e| db_error(e, b))?,
    };
    Ok(Keyed::Done(match dispatched {
        Some(d) => {
            tx.commit().await?;
            Some(Raised::Assigned(Box::new(d)))
        }
        None => {
            // Nothing was dispatched: release the key so a retry can try again.
            tx.rollback().await?;
            None
        }
    }))
}

/// Raises an emergency at the body's point: the nearest available officer is dispatched. `key`
/// (an Idempotency-Key, or one derived from a Telegram message) makes a retry replay the first
/// answer. Nobody available → 404 (counted and visible in metrics).
pub async fn raise(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &EmergencyBody,
    key: Option<&str>,
) -> ServiceResult<Raised> {
    let started = Instant::now();
    let received_at = gad_core::time::now_rfc3339();
    let at = locate(ctx, b).await?;
    let outcome = dispatch(ctx, me, origin, b, at, key, &received_at).await;
    let elapsed = started.elapsed().as_secs_f64();
    match outcome {
        Ok(Some(Raised::Assigned(d))) => {
            ctx.metrics.emergency_dispatch_seconds.observe(elapsed);
            Metrics::inc(&ctx.metrics.emergency_dispatch, "assigned");
            let fuera = crate::jurisdiccion::supervisors_elsewhere(ctx, d.comisaria_id).await;
            publish(ctx, me, b, at, &d, fuera);
            // The officer now delegates an open emergency: their statistics changed.
            stats::invalidate(ctx, [d.usuario_id, me.id]).await;
            Ok(Raised::Assigned(d))
        }
        Ok(None) => {
            // A typed incident that found nobody: an unknown type is the caller's mistake.
            if let Some(codigo) = b.tipo_incidente.as_deref()
                && !gad_store::tipos_incidente::exists(&ctx.db, codigo).await?
            {
                return Err(unknown_type(codigo));
            }
            ctx.metrics.emergency_dispatch_seconds.observe(elapsed);
            Metrics::inc(&ctx.metrics.emergency_dispatch, "none_available");
            Err(ServiceError::NotFound(NONE_AVAILABLE.into()))
        }
        Ok(Some(replay)) => Ok(replay),
        Err(e @ ServiceError::RateLimited { .. }) => {
            Metrics::inc(&ctx.metrics.emergency_dispatch, "rate_limited");
            publish_refused(ctx, me, at, b, &e);
            Err(e)
        }
        Err(e) => {
            if !matches!(e, ServiceError::Validation(_)) {
                Metrics::inc(&ctx.metrics.emergency_dispatch, "error");
            }
            Err(e)
        }
    }
}

/// `alert` to supervisors for an emergency refused by the caller's hourly bound: the refusal is
/// seen by people at the desk, who can call the officer back.
fn publish_refused(ctx: &Ctx, me: &Actor, at: Point, b: &EmergencyBody, e: &ServiceError) {
    let ServiceError::RateLimited {
        limit,
        window_seconds,
        ..
    } = *e
    else {
        return;
    };
    tracing::warn!(
        user_id = me.id,
        limit,
        "emergency refused: hourly bound reached"
    );
    ctx.events.publish(
        Event::Alert(Alert::EmergencyRefused(EmergencyRefusedAlert {
            title: "Emergencia rechazada por límite".into(),
            level: AlertLevel::Critical,
            reported_by: me.id,
            lat: at.lat,
            lng: at.lng,
            descripcion: b.descripcion.clone(),
            limite: limit,
            window_seconds,
            refused_at: chrono::Utc::now(),
        }))
        .to(Audience::Supervisors)
        .topic("emergencias"),
    );
}

/// `alert` (assigned officer + supervisors, topic `emergencias`) and `task_created`; the plan's
/// backup officers' calls; a shortfall `alert` to supervisors. Only after the dispatch
/// transaction committed.
fn publish(
    ctx: &Ctx,
    me: &Actor,
    b: &EmergencyBody,
    at: Point,
    d: &emergency::Dispatched,
    supervisors_elsewhere: Vec<i64>,
) {
    let site = Site {
        id: d.task_id,
        codigo: d.codigo.clone(),
        lng: Some(at.lng),
        lat: Some(at.lat),
        radius_m: b.radius(),
        creado_por: Some(me.id),
        delegado: Some(d.usuario_id),
        open: true,
        nro_incidente: Some(d.nro_incidente.clone()),
        tipo_incidente: b.tipo_incidente.clone(),
        tipo_nombre: d.tipo_nombre.clone(),
        prioridad_incidente: Some(d.prioridad_incidente),
        direccion: b.direccion.clone(),
        referencia: b.referencia.clone(),
    };
    let refuerzos: Vec<Assigned> = serde_json::from_value(d.refuerzos.clone()).unwrap_or_default();
    let mut users = vec![d.usuario_id];
    users.extend(refuerzos.iter().map(|a| a.usuario_id));
    let involved = Audience::Involved { user_ids: users };
    ctx.events.publish(
        Event::Alert(Alert::Emergency(EmergencyAlert {
            title: "Emergencia".into(),
            level: AlertLevel::Critical,
            task_id: d.task_id,
            codigo: d.codigo.clone(),
            efectivo_id: d.efectivo_id,
            usuario_id: d.usuario_id,
            distance_m: round2(d.distance_m),
            lat: at.lat,
            lng: at.lng,
            descripcion: b.descripcion.clone(),
            reported_by: me.id,
            created_at: d.created_at,
            incidente: dispatch::summary(&site),
            alerta_id: d.alerta_id,
        }))
        .to(Audience::Jurisdiccion {
            user_ids: vec![d.usuario_id],
            excepto: supervisors_elsewhere.clone(),
        })
        .topic("emergencias")
        .topic(format!("task:{}", d.task_id)),
    );
    // The same wire object as every other task_created: what the dispatch statement inserted
    // (inicio_programado, inicio_real, created_at and updated_at are all its `now()`). The
    // caller's personal data stays out of events (officers receive them).
    let mut efectivos_asignados = vec![d.efectivo_id];
    efectivos_asignados.extend(refuerzos.iter().map(|a| a.efectivo_id));
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
        efectivos_asignados,
        ubicacion_lat: Some(at.lat),
        ubicacion_lon: Some(at.lng),
        ubicacion_descripcion: None,
        notas: json!({}),
        created_at: d.created_at,
        updated_at: d.created_at,
        deleted_at: None,
        es_emergencia: true,
        nro_incidente: Some(d.nro_incidente.clone()),
        incidente: Some(Incidente {
            tipo_incidente: b.tipo_incidente.clone(),
            prioridad: d.prioridad_incidente,
            direccion: b.direccion.clone(),
            referencia: b.referencia.clone(),
            denunciante: None,
            codigo_cierre: None,
            resumen_cierre: None,
            cerrada_at: None,
        }),
        zona_id: d.zona_id,
        comisaria_id: d.comisaria_id,
        cuadrante_id: None,
    };
    ctx.events.publish(
        Event::TaskCreated(tarea)
            .to(involved)
            .topic(format!("task:{}", d.task_id)),
    );
    for a in &refuerzos {
        for e in dispatch::assigned_events(&site, a, true) {
            ctx.events.publish(e);
        }
    }
    if d.faltantes > 0
        && let Some(tipo) = &b.tipo_incidente
    {
        let despachados = 1 + refuerzos.len() as i64;
        tracing::warn!(
            task_id = d.task_id,
            faltantes = d.faltantes,
            "emergency: response plan short of officers"
        );
        ctx.events.publish(
            Event::Alert(Alert::Shortfall(ShortfallAlert {
                title: "Dotación incompleta".into(),
                level: AlertLevel::Warning,
                task_id: d.task_id,
                codigo: d.codigo.clone(),
                nro_incidente: Some(d.nro_incidente.clone()),
                tipo_incidente: tipo.clone(),
                requeridos: despachados + d.faltantes,
                despachados,
                faltantes: d.faltantes,
                lat: at.lat,
                lng: at.lng,
            }))
            .to(Audience::Jurisdiccion {
                user_ids: Vec::new(),
                excepto: supervisors_elsewhere,
            })
            .topic("emergencias")
            .topic(format!("task:{}", d.task_id)),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Answer a dispatch

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

fn ack_status(accept: bool) -> &'static str {
    if accept { "aceptado" } else { "rechazado" }
}

/// The dispatched officer (or level 2+ on their behalf) accepts or declines.
pub async fn ack(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    b: &AckBody,
) -> ServiceResult<AckAnswer> {
    let mut tx = ctx.db.begin().await?;
    // Level 1 sees only emergencies it was called to: anything else is 404 before the task's
    // state is read and before its row is locked (a stranger neither learns nor blocks anything).
    let own = match me.efectivo_id {
        _ if me.is_supervisor() => None,
        Some(own) if store::was_called(&mut tx, task_id, own).await? => Some(own),
        _ => return Err(ServiceError::NotFound(TASK_NOT_FOUND.into())),
    };
    let site = store::lock_site(&mut tx, task_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(TASK_NOT_FOUND.into()))?;
    if !site.open {
        return Err(ServiceError::Refused(TASK_CLOSED.into()));
    }
    let efectivo_id = if let Some(own) = own {
        own
    } else {
        match b.efectivo_id {
            Some(id) => id,
            None => {
                let pending = store::pending_officers(&mut tx, task_id).await?;
                match pending.as_slice() {
                    [only] => *only,
                    [] => return Err(ServiceError::Refused(NOTHING_PENDING.into())),
                    _ => {
                        return Err(ServiceError::validation(FieldError::body(
                            "efectivo_id",
                            "missing",
                            "Several officers are pending: name the one answering",
                            Value::Null,
                        )));
                    }
                }
            }
        }
    };
    let answer = if b.accept {
        Answer::Accept
    } else {
        Answer::Decline
    };
    let out = dispatch::answer(
        ctx,
        &mut tx,
        &site,
        efectivo_id,
        answer,
        Some(me.id),
        b.motivo.as_deref(),
    )
    .await?
    .ok_or_else(|| ServiceError::Refused(NOTHING_PENDING.into()))?;
    let answer = AckAnswer {
        task_id,
        efectivo_id,
        ack_status: ack_status(b.accept),
        next: out.next.as_ref().map(|a| Llamado {
            efectivo_id: a.efectivo_id,
            distance_m: round2(a.distance_m),
            ack_deadline: a.vence_at,
        }),
        sin_asignar: out.sin_asignar,
    };
    let body = serde_json::to_value(&answer).map_err(ServiceError::internal)?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("dispatch_acknowledged", Some(me.id))
            .resource("tarea", task_id)
            .values(None, Some(body.clone()))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    for e in out.events {
        ctx.events.publish(e);
    }
    // A decline hands the emergency to the next officer: both delegates' statistics changed.
    stats::invalidate(
        ctx,
        site.delegado
            .into_iter()
            .chain(out.next.map(|a| a.usuario_id)),
    )
    .await;
    Ok(answer)
}

// ---------------------------------------------------------------------------------------------
// Backup

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BackupBody {
    /// How many more officers (1–10).
    #[schema(minimum = 1, maximum = 10)]
    pub efectivos: i64,
    /// Search radius (default: the emergency's own).
    pub radius_m: Option<RadiusM>,
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
    }
}

/// The window in which one officer asks backup for one task at most once.
const BACKUP_WINDOW_SECS: i64 = 60;

/// How many of the `requested` officers may be called: at most `BACKUP_MAX_PER_TASK` backup
/// officers in all (a request beyond what is left gets what is left), and one request per
/// officer per task per minute (level 1; the desk is not throttled). The caller holds the task
/// row's lock, so the counts are exact with any number of instances.
async fn backup_allowance(
    ctx: &Ctx,
    me: &Actor,
    tx: &mut gad_store::Conn,
    task_id: i64,
    requested: i64,
) -> ServiceResult<i64> {
    let max = ctx.config.backup_max_per_task;
    if !me.is_supervisor()
        && let Some(wait) =
            store::backup_retry_after(tx, task_id, me.id, BACKUP_WINDOW_SECS).await?
    {
        return Err(ServiceError::RateLimited {
            limit: 1,
            window_seconds: BACKUP_WINDOW_SECS,
            retry_after_seconds: wait.ceil().max(1.0) as i64,
        });
    }
    let left = max - store::backup_called(tx, task_id).await?;
    if left <= 0 {
        // The bound does not free up with time: a retry waits for the window at least.
        return Err(ServiceError::RateLimited {
            limit: max,
            window_seconds: BACKUP_WINDOW_SECS,
            retry_after_seconds: BACKUP_WINDOW_SECS,
        });
    }
    Ok(requested.min(left))
}

/// Adds the n nearest eligible officers to an emergency (level 1: one they are on the way to or
/// on scene for), within the backup bounds.
pub async fn backup(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    b: &BackupBody,
) -> ServiceResult<BackupAnswer> {
    let mut tx = ctx.db.begin().await?;
    let mut site = store::lock_site(&mut tx, task_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(TASK_NOT_FOUND.into()))?;
    if !me.is_supervisor() {
        let Some(own) = me.efectivo_id else {
            return Err(ServiceError::NotFound(TASK_NOT_FOUND.into()));
        };
        // Level 1 sees only emergencies it is dispatched to (never reveal others), and asks
        // backup only once it is on the way or on scene.
        if !store::is_dispatched(&mut tx, task_id, own).await? {
            return Err(ServiceError::NotFound(TASK_NOT_FOUND.into()));
        }
        if !store::has_accepted(&mut tx, task_id, own).await? {
            return Err(ServiceError::Forbidden(BACKUP_NEEDS_ACCEPT.into()));
        }
    }
    if !site.open {
        return Err(ServiceError::Refused(TASK_CLOSED.into()));
    }
    let n = backup_allowance(ctx, me, &mut tx, task_id, b.efectivos).await?;
    if let Some(r) = b.radius_m {
        site.radius_m = r.get();
    }
    let cfg = &ctx.config;
    let added = store::assign_nearest(
        &mut tx,
        &site,
        n,
        0,
        true,
        cfg.dispatch_max_position_age_minutes,
        cfg.dispatch_ack_timeout_seconds,
        cfg.duty,
    )
    .await?;
    if added.is_empty() {
        return Err(ServiceError::NotFound(NONE_AVAILABLE.into()));
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
                distance_m: round2(a.distance_m),
                ack_status: "pendiente_confirmacion",
                ack_deadline: a.vence_at,
            })
            .collect(),
    };
    let body = serde_json::to_value(&answer).map_err(ServiceError::internal)?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("dispatch_backup", Some(me.id))
            .resource("tarea", task_id)
            .values(None, Some(body.clone()))
            .status(201)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    for e in events {
        ctx.events.publish(e);
    }
    Ok(answer)
}

// ---------------------------------------------------------------------------------------------
// Suggestions

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionsQuery {
    pub lat: Lat,
    pub lng: Lng,
    /// Default 10 000 metres.
    pub radius_m: Option<RadiusM>,
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

/// The nearest available officers within the radius, nearest first (level 2+); nothing is assigned.
pub async fn suggestions(
    ctx: &Ctx,
    me: &Actor,
    q: &SuggestionsQuery,
) -> ServiceResult<Vec<Suggestion>> {
    require(me, Nivel::Supervisor)?;
    let rows = emergency::suggestions(
        &ctx.db,
        &emergency::SuggestionFilter {
            lat: q.lat.get(),
            lng: q.lng.get(),
            radius_m: q.radius_m.unwrap_or(RadiusM::DEFAULT).get(),
            especialidad: q.especialidad.as_deref(),
            unidad: q.unidad.as_deref(),
            limit: q.limit.unwrap_or(5),
            max_position_age_minutes: ctx.config.dispatch_max_position_age_minutes,
            caller_id: me.id,
            duty: ctx.config.duty,
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|s| emergency::Suggestion {
            distance_m: round2(s.distance_m),
            ..s
        })
        .collect())
}
