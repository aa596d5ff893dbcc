//! The roster: shifts (`/api/v1/turnos`), repeating patterns, who is on duty now, clock-in and
//! clock-out, and leave (`/api/v1/licencias`). Written by level 2+; an officer reads their own
//! shifts, clocks in and out of them and asks for leave for themself. Every write is audited.
//!
//! Whether the roster decides who may be called is `DUTY_MODE` (`config.duty`); the rule itself
//! is `gad_store::turnos::on_duty_sql`, part of the one dispatch rule.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
use gad_store::turnos::{self as store, TurnoFields, TurnoFilter};
pub use gad_store::turnos::{EnTurno, Licencia, Turno};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::authorize::require;
use crate::calendario::local_instant;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{Alert, AlertLevel, Audience, Event, ShiftAlert, ShiftClock};

const NOT_FOUND: &str = "Turno no encontrado";
const LIC_NOT_FOUND: &str = "Licencia no encontrada";
const OVERLAP: &str = "El efectivo ya tiene un turno que se superpone con ese horario";
const NOT_OFFICER: &str = "Solo un efectivo puede pedir una licencia para sí";
/// Longest shift.
const MAX_HOURS: i64 = 24;
/// Longest range a pattern may fill, in days.
const MAX_PATTERN_DAYS: i64 = 92;
/// Most shifts one pattern may create.
const MAX_PATTERN_SHIFTS: usize = 2000;
/// Longest leave, in days.
const MAX_LEAVE_DAYS: i64 = 366;

/// `POST`/`PUT` body of a shift.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TurnoBody {
    pub efectivo_id: i64,
    /// RFC 3339.
    pub inicio: DateTime<Utc>,
    /// RFC 3339, after `inicio`, at most 24 h later.
    pub fin: DateTime<Utc>,
    /// Mobile or post (free text), 1–100.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub unidad: Option<String>,
    /// The cuadrante the shift patrols (a zone of `tipo` `cuadrante`, else 422): an officer
    /// outside it during the shift raises `zona_salida`.
    pub zona_id: Option<i64>,
    #[schema(max_length = 1000)]
    pub notas: Option<String>,
}

fn check_span(errors: &mut Vec<FieldError>, inicio: DateTime<Utc>, fin: DateTime<Utc>) {
    if fin <= inicio {
        errors.push(FieldError::body(
            "fin",
            "value_error",
            "fin must be after inicio",
            json!(gad_core::time::rfc3339(fin)),
        ));
    } else if fin - inicio > Duration::hours(MAX_HOURS) {
        errors.push(FieldError::body(
            "fin",
            "value_error",
            "A shift lasts at most 24 hours",
            json!(gad_core::time::rfc3339(fin)),
        ));
    }
}

fn opt_text(errors: &mut Vec<FieldError>, field: &str, v: &Option<String>, min: usize, max: usize) {
    if let Some(s) = v {
        rules::len(errors, field, rules::trim(s), min, max);
    }
}

impl Validate for TurnoBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_span(errors, self.inicio, self.fin);
        opt_text(errors, "unidad", &self.unidad, 1, 100);
        if let Some(n) = &self.notas {
            rules::len(errors, "notas", n, 0, 1000);
        }
    }
}

impl TurnoBody {
    fn fields(&self) -> TurnoFields<'_> {
        TurnoFields {
            efectivo_id: self.efectivo_id,
            inicio: self.inicio,
            fin: self.fin,
            unidad: self.unidad.as_deref().map(rules::trim),
            zona_id: self.zona_id,
            notas: self.notas.as_deref(),
        }
    }
}

/// Filters and page of the shift list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub efectivo_id: Option<i64>,
    /// RFC 3339: shifts ending after it.
    pub desde: Option<DateTime<Utc>>,
    /// RFC 3339: shifts starting before it.
    pub hasta: Option<DateTime<Utc>>,
    pub unidad: Option<String>,
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl Validate for ListQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
    }
}

fn overlap_conflict(existing: &Turno) -> ServiceResult<ServiceError> {
    Ok(ServiceError::ConflictBody(json!({
        "detail": OVERLAP,
        "turno": serde_json::to_value(existing).map_err(ServiceError::internal)?,
    })))
}

fn to_value<T: Serialize>(t: &T) -> ServiceResult<Value> {
    serde_json::to_value(t).map_err(ServiceError::internal)
}

/// Shifts, by start (level 2+: any; level 1: their own only, whatever `efectivo_id` says).
pub async fn list(ctx: &Ctx, me: &Actor, q: &ListQuery) -> ServiceResult<Vec<Turno>> {
    let efectivo_id = if me.is_supervisor() {
        q.efectivo_id
    } else {
        match me.efectivo_id {
            Some(id) => Some(id),
            None => return Ok(Vec::new()),
        }
    };
    Ok(store::list(
        &ctx.db,
        &TurnoFilter {
            efectivo_id,
            desde: q.desde,
            hasta: q.hasta,
            unidad: q.unidad.as_deref(),
            skip: q.skip.unwrap_or(0),
            limit: q.limit.unwrap_or(100),
        },
    )
    .await?)
}

