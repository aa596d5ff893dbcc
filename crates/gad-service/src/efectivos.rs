//! Efectivos (contract §7): list/get for supervisors (an officer may read itself),
//! create/update/delete for administrators, and location/availability reports by the officer
//! itself or a supervisor — from the API, the gateway route or Telegram alike.

use crate::audit;
use chrono::{DateTime, Duration, Utc};
use gad_core::geo::{Lat, Lng, RadiusM};
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, EstadoDisponibilidad, FieldError, Nivel};
use gad_store::audit::AuditEntry;
use gad_store::efectivos::{self as store, EFECTIVO_NOT_FOUND, ListFilter};
/// The row these use cases answer and its wire form (`EfectivoRow::to_wire` → `Efectivo`).
pub use gad_store::efectivos::{Efectivo, EfectivoRow};
use gad_store::positions::{Fix, Written};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{
    Audience, DomainEvent, EfectivoLocation, EfectivoStatusChanged, Event, OfficerStatus,
};

fn not_found() -> ServiceError {
    ServiceError::NotFound(EFECTIVO_NOT_FOUND.into())
}

/// Own record or level 2+. Anyone else is refused before the body is read: a level-1 user
/// gets 403 for another officer's record (the id is part of the URL they chose).
/// A position this close to the incident (metres) counts as arrival of an officer en camino.
const ARRIVAL_RADIUS_M: f64 = 100.0;

pub fn may_act_on(me: &Actor, id: i64) -> bool {
    me.is_supervisor() || me.efectivo_id == Some(id)
}

fn greater_equal_zero(errors: &mut Vec<FieldError>, field: &str, v: Option<f64>) {
    if let Some(v) = v
        && (!v.is_finite() || v < 0.0)
    {
        errors.push(FieldError::body(
            field,
            "greater_than_equal",
            "Input should be greater than or equal to 0",
            json!(v),
        ));
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// disponible | en_tarea | fuera_servicio | no_disponible
    pub estado_disponibilidad: Option<EstadoDisponibilidad>,
    pub unidad: Option<String>,
    /// With near_lng: only efectivos within radius_m, nearest first, with distance_m.
    pub near_lat: Option<Lat>,
    pub near_lng: Option<Lng>,
    /// Default 10 000 metres (only with near_lat/near_lng).
    pub radius_m: Option<RadiusM>,
}

impl Validate for ListQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
        match (self.near_lat, self.near_lng) {
            (Some(_), None) => errors.push(FieldError::query(
                "near_lng",
                "missing",
                "Field required (near_lat and near_lng go together)",
                Value::Null,
            )),
            (None, Some(_)) => errors.push(FieldError::query(
                "near_lat",
                "missing",
                "Field required (near_lat and near_lng go together)",
                Value::Null,
            )),
            _ => {}
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateEfectivo {
    pub usuario_id: i64,
    #[schema(min_length = 1, max_length = 50)]
    pub codigo_interno: String,
    #[schema(max_length = 100)]
    pub rango: Option<String>,
    #[schema(max_length = 100)]
    pub unidad: Option<String>,
    #[schema(max_length = 100)]
    pub especialidad: Option<String>,
    pub estado_disponibilidad: Option<EstadoDisponibilidad>,
}

impl Validate for CreateEfectivo {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::len(errors, "codigo_interno", &self.codigo_interno, 1, 50);
        rules::opt_len(errors, "rango", &self.rango, 0, 100);
        rules::opt_len(errors, "unidad", &self.unidad, 0, 100);
        rules::opt_len(errors, "especialidad", &self.especialidad, 0, 100);
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateEfectivo {
    #[schema(min_length = 1, max_length = 50)]
    pub codigo_interno: Option<String>,
    #[schema(max_length = 100)]
    pub rango: Option<String>,
    #[schema(max_length = 100)]
    pub unidad: Option<String>,
    #[schema(max_length = 100)]
    pub especialidad: Option<String>,
    pub estado_disponibilidad: Option<EstadoDisponibilidad>,
}

impl Validate for UpdateEfectivo {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::opt_len(errors, "codigo_interno", &self.codigo_interno, 1, 50);
        rules::opt_len(errors, "rango", &self.rango, 0, 100);
        rules::opt_len(errors, "unidad", &self.unidad, 0, 100);
        rules::opt_len(errors, "especialidad", &self.especialidad, 0, 100);
    }
}

/// The officer's availability from its row (an unknown label reads as `no_disponible`).
fn estado_of(db_label: &str) -> EstadoDisponibilidad {
    EstadoDisponibilidad::from_db(db_label).unwrap_or(EstadoDisponibilidad::NoDisponible)
}

fn status_event(row: &EfectivoRow, anterior: &str) -> DomainEvent {
    Event::EfectivoStatusChanged(EfectivoStatusChanged::Set(OfficerStatus {
        efectivo_id: row.id,
        usuario_id: row.usuario_id,
        estado_anterior: estado_of(anterior),
        estado: estado_of(&row.estado),
        unidad: row.unidad.clone(),
        timestamp: row.ultima_actualizacion_estado,
    }))
    .to(Audience::Involved {
        user_ids: vec![row.usuario_id],
    })
    .topic(format!("efectivo:{}", row.id))
}

/// Clock skew allowed on a device's `recorded_at` (a fix "from the future" beyond it is refused).
pub const MAX_FUTURE_SKEW_S: i64 = 60;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UbicacionBody {
    pub lat: Lat,
    pub lng: Lng,
    /// ≥ 0 metres
    #[schema(minimum = 0.0)]
    pub accuracy_m: Option<f64>,
    /// 0–360 degrees
    #[schema(minimum = 0.0, maximum = 360.0)]
    pub heading: Option<f64>,
    /// ≥ 0 m/s
    #[schema(minimum = 0.0)]
    pub speed: Option<f64>,
    /// When the device took the fix (RFC 3339); default: when the server received it. At most
    /// 60 s in the future and not older than LOCATION_RETENTION_DAYS. The newest fix of an
    /// officer is its current position: an older one is kept in the history only.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recorded_at: Option<DateTime<Utc>>,
}

impl Validate for UbicacionBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        greater_equal_zero(errors, "accuracy_m", self.accuracy_m);
        rules::opt_range(errors, "heading", self.heading, 0.0, 360.0);
        greater_equal_zero(errors, "speed", self.speed);
        if let Some(t) = self.recorded_at
            && t > Utc::now() + Duration::seconds(MAX_FUTURE_SKEW_S)
        {
            errors.push(FieldError::body(
                "recorded_at",
                "value_error",
                "recorded_at is in the future",
                json!(gad_core::time::rfc3339(t)),
            ));
        }
    }
}