/// One shift (level 2+, or the officer whose shift it is; others get 404).
pub async fn get(ctx: &Ctx, me: &Actor, id: i64) -> ServiceResult<Turno> {
    let t = store::get(&ctx.db, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
    if !me.is_supervisor() && me.efectivo_id != Some(t.efectivo_id) {
        return Err(ServiceError::NotFound(NOT_FOUND.into()));
    }
    Ok(t)
}

/// An unknown officer is a 422 at `efectivo_id`.
fn unknown_officer(id: i64) -> ServiceError {
    ServiceError::validation(FieldError::body(
        "efectivo_id",
        "value_error",
        "Unknown efectivo",
        json!(id),
    ))
}

async fn officer_exists(db: &mut gad_store::Conn, id: i64) -> ServiceResult<bool> {
    Ok(store::lock_officer_roster(db, id).await?)
}

/// A shift's zone must be a cuadrante: 422 at `zona_id` otherwise.
async fn check_cuadrante(db: &mut gad_store::Conn, zona_id: Option<i64>) -> ServiceResult<()> {
    let Some(z) = zona_id else {
        return Ok(());
    };
    if gad_store::zona_vigilancias::is_cuadrante(&mut *db, z).await? {
        return Ok(());
    }
    Err(ServiceError::validation(FieldError::body(
        "zona_id",
        "value_error",
        "zona_id must name an existing zone of tipo cuadrante",
        json!(z),
    )))
}

/// Adds a shift (level 2+); an overlap with another shift of the officer is 409 with it.
pub async fn create(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &TurnoBody,
) -> ServiceResult<Turno> {
    require(me, Nivel::Supervisor)?;
    let mut tx = ctx.db.begin().await?;
    if !officer_exists(&mut tx, b.efectivo_id).await? {
        return Err(unknown_officer(b.efectivo_id));
    }
    check_cuadrante(&mut tx, b.zona_id).await?;
    let t = match store::insert(&mut *tx, &b.fields(), me.id).await {
        Err(e) if gad_store::violates(&e, "turnos_sin_solapamiento") => {
            drop(tx);
            return Err(overlap_of(ctx, b.efectivo_id, b.inicio, b.fin, None).await);
        }
        other => other?,
    };
    audit::record(
        &mut *tx,
        &AuditEntry::new("shift_created", Some(me.id))
            .resource("turno", t.id.to_string())
            .values(None, Some(to_value(&t)?))
            .status(201)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// The 409 of an overlap: the shift it overlaps (read after the refused write rolled back).
async fn overlap_of(
    ctx: &Ctx,
    efectivo_id: i64,
    inicio: DateTime<Utc>,
    fin: DateTime<Utc>,
    except: Option<i64>,
) -> ServiceError {
    match store::overlapping(&ctx.db, efectivo_id, inicio, fin, except).await {
        Ok(Some(t)) => overlap_conflict(&t).unwrap_or_else(|e| e),
        Ok(None) => ServiceError::Refused(OVERLAP.into()),
        Err(e) => e.into(),
    }
}

/// Replaces a shift's fields (level 2+).
pub async fn update(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
    b: &TurnoBody,
) -> ServiceResult<Turno> {
    require(me, Nivel::Supervisor)?;
    let mut tx = ctx.db.begin().await?;
    let old = store::lock(&mut *tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
    if !officer_exists(&mut tx, b.efectivo_id).await? {
        return Err(unknown_officer(b.efectivo_id));
    }
    check_cuadrante(&mut tx, b.zona_id).await?;
    let t = match store::update(&mut *tx, id, &b.fields()).await {
        Err(e) if gad_store::violates(&e, "turnos_sin_solapamiento") => {
            drop(tx);
            return Err(overlap_of(ctx, b.efectivo_id, b.inicio, b.fin, Some(id)).await);
        }
        other => other?.ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?,
    };
    audit::record(
        &mut *tx,
        &AuditEntry::new("shift_updated", Some(me.id))
            .resource("turno", id.to_string())
            .values(Some(to_value(&old)?), Some(to_value(&t)?))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// Deletes a shift (level 2+).
pub async fn delete(ctx: &Ctx, me: &Actor, origin: &RequestContext, id: i64) -> ServiceResult<()> {
    require(me, Nivel::Supervisor)?;
    let mut tx = ctx.db.begin().await?;
    let t = store::delete(&mut *tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("shift_deleted", Some(me.id))
            .resource("turno", id.to_string())
            .values(Some(to_value(&t)?), None)
            .status(204)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- Patterns ----

/// An ISO weekday, 1 (Monday) … 7 (Sunday). Only a schema: `dias` is read as integers and
/// checked by `validate`.
pub struct DiaSemana;

impl utoipa::PartialSchema for DiaSemana {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(1))
            .maximum(Some(7))
            .into()
    }
}

impl utoipa::ToSchema for DiaSemana {}

/// How a pattern repeats.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "tipo", rename_all = "snake_case")]
pub enum Patron {
    /// One shift on each of these ISO weekdays (1 Monday … 7 Sunday), starting at `hora_inicio`
    /// and lasting `duracion_horas`.
    DiasSemana {
        #[schema(min_items = 1, max_items = 7, value_type = Vec<DiaSemana>, inline)]
        dias: Vec<i64>,
    },
    /// Work `trabajo_horas`, rest `descanso_horas`, again (e.g. 12×36), the first shift at
    /// `desde` + `hora_inicio`.
    Ciclo {
        #[schema(minimum = 1, maximum = 24)]
        trabajo_horas: i64,
        #[schema(minimum = 1, maximum = 168)]
        descanso_horas: i64,
    },
}

/// `POST /api/v1/turnos/plantilla`: shifts for several officers over a range of dates.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlantillaBody {
    #[schema(min_items = 1, max_items = 200)]
    pub efectivo_ids: Vec<i64>,
    /// First day (YYYY-MM-DD).
    #[schema(value_type = String, format = Date)]
    pub desde: NaiveDate,
    /// Last day a shift may start (YYYY-MM-DD, inclusive), at most 92 days after `desde`.
    #[schema(value_type = String, format = Date)]
    pub hasta: NaiveDate,
    /// Start time of day, `HH:MM`, in `ZONA_HORARIA` (the local time people plan in).
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub hora_inicio: String,
    /// Length of each shift (1–24), for `dias_semana` (a cycle's shift lasts `trabajo_horas`).
    #[schema(minimum = 1, maximum = 24)]
    pub duracion_horas: Option<i64>,
    pub patron: Patron,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub unidad: Option<String>,
    pub zona_id: Option<i64>,
    #[schema(max_length = 1000)]
    pub notas: Option<String>,
}

fn hora(s: &str) -> Option<NaiveTime> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

fn bad(errors: &mut Vec<FieldError>, field: &str, msg: &str, input: Value) {
    errors.push(FieldError::body(field, "value_error", msg, input));
}

impl Validate for PlantillaBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.efectivo_ids.is_empty() || self.efectivo_ids.len() > 200 {
            bad(
                errors,
                "efectivo_ids",
                "List should have 1 to 200 items",
                json!(self.efectivo_ids.len()),
            );
        }
        if self.hasta < self.desde {
            bad(
                errors,
                "hasta",
                "hasta must not be before desde",
                json!(self.hasta.to_string()),
            );
        } else if (self.hasta - self.desde).num_days() > MAX_PATTERN_DAYS {
            bad(
                errors,
                "hasta",
                "A pattern covers at most 92 days",
                json!(self.hasta.to_string()),
            );
        }
        if hora(&self.hora_inicio).is_none() {
            errors.push(FieldError::body(
                "hora_inicio",
                "string_pattern_mismatch",
                "String should match pattern '^([01][0-9]|2[0-3]):[0-5][0-9]$'",
                json!(self.hora_inicio),
            ));
        }
        if let Some(h) = self.duracion_horas
            && !(1..=24).contains(&h)
        {
            bad(
                errors,
                "duracion_horas",
                "Input should be between 1 and 24",
                json!(h),
            );
        }
        match &self.patron {
            Patron::DiasSemana { dias } => {
                if self.duracion_horas.is_none() {
                    errors.push(FieldError::body(
                        "duracion_horas",
                        "missing",
                        "Field required",
                        Value::Null,
                    ));
                }
                if dias.is_empty() || dias.len() > 7 || dias.iter().any(|d| !(1..=7).contains(d)) {
                    errors.push(FieldError::at(
                        "value_error",
                        vec![json!("body"), json!("patron"), json!("dias")],
                        "1 to 7 weekdays, each 1 (Monday) to 7 (Sunday)",
                        json!(dias),
                    ));
                }
            }
            Patron::Ciclo {
                trabajo_horas,
                descanso_horas,
            } => {
                if !(1..=24).contains(trabajo_horas) {
                    errors.push(FieldError::at(
                        "value_error",
                        vec![json!("body"), json!("patron"), json!("trabajo_horas")],
                        "Input should be between 1 and 24",
                        json!(trabajo_horas),
                    ));
                }
                if !(1..=168).contains(descanso_horas) {
                    errors.push(FieldError::at(
                        "value_error",
                        vec![json!("body"), json!("patron"), json!("descanso_horas")],
                        "Input should be between 1 and 168",
                        json!(descanso_horas),
                    ));
                }
            }
        }
        opt_text(errors, "unidad", &self.unidad, 1, 100);
        if let Some(n) = &self.notas {
            rules::len(errors, "notas", n, 0, 1000);
        }
    }
}

/// The `(inicio, fin)` of each shift a pattern makes for one officer, in order (pure: the body
/// is already valid). Days and `hora_inicio` are read in `tz`; a start time that a daylight-saving
/// change skips moves to the first instant after the gap, so no planned day is lost.
pub fn expand(b: &PlantillaBody, tz: Tz) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let Some(h) = hora(&b.hora_inicio) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match &b.patron {
        Patron::DiasSemana { dias } => {
            let len = Duration::hours(b.duracion_horas.unwrap_or(8));
            let mut d = b.desde;
            while d <= b.hasta {
                if dias.contains(&i64::from(d.weekday().number_from_monday())) {
                    let start = local_instant(tz, d, h);
                    out.push((start, start + len));
                }
                d += Duration::days(1);
            }
        }
        Patron::Ciclo {
            trabajo_horas,
            descanso_horas,
        } => {
            let work = Duration::hours(*trabajo_horas);
            let step = work + Duration::hours(*descanso_horas);
            let mut start = local_instant(tz, b.desde, h);
            while start.with_timezone(&tz).date_naive() <= b.hasta {
                out.push((start, start + work));
                start += step;
            }
        }
    }
    out
}

/// What a pattern created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlantillaCreada {
    pub creados: usize,
    pub turnos: Vec<Turno>,
}

/// Creates every shift of a pattern in one transaction (level 2+); when any would overlap an
/// existing shift, nothing is written and the 409 lists every conflict.
pub async fn create_pattern(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &PlantillaBody,
) -> ServiceResult<PlantillaCreada> {
    require(me, Nivel::Supervisor)?;
    let slots = expand(b, ctx.config.zona_horaria);
    let mut ids = b.efectivo_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if slots.len() * ids.len() > MAX_PATTERN_SHIFTS {
        return Err(ServiceError::validation(FieldError::body(
            "hasta",
            "value_error",
            "A pattern creates at most 2000 shifts",
            json!(b.hasta.to_string()),
        )));
    }
    let mut tx = ctx.db.begin().await?;
    // Officers locked in id order: two patterns for the same officers run one after the other,
    // so the conflict check below sees the other's shifts.
    for id in &ids {
        if !officer_exists(&mut tx, *id).await? {
            return Err(unknown_officer(*id));
        }
    }
    check_cuadrante(&mut tx, b.zona_id).await?;
    let mut conflicts = Vec::new();
    for id in &ids {
        for (inicio, fin) in &slots {
            if let Some(t) = store::overlapping(&mut *tx, *id, *inicio, *fin, None).await? {
                conflicts.push(json!({
                    "efectivo_id": id,
                    "inicio": gad_core::time::rfc3339(*inicio),
                    "fin": gad_core::time::rfc3339(*fin),
                    "turno": to_value(&t)?,
                }));
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(ServiceError::ConflictBody(json!({
            "detail": "Hay turnos superpuestos: no se creó ninguno",
            "conflictos": conflicts,
        })));
    }
    let mut turnos = Vec::with_capacity(slots.len() * ids.len());
    for id in &ids {
        for (inicio, fin) in &slots {
            let f = TurnoFields {
                efectivo_id: *id,
                inicio: *inicio,
                fin: *fin,
                unidad: b.unidad.as_deref().map(rules::trim),
                zona_id: b.zona_id,
                notas: b.notas.as_deref(),
            };
            match store::insert(&mut *tx, &f, me.id).await {
                Err(e) if gad_store::violates(&e, "turnos_sin_solapamiento") => {
                    return Err(ServiceError::Refused(OVERLAP.into()));
                }
                other => turnos.push(other?),
            }
        }
    }
    audit::record(
        &mut *tx,
        &AuditEntry::new("shift_pattern_created", Some(me.id))
            .resource("turno", "plantilla")
            .values(
                None,
                Some(json!({
                    "efectivo_ids": ids,
                    "desde": b.desde.to_string(),
                    "hasta": b.hasta.to_string(),
                    "creados": turnos.len(),
                    "turno_ids": turnos.iter().map(|t| t.id).collect::<Vec<_>>(),
                })),
            )
            .status(201)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(PlantillaCreada {
        creados: turnos.len(),
        turnos,
    })
}

/// Officers on a shift now, by unit.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnidadEnTurno {
    /// The shift's unit (or the officer's); null: none.
    pub unidad: Option<String>,
    pub efectivos: Vec<EnTurno>,
}

/// Who is on duty now (a shift under way, not cancelled, not clocked out), grouped by unit
/// (level 2+).
pub async fn on_duty(ctx: &Ctx, me: &Actor) -> ServiceResult<Vec<UnidadEnTurno>> {
    require(me, Nivel::Supervisor)?;
    let rows = store::current(&ctx.db).await?;
    let mut by: BTreeMap<Option<String>, Vec<EnTurno>> = BTreeMap::new();
    for r in rows {
        by.entry(r.unidad.clone()).or_default().push(r);
    }
    Ok(by
        .into_iter()
        .map(|(unidad, efectivos)| UnidadEnTurno { unidad, efectivos })
        .collect())
}

// ---- The day's roster ----

/// Where an officer stands on the roster of a day, judged now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EstadoTurno {
    /// Clocked in (not out) to the shift, on time.
    EnTurno,
    /// Clocked in (not out) later than TURNO_TOLERANCIA_MINUTOS, or the shift started less
    /// than 15 minutes ago and they have not clocked in yet.
    Tarde,
    /// Not clocked in 15 minutes or more after the start (what raises the missed clock-in
    /// alert), including a shift that ended without any clock-in.
    Ausente,
    /// On approved leave that day (or the shift was cancelled by one).
    Licencia,
    /// Not working now: the shift has not started, or was worked and is over.
    Libre,
}

/// One officer's line of the roster.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FilaPlanilla {
    pub efectivo_id: i64,
    pub codigo_interno: String,
    pub nombre: String,
    pub estado_turno: EstadoTurno,
    /// The shift the line is about (the one under way, else the next, else the last of the
    /// day); null for an officer on leave with no shift that day.
    pub turno_id: Option<i64>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub inicio: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub fin: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ingreso_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "gad_core::time::ser_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub egreso_at: Option<DateTime<Utc>>,
    pub ingreso_tarde: bool,
    /// Shifts the officer has that day.
    pub turnos: usize,
    /// The approved leave covering the day, if any.
    pub licencia_id: Option<i64>,
    /// vacaciones | enfermedad | estudio | otra
    pub licencia_tipo: Option<String>,
}

/// The officers of one unit on the roster.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnidadPlanilla {
    /// The shift's unit (or the officer's); null: none.
    pub unidad: Option<String>,
    pub efectivos: Vec<FilaPlanilla>,
}

/// `GET /api/v1/turnos/planilla`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Planilla {
    /// The day (YYYY-MM-DD) in `zona_horaria`.
    #[schema(value_type = String, format = Date)]
    pub fecha: NaiveDate,
    pub zona_horaria: String,
    /// The instant the states were judged at.
    #[serde(serialize_with = "gad_core::time::ser")]
    pub generado_at: DateTime<Utc>,
    pub unidades: Vec<UnidadPlanilla>,
}

/// `GET /api/v1/turnos/planilla` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanillaQuery {
    /// The day (YYYY-MM-DD) in ZONA_HORARIA; default today there.
    #[param(value_type = Option<String>, format = Date)]
    pub fecha: Option<NaiveDate>,
}

impl Validate for PlanillaQuery {
    fn validate(&self, _errors: &mut Vec<FieldError>) {}
}

/// The state of a shift now (lateness past TURNO_TOLERANCIA_MINUTOS is `ingreso_tarde`, set at
/// clock-in).
pub fn estado_de(t: &store::TurnoDelDia, now: DateTime<Utc>) -> EstadoTurno {
    if t.cancelado_por_licencia.is_some() {
        return EstadoTurno::Licencia;
    }
    match (t.ingreso_at, t.egreso_at) {
        (Some(_), Some(_)) => EstadoTurno::Libre,
        (Some(_), None) if now >= t.fin => EstadoTurno::Libre,
        (Some(_), None) if t.ingreso_tarde => EstadoTurno::Tarde,
        (Some(_), None) => EstadoTurno::EnTurno,
        (None, _) if now < t.inicio => EstadoTurno::Libre,
        (None, _) if now - t.inicio < MISSED_CLOCK_IN_AFTER => EstadoTurno::Tarde,
        (None, _) => EstadoTurno::Ausente,
    }
}