impl UbicacionBody {
    /// The fix this body reports for officer `id`, once `recorded_at` (default: now) is inside
    /// the retention window; the other rules are [`Validate`]'s.
    pub fn into_fix(self, id: i64, ctx: &Ctx) -> Result<Fix, Box<FieldError>> {
        let now = Utc::now();
        let recorded_at = self.recorded_at.unwrap_or(now);
        if recorded_at < now - Duration::days(ctx.config.location_retention_days) {
            return Err(Box::new(FieldError::body(
                "recorded_at",
                "value_error",
                "recorded_at is older than the retention window (LOCATION_RETENTION_DAYS)",
                json!(gad_core::time::rfc3339(recorded_at)),
            )));
        }
        Ok(Fix {
            efectivo_id: id,
            lat: self.lat.get(),
            lng: self.lng.get(),
            accuracy_m: self.accuracy_m,
            heading: self.heading,
            speed: self.speed,
            recorded_at,
        })
    }
}

/// What follows a committed fix that became the officer's current position (single and batch
/// routes alike): an officer on the way who comes within 100 m of the incident is on scene,
/// and the location event goes out. Returns the officer as it now stands.
pub async fn after_applied_fix(
    ctx: &Ctx,
    mut row: EfectivoRow,
    fix: &Fix,
) -> ServiceResult<EfectivoRow> {
    let id = fix.efectivo_id;
    if row.estado == EstadoDisponibilidad::EnCamino.as_db()
        && let Some(r) = arrive(ctx, id, row.usuario_id).await?
    {
        row = r;
    }
    crate::zona_vigilancia::on_fix(ctx, id, fix.lat, fix.lng, fix.recorded_at).await;
    ctx.events.publish(
        Event::EfectivoLocationUpdate(EfectivoLocation {
            efectivo_id: row.id,
            usuario_id: row.usuario_id,
            lat: fix.lat,
            lng: fix.lng,
            accuracy_m: fix.accuracy_m,
            heading: fix.heading,
            speed: fix.speed,
            estado: estado_of(&row.estado),
            updated_at: row.ubicacion_updated_at,
        })
        .to(Audience::Involved {
            user_ids: vec![row.usuario_id],
        })
        .topic(format!("efectivo:{id}")),
    );
    Ok(row)
}