/// The shift an officer's line is about: the one under way (started, or clocked in and not
/// out), else the next to start, else the last.
fn pick(shifts: &[store::TurnoDelDia], now: DateTime<Utc>) -> Option<&store::TurnoDelDia> {
    let live = |t: &&store::TurnoDelDia| t.cancelado_por_licencia.is_none();
    shifts
        .iter()
        .filter(live)
        .find(|t| {
            (t.inicio <= now && now < t.fin && t.egreso_at.is_none())
                || (t.ingreso_at.is_some() && t.egreso_at.is_none() && now < t.fin)
        })
        .or_else(|| shifts.iter().filter(live).find(|t| t.inicio > now))
        .or_else(|| shifts.iter().rfind(live))
        .or_else(|| shifts.last())
}

/// The roster of a day in ZONA_HORARIA (level 2+): every officer with a shift touching that day
/// or on approved leave on it, by unit, each with where they stand now.
pub async fn planilla(ctx: &Ctx, me: &Actor, q: &PlanillaQuery) -> ServiceResult<Planilla> {
    require(me, Nivel::Supervisor)?;
    let tz = ctx.config.zona_horaria;
    let now = Utc::now();
    let fecha = q
        .fecha
        .unwrap_or_else(|| now.with_timezone(&tz).date_naive());
    let desde = local_instant(tz, fecha, NaiveTime::MIN);
    let hasta = local_instant(tz, fecha + Duration::days(1), NaiveTime::MIN);
    let shifts = store::shifts_between(&ctx.db, desde, hasta).await?;
    let leaves = store::leaves_between(&ctx.db, desde, hasta).await?;

    let mut by_officer: BTreeMap<i64, Vec<store::TurnoDelDia>> = BTreeMap::new();
    for t in shifts {
        by_officer.entry(t.efectivo_id).or_default().push(t);
    }
    let mut rows: Vec<(Option<String>, FilaPlanilla)> = Vec::new();
    for (efectivo_id, list) in &by_officer {
        let Some(t) = pick(list, now) else { continue };
        let leave = leaves.iter().find(|l| l.efectivo_id == *efectivo_id);
        let estado = match leave {
            Some(_) if t.ingreso_at.is_none() => EstadoTurno::Licencia,
            _ => estado_de(t, now),
        };
        rows.push((
            t.unidad.clone(),
            FilaPlanilla {
                efectivo_id: *efectivo_id,
                codigo_interno: t.codigo_interno.clone(),
                nombre: t.nombre.clone(),
                estado_turno: estado,
                turno_id: Some(t.turno_id),
                inicio: Some(t.inicio),
                fin: Some(t.fin),
                ingreso_at: t.ingreso_at,
                egreso_at: t.egreso_at,
                ingreso_tarde: t.ingreso_tarde,
                turnos: list.len(),
                licencia_id: leave.map(|l| l.licencia_id),
                licencia_tipo: leave.map(|l| l.tipo.clone()),
            },
        ));
    }
    for l in &leaves {
        if by_officer.contains_key(&l.efectivo_id)
            || rows.iter().any(|(_, r)| r.efectivo_id == l.efectivo_id)
        {
            continue;
        }
        rows.push((
            l.unidad.clone(),
            FilaPlanilla {
                efectivo_id: l.efectivo_id,
                codigo_interno: l.codigo_interno.clone(),
                nombre: l.nombre.clone(),
                estado_turno: EstadoTurno::Licencia,
                turno_id: None,
                inicio: None,
                fin: None,
                ingreso_at: None,
                egreso_at: None,
                ingreso_tarde: false,
                turnos: 0,
                licencia_id: Some(l.licencia_id),
                licencia_tipo: Some(l.tipo.clone()),
            },
        ));
    }
    let mut by_unit: BTreeMap<Option<String>, Vec<FilaPlanilla>> = BTreeMap::new();
    for (unidad, r) in rows {
        by_unit.entry(unidad).or_default().push(r);
    }
    let unidades = by_unit
        .into_iter()
        .map(|(unidad, mut efectivos)| {
            efectivos.sort_by(|a, b| {
                a.inicio
                    .cmp(&b.inicio)
                    .then(a.efectivo_id.cmp(&b.efectivo_id))
            });
            UnidadPlanilla { unidad, efectivos }
        })
        .collect();
    Ok(Planilla {
        fecha,
        zona_horaria: tz.name().to_string(),
        generado_at: now,
        unidades,
    })
}

/// Of these users, the ones a push other than a dispatch call may reach: everyone in
/// `DUTY_MODE=libre`; in `turnos`, users who are not officers and officers on duty now (the
/// one rule, `gad_store::turnos::on_duty_sql`).
pub async fn reachable(ctx: &Ctx, users: &[i64]) -> ServiceResult<Vec<i64>> {
    match ctx.config.duty {
        store::Duty::Libre => Ok(users.to_vec()),
        store::Duty::Turnos { clock_in } => {
            Ok(store::reachable_users(&ctx.db, users, clock_in).await?)
        }
    }
}

// ---- Clock-in ----

/// The officer themself, or level 2+ for them; anyone else does not see the shift (404).
fn may_clock(me: &Actor, t: &Turno) -> ServiceResult<()> {
    if me.is_supervisor() || me.efectivo_id == Some(t.efectivo_id) {
        Ok(())
    } else {
        Err(ServiceError::NotFound(NOT_FOUND.into()))
    }
}

/// Clocks in to a shift: from `TURNO_TOLERANCIA_MINUTOS` before its start until its end; later
/// than the tolerance after the start it is recorded and flagged `ingreso_tarde`.
pub async fn clock_in(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
) -> ServiceResult<Turno> {
    let tol = Duration::minutes(ctx.config.turno_tolerancia_minutos);
    let mut tx = ctx.db.begin().await?;
    let t = store::lock(&mut *tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
    may_clock(me, &t)?;
    let now = Utc::now();
    if t.cancelado_por_licencia.is_some() {
        return Err(ServiceError::Refused(
            "El turno fue cancelado por una licencia".into(),
        ));
    }
    if t.ingreso_at.is_some() {
        return Err(ServiceError::Refused(
            "Ya se registró el ingreso a este turno".into(),
        ));
    }
    if now >= t.fin {
        return Err(ServiceError::Refused("El turno ya terminó".into()));
    }
    if now < t.inicio - tol {
        return Err(ServiceError::Refused("Todavía no empezó el turno".into()));
    }
    let tarde = now > t.inicio + tol;
    let t = store::clock_in(&mut *tx, id, me.id, tarde).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("shift_clock_in", Some(me.id))
            .resource("turno", id.to_string())
            .values(
                None,
                Some(json!({"efectivo_id": t.efectivo_id, "ingreso_tarde": tarde})),
            )
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    publish_clock(ctx, "ingreso", &t, t.ingreso_at.unwrap_or(now));
    Ok(t)
}

/// The roster page follows clock-ins and clock-outs live.
fn publish_clock(ctx: &Ctx, accion: &str, t: &Turno, at: DateTime<Utc>) {
    ctx.events.publish(
        Event::ShiftClock(ShiftClock {
            accion: accion.into(),
            turno_id: t.id,
            efectivo_id: t.efectivo_id,
            ingreso_tarde: t.ingreso_tarde,
            at,
        })
        .to(Audience::Supervisors)
        .topic("turnos"),
    );
}

/// Clocks out of a shift clocked in to.
pub async fn clock_out(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
) -> ServiceResult<Turno> {
    let mut tx = ctx.db.begin().await?;
    let t = store::lock(&mut *tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
    may_clock(me, &t)?;
    if t.ingreso_at.is_none() {
        return Err(ServiceError::Refused(
            "No se registró el ingreso a este turno".into(),
        ));
    }
    if t.egreso_at.is_some() {
        return Err(ServiceError::Refused(
            "Ya se registró el egreso de este turno".into(),
        ));
    }
    let t = store::clock_out(&mut *tx, id, me.id).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("shift_clock_out", Some(me.id))
            .resource("turno", id.to_string())
            .values(None, Some(json!({"efectivo_id": t.efectivo_id})))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    publish_clock(ctx, "egreso", &t, t.egreso_at.unwrap_or_else(Utc::now));
    Ok(t)
}

/// The caller's shift under way or next (the bot's `/turno`).
pub async fn mine(ctx: &Ctx, me: &Actor) -> ServiceResult<Option<Turno>> {
    match me.efectivo_id {
        Some(id) => Ok(store::current_or_next(&ctx.db, id).await?),
        None => Ok(None),
    }
}

// ---- Leave ----

/// Kinds of leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TipoLicencia {
    Vacaciones,
    Enfermedad,
    Estudio,
    Otra,
}

impl TipoLicencia {
    pub fn as_str(self) -> &'static str {
        match self {
            TipoLicencia::Vacaciones => "vacaciones",
            TipoLicencia::Enfermedad => "enfermedad",
            TipoLicencia::Estudio => "estudio",
            TipoLicencia::Otra => "otra",
        }
    }
    pub fn parse(s: &str) -> Option<TipoLicencia> {
        match s {
            "vacaciones" => Some(TipoLicencia::Vacaciones),
            "enfermedad" => Some(TipoLicencia::Enfermedad),
            "estudio" => Some(TipoLicencia::Estudio),
            "otra" => Some(TipoLicencia::Otra),
            _ => None,
        }
    }
}