/// After a committed fix of an officer en camino: if it is now within 100 m of its incident,
/// it has arrived (own transaction, the row locked, the state checked again). Returns the
/// officer after the arrival, or None when nothing changed.
async fn arrive(ctx: &Ctx, id: i64, usuario_id: i64) -> ServiceResult<Option<EfectivoRow>> {
    let mut tx = ctx.db.begin().await?;
    if !gad_store::positions::lock_if_en_camino(&mut tx, id).await? {
        return Ok(None);
    }
    let tasks = gad_store::dispatch::arrive_near(&mut tx, id, ARRIVAL_RADIUS_M).await?;
    if tasks.is_empty() {
        return Ok(None);
    }
    gad_store::dispatch::set_unit_status(&mut tx, id, "EN_ESCENA").await?;
    let mut events = crate::dispatch::arrived(ctx, &mut tx, id, usuario_id, &tasks, None).await?;
    let row = store::by_id(&mut *tx, id, false)
        .await?
        .ok_or_else(not_found)?;
    events.push(status_event(&row, "EN_CAMINO"));
    tx.commit().await?;
    for e in events {
        ctx.events.publish(e);
    }
    Ok(Some(row))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DisponibilidadBody {
    pub estado: EstadoDisponibilidad,
}

impl Validate for DisponibilidadBody {}

/// list efectivos
pub async fn list(ctx: &Ctx, me: &Actor, q: &ListQuery) -> ServiceResult<Vec<EfectivoRow>> {
    require(me, Nivel::Supervisor)?;
    let near = match (q.near_lat, q.near_lng) {
        (Some(lat), Some(lng)) => Some((
            lat.get(),
            lng.get(),
            q.radius_m.unwrap_or(RadiusM::DEFAULT).get(),
        )),
        _ => None,
    };
    let filter = ListFilter {
        estado: q.estado_disponibilidad,
        unidad: q.unidad.as_deref(),
        near,
        skip: q.skip.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
    };
    let rows = store::list(&ctx.db, &filter).await?;
    Ok(rows)
}

/// create efectivo
pub async fn create(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &CreateEfectivo,
) -> ServiceResult<EfectivoRow> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    // Lock the usuario so a concurrent soft delete cannot slip in between check and insert.
    if !store::lock_live_usuario(&mut tx, b.usuario_id).await? {
        return Err(ServiceError::validation(FieldError::body(
            "usuario_id",
            "value_error",
            "Usuario not found",
            json!(b.usuario_id),
        )));
    }
    let estado = b
        .estado_disponibilidad
        .unwrap_or(EstadoDisponibilidad::Disponible);
    let id = store::insert(
        &mut *tx,
        store::NewEfectivo {
            usuario_id: b.usuario_id,
            codigo_interno: &b.codigo_interno,
            rango: b.rango.as_deref(),
            unidad: b.unidad.as_deref(),
            especialidad: b.especialidad.as_deref(),
            estado,
        },
    )
    .await?;
    let row = store::by_id(&mut *tx, id, false)
        .await?
        .ok_or_else(|| ServiceError::internal("efectivo vanished after insert"))?;
    let body = row.to_json();
    audit::record(
        ctx,
        &mut tx,
        &AuditEntry::new("efectivo_created", Some(me.id))
            .resource("efectivo", id)
            .values(None, Some(body.clone()))
            .status(201)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// get efectivo
pub async fn get(ctx: &Ctx, me: &Actor, id: i64) -> ServiceResult<EfectivoRow> {
    if !may_act_on(me, id) {
        return Err(not_found());
    }
    let row = store::by_id(&ctx.db, id, false)
        .await?
        .ok_or_else(not_found)?;
    Ok(row)
}

/// update efectivo
pub async fn update(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
    b: &UpdateEfectivo,
) -> ServiceResult<EfectivoRow> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    let old = store::by_id(&mut *tx, id, false)
        .await?
        .ok_or_else(not_found)?;
    store::update(
        &mut *tx,
        id,
        store::EfectivoChanges {
            codigo_interno: b.codigo_interno.as_deref(),
            rango: b.rango.as_deref(),
            unidad: b.unidad.as_deref(),
            especialidad: b.especialidad.as_deref(),
            estado: b.estado_disponibilidad,
        },
    )
    .await?;
    let row = store::by_id(&mut *tx, id, false)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        ctx,
        &mut tx,
        &AuditEntry::new("efectivo_updated", Some(me.id))
            .resource("efectivo", id)
            .values(Some(old.to_json()), Some(row.to_json()))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    if old.estado != row.estado {
        ctx.events.publish(status_event(&row, &old.estado));
    }
    Ok(row)
}

/// delete efectivo
pub async fn delete(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
) -> ServiceResult<EfectivoRow> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    if !store::soft_delete(&mut *tx, id).await? {
        return Err(not_found());
    }
    let row = store::by_id(&mut *tx, id, true)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        ctx,
        &mut tx,
        &AuditEntry::new("efectivo_deleted", Some(me.id))
            .resource("efectivo", id)
            .values(None, Some(row.to_json()))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// update ubicacion
pub async fn set_location(
    ctx: &Ctx,
    me: &Actor,
    id: i64,
    b: UbicacionBody,
) -> ServiceResult<EfectivoRow> {
    if !may_act_on(me, id) {
        return Err(ServiceError::InsufficientLevel);
    }
    let fix = b
        .into_fix(id, ctx)
        .map_err(|e| ServiceError::validation(*e))?;
    let (row, applied) = match ctx.ingest.submit(fix.clone()).await? {
        Written::NotFound => return Err(not_found()),
        Written::Stored { row, applied } => (*row, applied),
    };
    let row = if applied {
        after_applied_fix(ctx, row, &fix).await?
    } else {
        row
    };
    Ok(row)
}

/// update disponibilidad
pub async fn set_availability(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
    b: &DisponibilidadBody,
) -> ServiceResult<EfectivoRow> {
    if !may_act_on(me, id) {
        return Err(ServiceError::InsufficientLevel);
    }
    let mut tx = ctx.db.begin().await?;
    // Unit status follows its transitions: en_tarea / en_camino come only from
    // dispatch and acknowledgement; en_escena is an arrival.
    let current = store::lock_status(&mut tx, id).await?;
    let current = current
        .as_deref()
        .and_then(EstadoDisponibilidad::from_db)
        .ok_or_else(not_found)?;
    if !current.may_set(b.estado) {
        return Err(ServiceError::ConflictBody(json!({
            "detail": format!("Transición de disponibilidad no permitida: {} → {}", current.as_wire(), b.estado.as_wire()),
            "allowed": current.settable_from().iter().map(|e| e.as_wire()).collect::<Vec<_>>(),
        })));
    }
    let anterior = store::set_disponibilidad(&mut *tx, id, b.estado).await?;
    let anterior = anterior.ok_or_else(not_found)?;
    let row = store::by_id(&mut *tx, id, false)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        ctx,
        &mut tx,
        &AuditEntry::new("efectivo_disponibilidad", Some(me.id))
            .resource("efectivo", id)
            .values(
                Some(json!({"estado_disponibilidad": EstadoDisponibilidad::from_db(&anterior)})),
                Some(json!({"estado_disponibilidad": b.estado})),
            )
            .status(200)
            .context(origin),
    )
    .await?;
    let arrivals = if b.estado == EstadoDisponibilidad::EnEscena && current != b.estado {
        let tasks = gad_store::dispatch::arrive_all(&mut tx, id).await?;
        crate::dispatch::arrived(ctx, &mut tx, id, row.usuario_id, &tasks, Some(me.id)).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    ctx.events.publish(status_event(&row, &anterior));
    for e in arrivals {
        ctx.events.publish(e);
    }
    Ok(row)
}