/// `POST /api/v1/licencias`: the caller asks for leave for themself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LicenciaBody {
    pub tipo: TipoLicencia,
    /// First day (YYYY-MM-DD), inclusive.
    #[schema(value_type = String, format = Date)]
    pub desde: NaiveDate,
    /// Last day (YYYY-MM-DD), inclusive; at most 366 days after `desde`.
    #[schema(value_type = String, format = Date)]
    pub hasta: NaiveDate,
    #[schema(max_length = 1000)]
    pub motivo: Option<String>,
}

impl Validate for LicenciaBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.hasta < self.desde {
            bad(
                errors,
                "hasta",
                "hasta must not be before desde",
                json!(self.hasta.to_string()),
            );
        } else if (self.hasta - self.desde).num_days() >= MAX_LEAVE_DAYS {
            bad(
                errors,
                "hasta",
                "A leave lasts at most 366 days",
                json!(self.hasta.to_string()),
            );
        }
        if let Some(m) = &self.motivo {
            rules::len(errors, "motivo", m, 0, 1000);
        }
    }
}

/// `aprobar` / `rechazar` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResolverBody {
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub motivo: String,
}

impl Validate for ResolverBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::len(errors, "motivo", rules::trim(&self.motivo), 1, 1000);
    }
}

/// Filters of the leave list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LicenciaQuery {
    /// Level 2+ only (an officer always sees their own).
    pub efectivo_id: Option<i64>,
    /// pendiente | aprobada | rechazada
    #[param(pattern = "^(pendiente|aprobada|rechazada)$")]
    pub estado: Option<String>,
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl Validate for LicenciaQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
        if let Some(e) = &self.estado
            && !matches!(e.as_str(), "pendiente" | "aprobada" | "rechazada")
        {
            errors.push(FieldError::query(
                "estado",
                "string_pattern_mismatch",
                "String should match pattern '^(pendiente|aprobada|rechazada)$'",
                json!(e),
            ));
        }
    }
}

pub async fn list_leave(ctx: &Ctx, me: &Actor, q: &LicenciaQuery) -> ServiceResult<Vec<Licencia>> {
    let efectivo_id = if me.is_supervisor() {
        q.efectivo_id
    } else {
        match me.efectivo_id {
            Some(id) => Some(id),
            None => return Ok(Vec::new()),
        }
    };
    Ok(store::list_licencias(
        &ctx.db,
        &store::LicenciaFilter {
            efectivo_id,
            estado: q.estado.as_deref(),
            skip: q.skip.unwrap_or(0),
            limit: q.limit.unwrap_or(100),
        },
    )
    .await?)
}

/// An officer asks for leave for themself (pending until a supervisor resolves it).
pub async fn request_leave(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &LicenciaBody,
) -> ServiceResult<Licencia> {
    let efectivo_id = me
        .efectivo_id
        .ok_or_else(|| ServiceError::Refused(NOT_OFFICER.into()))?;
    let motivo = b
        .motivo
        .as_deref()
        .map(rules::trim)
        .filter(|m| !m.is_empty());
    let mut tx = ctx.db.begin().await?;
    let l = store::insert_licencia(
        &mut *tx,
        efectivo_id,
        b.tipo.as_str(),
        b.desde,
        b.hasta,
        motivo,
        ctx.config.zona_horaria.name(),
    )
    .await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("leave_requested", Some(me.id))
            .resource("licencia", l.id.to_string())
            .values(
                None,
                Some(json!({"efectivo_id": efectivo_id, "tipo": l.tipo,
                "desde": l.desde.to_string(), "hasta": l.hasta.to_string()})),
            )
            .status(201)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(l)
}

/// A resolved leave and the shifts its approval cancelled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LicenciaResuelta {
    #[serde(flatten)]
    pub licencia: Licencia,
    /// Shifts marked `cancelado_por_licencia` (empty when rejected).
    pub turnos_cancelados: Vec<i64>,
}

/// Approves or rejects a pending leave (level 2+). Approving marks the officer's shifts on
/// those days not clocked in to as `cancelado_por_licencia` (kept, not deleted: the roster
/// shows them, and they stop blocking new shifts).
pub async fn resolve_leave(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
    aprobar: bool,
    b: &ResolverBody,
) -> ServiceResult<LicenciaResuelta> {
    require(me, Nivel::Supervisor)?;
    let mut tx = ctx.db.begin().await?;
    let l = store::lock_licencia(&mut *tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(LIC_NOT_FOUND.into()))?;
    if l.estado != "pendiente" {
        return Err(ServiceError::Refused(format!(
            "La licencia ya está {}",
            l.estado
        )));
    }
    let estado = if aprobar { "aprobada" } else { "rechazada" };
    let l = store::resolve_licencia(&mut *tx, id, estado, me.id, rules::trim(&b.motivo)).await?;
    let cancelados = if aprobar {
        store::cancel_covered(&mut *tx, &l).await?
    } else {
        Vec::new()
    };
    audit::record(
        &mut *tx,
        &AuditEntry::new(
            if aprobar {
                "leave_approved"
            } else {
                "leave_rejected"
            },
            Some(me.id),
        )
        .resource("licencia", id.to_string())
        .values(
            Some(json!({"estado": "pendiente"})),
            Some(json!({"estado": estado, "efectivo_id": l.efectivo_id,
                    "turnos_cancelados": cancelados})),
        )
        .status(200)
        .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(LicenciaResuelta {
        licencia: l,
        turnos_cancelados: cancelados,
    })
}

// ---- The watch: missed clock-ins and forgotten clock-outs ----

/// A shift not clocked in this long after its start raises one alert to supervisors.
pub const MISSED_CLOCK_IN_AFTER: Duration = Duration::minutes(15);
/// An officer still clocked in this long after the end is reminded (once).
pub const OVERDUE_CLOCK_OUT_AFTER: Duration = Duration::hours(2);
/// How often each instance looks.
pub const WATCH_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);
/// Shifts claimed per statement.
const WATCH_BATCH: i64 = 500;

/// What one pass raised.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    pub sin_ingreso: usize,
    pub sin_egreso: usize,
}

fn shift_alert(v: &store::Vigilado, motivo: &str, title: &str, level: AlertLevel) -> Event {
    Event::Alert(Alert::Shift(ShiftAlert {
        title: title.into(),
        level,
        motivo: motivo.into(),
        turno_id: v.turno_id,
        efectivo_id: v.efectivo_id,
        usuario_id: v.usuario_id,
        codigo_interno: v.codigo_interno.clone(),
        unidad: v.unidad.clone(),
        inicio: v.inicio,
        fin: v.fin,
    }))
}

/// One pass of the watch. Each shift is claimed by the statement that marks it
/// (`FOR UPDATE SKIP LOCKED`, committed before the event goes out), so however many instances
/// run it, a missed clock-in raises exactly one alert and a forgotten clock-out one reminder.
pub async fn watch_once(ctx: &Ctx) -> ServiceResult<Watched> {
    let missed =
        store::claim_missed_clock_in(&ctx.db, MISSED_CLOCK_IN_AFTER.num_seconds(), WATCH_BATCH)
            .await?;
    for v in &missed {
        tracing::warn!(
            turno_id = v.turno_id,
            efectivo_id = v.efectivo_id,
            "shift not clocked in"
        );
        ctx.events.publish(
            shift_alert(v, "sin_ingreso", "Turno sin ingreso", AlertLevel::Warning)
                .to(Audience::Supervisors)
                .topic("turnos"),
        );
    }
    let overdue =
        store::claim_overdue_clock_out(&ctx.db, OVERDUE_CLOCK_OUT_AFTER.num_seconds(), WATCH_BATCH)
            .await?;
    for v in &overdue {
        ctx.events.publish(
            shift_alert(v, "sin_egreso", "Turno sin egreso", AlertLevel::Info)
                .to(Audience::Involved {
                    user_ids: vec![v.usuario_id],
                })
                .topic("turnos"),
        );
    }
    Ok(Watched {
        sin_ingreso: missed.len(),
        sin_egreso: overdue.len(),
    })
}

/// Starts the watch (every [`WATCH_PERIOD`]) on this instance.
pub fn spawn_watch(state: Ctx) {
    crate::jobs::every(
        state,
        WATCH_PERIOD,
        WATCH_PERIOD,
        |state| async move { watch_once(&state).await },
        |pass| match pass {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "roster watch failed"),
            Err(e) => tracing::error!(error = %e, "roster watch task aborted"),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(patron: Patron, desde: &str, hasta: &str, dur: Option<i64>) -> PlantillaBody {
        PlantillaBody {
            efectivo_ids: vec![1],
            desde: desde.parse().unwrap(),
            hasta: hasta.parse().unwrap(),
            hora_inicio: "07:00".into(),
            duracion_horas: dur,
            patron,
            unidad: None,
            zona_id: None,
            notas: None,
        }
    }

    #[test]
    fn weekdays_pick_the_named_days() {
        // 2026-12-07 is a Monday: two weeks of Mon/Wed/Fri are 6 shifts.
        let b = body(
            Patron::DiasSemana {
                dias: vec![1, 3, 5],
            },
            "2026-12-07",
            "2026-12-20",
            Some(8),
        );
        let s = expand(&b, chrono_tz::UTC);
        assert_eq!(s.len(), 6);
        assert_eq!(s[0].0.to_rfc3339(), "2026-12-07T07:00:00+00:00");
        // 07:00 in Buenos Aires (UTC-3) is 10:00 UTC.
        let s = expand(&b, chrono_tz::America::Argentina::Buenos_Aires);
        assert_eq!(s[0].0.to_rfc3339(), "2026-12-07T10:00:00+00:00");
        assert_eq!((s[0].1 - s[0].0).num_hours(), 8);
    }

    #[test]
    fn a_12x36_cycle_starts_every_two_days() {
        let b = body(
            Patron::Ciclo {
                trabajo_horas: 12,
                descanso_horas: 36,
            },
            "2026-12-01",
            "2026-12-10",
            None,
        );
        let s = expand(&b, chrono_tz::UTC);
        assert_eq!(s.len(), 5);
        assert_eq!(s[1].0.to_rfc3339(), "2026-12-03T07:00:00+00:00");
    }

    #[test]
    fn a_start_time_a_clock_change_skips_moves_past_the_gap() {
        // Madrid skipped 02:00–03:00 on 2027-03-28; the shift of that day is kept.
        let b = body(
            Patron::DiasSemana {
                dias: vec![1, 2, 3, 4, 5, 6, 7],
            },
            "2027-03-27",
            "2027-03-29",
            Some(8),
        );
        let mut b = b;
        b.hora_inicio = "02:30".into();
        let s = expand(&b, chrono_tz::Europe::Madrid);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].0.to_rfc3339(), "2027-03-27T01:30:00+00:00");
        assert_eq!(s[1].0.to_rfc3339(), "2027-03-28T01:00:00+00:00");
        assert_eq!(s[2].0.to_rfc3339(), "2027-03-29T00:30:00+00:00");
    }
}
