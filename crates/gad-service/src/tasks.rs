//! Tasks (contract §6): list, create, read, the state machine, update, delete — one function
//! each, for every door (HTTP, Telegram).
//!
//! Every write runs in one transaction that locks the task row (`SELECT … FOR UPDATE`), applies
//! the change, the history row, the `tarea_efectivos` sync and the audit row, and commits; events
//! are published and the affected users' stats caches invalidated only after the commit.
//! Level 1 sees and moves only its own tasks (delegado or assigned efectivo); a task it may not
//! see is a 404, never revealed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use gad_core::geo::{Lat, Lng};
use gad_core::request_context::RequestContext;
use gad_core::text::Codigo;
use gad_core::validate::{Validate, rules};
use gad_core::{
    Actor, CodigoCierre, EstadoDisponibilidad, EstadoTarea, FieldError, Nivel, Prioridad, TipoTarea,
};
use gad_core::{permissions, state_machine};
use gad_store::Conn as PgConnection;
use gad_store::audit::{self, AuditEntry};
use gad_store::tareas::{self, ListFilter, NewTarea, Patch, Released, Scope, TASK_NOT_FOUND};
/// What these use cases take and answer: the task row, its history and how one is looked up.
pub use gad_store::tareas::{Historial, Key, Tarea};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{
    Audience, Event, OfficersAssigned, TaskAssigned, TaskDeleted, TaskStatusChanged,
    TaskTransition, TaskUpdated,
};
use crate::stats;

fn not_found() -> ServiceError {
    ServiceError::NotFound(TASK_NOT_FOUND.into())
}

/// What an officer is told when they try to close an emergency (only the desk closes one).
pub const EMERGENCIA_LA_CIERRA_LA_CENTRAL: &str = "Una emergencia solo la cierra la central. \
Si no podés atenderla, rechazá el despacho (POST /api/v1/tasks/{id}/ack con {\"accept\": false}) \
y se llamará al siguiente efectivo; en el lugar, informá por nota o con tu estado.";

// ---------------------------------------------------------------------------------------------
// Read

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub estado: Option<EstadoTarea>,
    pub tipo: Option<TipoTarea>,
    /// 1–5.
    pub prioridad: Option<Prioridad>,
    pub delegado_usuario_id: Option<i64>,
    /// inicio_programado ≥ desde (RFC 3339).
    pub desde: Option<DateTime<Utc>>,
    /// inicio_programado ≤ hasta (RFC 3339).
    pub hasta: Option<DateTime<Utc>>,
    /// codigo or titulo contains (case-insensitive).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only emergencies (true) or only ordinary tasks (false).
    pub es_emergencia: Option<bool>,
    /// Only tasks in this zone: its `zona_id` or its `comisaria_id` is this id.
    pub zona_id: Option<i64>,
    /// A supervisor with assigned comisarías sees theirs (and tasks outside every zone) by
    /// default; true shows the whole city.
    pub toda_la_ciudad: Option<bool>,
}

impl Validate for ListQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::pagination(errors, self.skip, self.limit);
        rules::plausible_time(errors, "query", "desde", self.desde);
        rules::plausible_time(errors, "query", "hasta", self.hasta);
        if let Some(q) = &self.q
            && q.chars().count() > 200
        {
            errors.push(FieldError::query(
                "q",
                "string_too_long",
                "String should have at most 200 characters",
                json!(q),
            ));
        }
    }
}

/// Live tasks visible to `me`, newest first (created_at, id).
pub async fn list(ctx: &Ctx, me: &Actor, q: &ListQuery) -> ServiceResult<Vec<Tarea>> {
    let pattern =
        q.q.as_deref()
            .map(|s| format!("%{}%", gad_store::escape_like(s)));
    let f = ListFilter {
        estado: q.estado,
        tipo: q.tipo,
        prioridad: q.prioridad,
        delegado_usuario_id: q.delegado_usuario_id,
        desde: q.desde,
        hasta: q.hasta,
        q: pattern.as_deref(),
        es_emergencia: q.es_emergencia,
        zona_id: q.zona_id,
        comisarias: crate::jurisdiccion::default_comisarias(ctx, me, q.toda_la_ciudad).await?,
        skip: q.skip.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
    };
    let rows = tareas::list(&ctx.db, Scope::of(me), &f).await?;
    Ok(rows)
}

/// One live task visible to `me`; unknown, deleted or not visible → 404.
pub async fn get(ctx: &Ctx, me: &Actor, key: Key<'_>) -> ServiceResult<Tarea> {
    tareas::find(&ctx.db, Scope::of(me), key, false)
        .await?
        .ok_or_else(not_found)
}

/// The state history of a task visible to `me`, oldest first.
pub async fn history(ctx: &Ctx, me: &Actor, task_id: i64) -> ServiceResult<Vec<Historial>> {
    get(ctx, me, Key::Id(task_id)).await?;
    Ok(tareas::history(&ctx.db, task_id).await?)
}

// ---------------------------------------------------------------------------------------------
// Create

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateTask {
    pub codigo: Codigo,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub titulo: String,
    pub tipo: TipoTarea,
    pub inicio_programado: DateTime<Utc>,
    pub delegado_usuario_id: i64,
    #[schema(max_length = 5000)]
    pub descripcion: Option<String>,
    /// 1–5, default 2.
    pub prioridad: Option<Prioridad>,
    pub fin_programado: Option<DateTime<Utc>>,
    #[schema(max_items = 200)]
    pub efectivos_asignados: Option<Vec<i64>>,
    pub ubicacion_lat: Option<Lat>,
    pub ubicacion_lon: Option<Lng>,
    #[schema(max_length = 500)]
    pub ubicacion_descripcion: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub notas: Option<Value>,
    /// The cuadrante (a zone of `tipo` `cuadrante`, else 422) the assigned officers patrol
    /// while the task is open; outside it longer than `ZONA_SALIDA_MINUTOS` raises `zona_salida`.
    pub cuadrante_id: Option<i64>,
}

const MAX_EFECTIVOS: usize = 200;

fn check_common(
    errors: &mut Vec<FieldError>,
    descripcion: Option<&str>,
    ubicacion_descripcion: Option<&str>,
    efectivos: Option<&[i64]>,
    notas: Option<&Value>,
) {
    if let Some(d) = descripcion {
        rules::len(errors, "descripcion", d, 0, 5000);
    }
    if let Some(d) = ubicacion_descripcion {
        rules::len(errors, "ubicacion_descripcion", d, 0, 500);
    }
    if let Some(e) = efectivos
        && e.len() > MAX_EFECTIVOS
    {
        errors.push(FieldError::body(
            "efectivos_asignados",
            "too_long",
            format!("List should have at most {MAX_EFECTIVOS} items"),
            json!(e),
        ));
    }
    if let Some(n) = notas
        && !n.is_object()
    {
        errors.push(FieldError::body(
            "notas",
            "dict_type",
            "Input should be a valid dictionary",
            n.clone(),
        ));
    }
}

fn fin_error(fin: DateTime<Utc>) -> FieldError {
    FieldError::body(
        "fin_programado",
        "value_error",
        "fin_programado must be later than inicio_programado",
        json!(gad_core::time::rfc3339(fin)),
    )
}

impl Validate for CreateTask {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::plausible_time(
            errors,
            "body",
            "inicio_programado",
            Some(self.inicio_programado),
        );
        rules::plausible_time(errors, "body", "fin_programado", self.fin_programado);
        rules::len(errors, "titulo", rules::trim(&self.titulo), 1, 200);
        check_common(
            errors,
            self.descripcion.as_deref(),
            self.ubicacion_descripcion.as_deref(),
            self.efectivos_asignados.as_deref(),
            self.notas.as_ref(),
        );
        match (self.ubicacion_lat, self.ubicacion_lon) {
            (Some(_), None) => errors.push(pair_missing("ubicacion_lon")),
            (None, Some(_)) => errors.push(pair_missing("ubicacion_lat")),
            _ => {}
        }
        if let Some(fin) = self.fin_programado
            && fin <= self.inicio_programado
        {
            errors.push(fin_error(fin));
        }
    }
}

fn pair_missing(field: &str) -> FieldError {
    FieldError::body(
        field,
        "missing",
        "ubicacion_lat and ubicacion_lon must be given together",
        Value::Null,
    )
}

/// Removes duplicates, keeping the first occurrence's order.
fn dedup(ids: &[i64]) -> Vec<i64> {
    let mut seen = BTreeSet::new();
    ids.iter().copied().filter(|i| seen.insert(*i)).collect()
}

/// Checks the delegado and efectivos exist and are live; returns the efectivos' usuario ids.
async fn check_refs(
    conn: &mut PgConnection,
    delegado: i64,
    efectivos: &[i64],
) -> ServiceResult<Vec<i64>> {
    let refs = tareas::check_refs(&mut *conn, delegado, efectivos).await?;
    let mut errors = Vec::new();
    if !refs.delegado_ok {
        errors.push(FieldError::body(
            "delegado_usuario_id",
            "value_error",
            format!("Unknown delegado_usuario_id: user {delegado} does not exist"),
            json!(delegado),
        ));
    }
    let missing: Vec<i64> = efectivos
        .iter()
        .copied()
        .filter(|e| !refs.efectivo_ids.contains(e))
        .collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|m| m.to_string()).collect();
        errors.push(FieldError::body(
            "efectivos_asignados",
            "value_error",
            format!(
                "Unknown efectivo id(s) in efectivos_asignados: {}",
                list.join(", ")
            ),
            json!(missing),
        ));
    }
    if errors.is_empty() {
        Ok(refs.efectivo_usuarios)
    } else {
        Err(ServiceError::Validation(errors))
    }
}

/// Creates a task in estado programada (level 2+); the creator is `me`.
pub async fn create(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    body: &CreateTask,
) -> ServiceResult<Tarea> {
    require(me, Nivel::Supervisor)?;
    let efectivos = dedup(body.efectivos_asignados.as_deref().unwrap_or(&[]));
    let notas = body.notas.clone().unwrap_or_else(|| json!({}));
    let mut tx = ctx.db.begin().await?;
    let efectivo_usuarios = check_refs(&mut tx, body.delegado_usuario_id, &efectivos).await?;
    check_cuadrante(&mut tx, body.cuadrante_id).await?;
    let new = NewTarea {
        codigo: body.codigo.as_str(),
        titulo: body.titulo.trim(),
        descripcion: body.descripcion.as_deref(),
        tipo: body.tipo,
        prioridad: body.prioridad.unwrap_or(Prioridad::Media),
        inicio_programado: body.inicio_programado,
        fin_programado: body.fin_programado,
        delegado_usuario_id: body.delegado_usuario_id,
        creado_por_usuario_id: me.id,
        efectivos: &efectivos,
        lat: body.ubicacion_lat.map(Lat::get),
        lon: body.ubicacion_lon.map(Lng::get),
        ubicacion_descripcion: body.ubicacion_descripcion.as_deref(),
        notas: &notas,
        cuadrante_id: body.cuadrante_id,
    };
    let tarea = tareas::insert(&mut *tx, &new).await?;
    let task_json = tarea.to_json();
    let entry = AuditEntry::new("task_created", Some(me.id))
        .resource("tarea", tarea.id)
        .values(None, Some(task_json))
        .status(201)
        .context(origin);
    audit::record(&mut *tx, &entry).await?;
    tx.commit().await?;

    let involved = involved(&[tarea.delegado_usuario_id], &efectivo_usuarios);
    publish_task(ctx, Event::TaskCreated(tarea.clone()), tarea.id, &involved);
    if !efectivos.is_empty() {
        let assigned = OfficersAssigned {
            task_id: tarea.id,
            codigo: tarea.codigo.clone(),
            efectivos_asignados: efectivos,
            tarea: Box::new(tarea.clone()),
        };
        publish_task(
            ctx,
            Event::TaskAssigned(TaskAssigned::Officers(assigned)),
            tarea.id,
            &involved,
        );
    }
    stats::invalidate(ctx, involved.iter().copied().chain([me.id])).await;

    Ok(tarea)
}

/// A task's cuadrante must be one: 422 at `cuadrante_id` otherwise.
async fn check_cuadrante(db: &mut PgConnection, zona_id: Option<i64>) -> ServiceResult<()> {
    let Some(z) = zona_id else {
        return Ok(());
    };
    if gad_store::zona_vigilancias::is_cuadrante(&mut *db, z).await? {
        return Ok(());
    }
    Err(ServiceError::validation(FieldError::body(
        "cuadrante_id",
        "value_error",
        "cuadrante_id must name an existing zone of tipo cuadrante",
        json!(z),
    )))
}

/// The users an event about a task concerns: delegado(s) + assigned officers' users.
fn involved(delegados: &[i64], efectivo_usuarios: &[i64]) -> Vec<i64> {
    let set: BTreeSet<i64> = delegados
        .iter()
        .chain(efectivo_usuarios.iter())
        .copied()
        .collect();
    set.into_iter().collect()
}

fn publish_task(ctx: &Ctx, event: Event, task_id: i64, users: &[i64]) {
    ctx.events.publish(
        event
            .to(Audience::Involved {
                user_ids: users.to_vec(),
            })
            .topic(format!("task:{task_id}")),
    );
}

// ---------------------------------------------------------------------------------------------
// State machine

/// What a transition did, for the events published after commit.
struct Transitioned {
    from: EstadoTarea,
    to: EstadoTarea,
    released: Vec<Released>,
}

/// Applies `cur.estado → to` on a task locked by the caller's transaction: new clock, history
/// row, release of the task's `en_tarea` efectivos when it ends, and the audit row.
async fn transition_locked(
    conn: &mut PgConnection,
    me: &Actor,
    origin: &RequestContext,
    cur: &Tarea,
    to: EstadoTarea,
    nota: Option<&str>,
    cierre: Option<&Cierre<'_>>,
) -> ServiceResult<(Tarea, Transitioned)> {
    if !permissions::can_set_task_state(me.nivel, cur.es_emergencia, to) {
        return Err(ServiceError::Forbidden(
            EMERGENCIA_LA_CIERRA_LA_CENTRAL.into(),
        ));
    }
    let closing = cur.es_emergencia && to == EstadoTarea::Finalizada;
    // A closing code belongs to the closure of an emergency: anywhere else it has no meaning
    // and is set aside (documented on the body), so one form can send it with every change.
    let cierre = if closing { cierre } else { None };
    if closing && cierre.is_none() {
        return Err(cierre_required());
    }
    let next =
        state_machine::transition(cur.estado, to, &cur.clock(), Utc::now()).map_err(|e| {
            ServiceError::InvalidTransition {
                from: e.from,
                to: e.to,
                allowed: e.allowed.to_vec(),
            }
        })?;
    let mut t =
        tareas::write_transition(&mut *conn, cur.id, cur.estado, to, &next, me.id, nota).await?;
    if let Some(c) = cierre {
        t = tareas::close_incident(&mut *conn, cur.id, c.codigo.as_wire(), c.resumen, me.id)
            .await?;
        audit::record(
            &mut *conn,
            &AuditEntry::new("incident_closed", Some(me.id))
                .resource("tarea", cur.id)
                .values(
                    None,
                    Some(
                        json!({"nro_incidente": t.nro_incidente, "codigo_cierre": c.codigo,
                                "resumen": c.resumen}),
                    ),
                )
                .status(200)
                .context(origin),
        )
        .await?;
    }
    Scope::of(me).redact(&mut t);
    let released = if state_machine::is_terminal(to) {
        tareas::release_efectivos(&mut *conn, cur.id).await?
    } else {
        Vec::new()
    };
    let mut entry = AuditEntry::new("task_status_changed", Some(me.id))
        .resource("tarea", cur.id)
        .values(
            Some(json!({"estado": cur.estado})),
            Some(json!({"estado": to, "nota": nota})),
        )
        .describe(format!("{} → {}", cur.estado, to))
        .status(200)
        .context(origin);
    if !released.is_empty() {
        let ids: Vec<i64> = released.iter().map(|r| r.id).collect();
        entry = entry.describe(format!(
            "{} → {}; efectivos returned to disponible: {ids:?}",
            cur.estado, to
        ));
    }
    audit::record(&mut *conn, &entry).await?;
    Ok((
        t,
        Transitioned {
            from: cur.estado,
            to,
            released,
        },
    ))
}

fn publish_transition(
    ctx: &Ctx,
    me: &Actor,
    t: &Tarea,
    tr: &Transitioned,
    nota: Option<&str>,
    users: &[i64],
) {
    let transition = TaskTransition {
        task_id: t.id,
        codigo: t.codigo.clone(),
        estado_anterior: tr.from,
        estado_nuevo: tr.to,
        usuario_id: me.id,
        nota: nota.map(str::to_string),
        tarea: Box::new(t.clone()),
    };
    publish_task(
        ctx,
        Event::TaskStatusChanged(TaskStatusChanged::Transition(transition)),
        t.id,
        users,
    );
    publish_released(ctx, t.id, &tr.released);
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    pub estado: EstadoTarea,
    #[schema(max_length = 2000)]
    pub nota: Option<String>,
    /// Required to finish an emergency (`estado: finalizada`); then the same as
    /// `POST /api/v1/tasks/{id}/cierre`. Read only then: ignored on any other change.
    pub codigo_cierre: Option<CodigoCierre>,
    /// The closure's summary, read with `codigo_cierre` (ignored without it).
    #[schema(max_length = 2000)]
    pub resumen: Option<String>,
}

impl Validate for StatusChange {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::opt_len(errors, "nota", &self.nota, 0, 2000);
        rules::opt_len(errors, "resumen", &self.resumen, 0, 2000);
    }
}

impl StatusChange {
    fn cierre(&self) -> Option<Cierre<'_>> {
        self.codigo_cierre.map(|codigo| Cierre {
            codigo,
            resumen: self.resumen.as_deref(),
        })
    }
}

/// How an incident is closed.
pub struct Cierre<'a> {
    pub codigo: CodigoCierre,
    pub resumen: Option<&'a str>,
}

fn cierre_required() -> ServiceError {
    ServiceError::validation(FieldError::body(
        "codigo_cierre",
        "missing",
        format!(
            "Una emergencia se finaliza con un código de cierre: {}",
            CodigoCierre::allowed_message()
        ),
        Value::Null,
    ))
}

/// `POST /tasks/{id}/cierre`: the body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CierreBody {
    pub codigo_cierre: CodigoCierre,
    /// What happened, in a few lines (≤ 2000 characters).
    #[schema(max_length = 2000)]
    pub resumen: Option<String>,
}

impl Validate for CierreBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::opt_len(errors, "resumen", &self.resumen, 0, 2000);
    }
}

const NOT_AN_INCIDENT: &str = "Solo una emergencia se cierra con código de cierre: \
finalizá esta tarea con POST /api/v1/tasks/{id}/status";

/// Closes an incident (level 2+): finished with its closing code and summary, its officers
/// released and its pending dispatches closed, in one transaction.
pub async fn close(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    body: &CierreBody,
) -> ServiceResult<Tarea> {
    require(me, Nivel::Supervisor)?;
    let mut tx = ctx.db.begin().await?;
    let cur = tareas::find(&mut *tx, Scope::of(me), Key::Id(task_id), true)
        .await?
        .ok_or_else(not_found)?;
    if !cur.es_emergencia {
        return Err(ServiceError::Refused(NOT_AN_INCIDENT.into()));
    }
    let cierre = Cierre {
        codigo: body.codigo_cierre,
        resumen: body.resumen.as_deref(),
    };
    let to = EstadoTarea::Finalizada;
    let (t, tr) = transition_locked(&mut tx, me, origin, &cur, to, None, Some(&cierre)).await?;
    let efectivo_usuarios = tareas::usuarios_of_efectivos(&mut *tx, &t.efectivos_asignados).await?;
    tx.commit().await?;

    let users = involved(&[t.delegado_usuario_id], &efectivo_usuarios);
    publish_transition(ctx, me, &t, &tr, None, &users);
    stats::invalidate(ctx, users.iter().copied().chain(t.creado_por_usuario_id)).await;
    Ok(t)
}

/// Moves a task through the state machine (level 1: own tasks only; level 2+: any).
pub async fn change_status(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    body: &StatusChange,
) -> ServiceResult<Tarea> {
    let nota = body.nota.as_deref();
    let mut tx = ctx.db.begin().await?;
    let cur = tareas::find(&mut *tx, Scope::of(me), Key::Id(task_id), true)
        .await?
        .ok_or_else(not_found)?;
    let cierre = body.cierre();
    let (t, tr) = transition_locked(
        &mut tx,
        me,
        origin,
        &cur,
        body.estado,
        nota,
        cierre.as_ref(),
    )
    .await?;
    let efectivo_usuarios = tareas::usuarios_of_efectivos(&mut *tx, &t.efectivos_asignados).await?;
    tx.commit().await?;

    let users = involved(&[t.delegado_usuario_id], &efectivo_usuarios);
    publish_transition(ctx, me, &t, &tr, nota, &users);
    stats::invalidate(ctx, users.iter().copied().chain(t.creado_por_usuario_id)).await;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// Update

/// `Some(None)` when the field is sent as null, `None` when it is absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateTask {
    pub codigo: Option<Codigo>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub titulo: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 5000)]
    pub descripcion: Option<Option<String>>,
    pub tipo: Option<TipoTarea>,
    /// 1–5.
    pub prioridad: Option<Prioridad>,
    pub inicio_programado: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub fin_programado: Option<Option<DateTime<Utc>>>,
    pub delegado_usuario_id: Option<i64>,
    #[schema(max_items = 200)]
    pub efectivos_asignados: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Lat>)]
    pub ubicacion_lat: Option<Option<Lat>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Lng>)]
    pub ubicacion_lon: Option<Option<Lng>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 500)]
    pub ubicacion_descripcion: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub notas: Option<Value>,
    /// Goes through the state machine like POST /status.
    pub estado: Option<EstadoTarea>,
    /// Note for the history row when `estado` changes.
    #[schema(max_length = 2000)]
    pub nota: Option<String>,
    /// The cuadrante the assigned officers patrol (null clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub cuadrante_id: Option<Option<i64>>,
}

impl UpdateTask {
    /// True when any field other than `estado`/`nota` was sent (level 1 may not).
    fn touches_fields(&self) -> bool {
        self.codigo.is_some()
            || self.titulo.is_some()
            || self.descripcion.is_some()
            || self.tipo.is_some()
            || self.prioridad.is_some()
            || self.inicio_programado.is_some()
            || self.fin_programado.is_some()
            || self.delegado_usuario_id.is_some()
            || self.efectivos_asignados.is_some()
            || self.ubicacion_lat.is_some()
            || self.ubicacion_lon.is_some()
            || self.ubicacion_descripcion.is_some()
            || self.notas.is_some()
            || self.cuadrante_id.is_some()
    }
}

impl Validate for UpdateTask {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::plausible_time(errors, "body", "inicio_programado", self.inicio_programado);
        rules::plausible_time(
            errors,
            "body",
            "fin_programado",
            self.fin_programado.flatten(),
        );
        if let Some(t) = &self.titulo {
            rules::len(errors, "titulo", rules::trim(t), 1, 200);
        }
        check_common(
            errors,
            self.descripcion.as_ref().and_then(|d| d.as_deref()),
            self.ubicacion_descripcion
                .as_ref()
                .and_then(|d| d.as_deref()),
            self.efectivos_asignados.as_deref(),
            self.notas.as_ref(),
        );
        match (self.ubicacion_lat, self.ubicacion_lon) {
            (Some(Some(_)), Some(Some(_))) | (Some(None), Some(None)) | (None, None) => {}
            (_, Some(_)) => errors.push(pair_missing("ubicacion_lat")),
            (Some(_), _) => errors.push(pair_missing("ubicacion_lon")),
        }
        if let (Some(inicio), Some(Some(fin))) = (self.inicio_programado, self.fin_programado)
            && fin <= inicio
        {
            errors.push(fin_error(fin));
        }
        rules::opt_len(errors, "nota", &self.nota, 0, 2000);
    }
}

/// Partial update (level 2+); level 1 may send only `estado` (and `nota`) for its own tasks.
pub async fn update(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
    body: &UpdateTask,
) -> ServiceResult<Tarea> {
    if !me.is_supervisor() && body.touches_fields() {
        return Err(ServiceError::InsufficientLevel);
    }
    let mut tx = ctx.db.begin().await?;
    let old = tareas::find(&mut *tx, Scope::of(me), Key::Id(task_id), true)
        .await?
        .ok_or_else(not_found)?;

    // References and cross-field rules against the merged row.
    let new_efectivos = body.efectivos_asignados.as_deref().map(dedup);
    let mut new_efectivo_usuarios = None;
    if body.delegado_usuario_id.is_some() || new_efectivos.is_some() {
        let delegado = body.delegado_usuario_id.unwrap_or(old.delegado_usuario_id);
        let ids = new_efectivos.as_deref().unwrap_or(&[]);
        let users = check_refs(&mut tx, delegado, ids).await?;
        if new_efectivos.is_some() {
            new_efectivo_usuarios = Some(users);
        }
    }
    if let Some(c) = body.cuadrante_id {
        check_cuadrante(&mut tx, c).await?;
    }
    let inicio = body.inicio_programado.unwrap_or(old.inicio_programado);
    let fin = body.fin_programado.unwrap_or(old.fin_programado);
    if let Some(fin) = fin
        && fin <= inicio
    {
        return Err(ServiceError::validation(fin_error(fin)));
    }

    let patch = Patch {
        codigo: body.codigo.as_ref().map(Codigo::as_str),
        titulo: body.titulo.as_deref().map(str::trim),
        descripcion: body.descripcion.as_ref().map(|d| d.as_deref()),
        tipo: body.tipo,
        prioridad: body.prioridad,
        inicio_programado: body.inicio_programado,
        fin_programado: body.fin_programado,
        delegado_usuario_id: body.delegado_usuario_id,
        efectivos: new_efectivos.as_deref(),
        ubicacion: match (body.ubicacion_lat, body.ubicacion_lon) {
            (Some(Some(lat)), Some(Some(lon))) => Some(Some((lat.get(), lon.get()))),
            (Some(None), Some(None)) => Some(None),
            _ => None,
        },
        ubicacion_descripcion: body.ubicacion_descripcion.as_ref().map(|d| d.as_deref()),
        notas: body.notas.as_ref(),
        cuadrante_id: body.cuadrante_id,
    };
    let mut cur = if patch.is_empty() {
        old.clone()
    } else {
        tareas::apply_patch(&mut *tx, task_id, &patch).await?
    };
    let mut transitioned = None;
    if let Some(to) = body.estado {
        let (t, tr) =
            transition_locked(&mut tx, me, origin, &cur, to, body.nota.as_deref(), None).await?;
        cur = t;
        transitioned = Some(tr);
    }
    if !patch.is_empty() {
        let entry = AuditEntry::new("task_updated", Some(me.id))
            .resource("tarea", task_id)
            .values(Some(old.to_json()), Some(cur.to_json()))
            .status(200)
            .context(origin);
        audit::record(&mut *tx, &entry).await?;
    }
    let all_efectivos: Vec<i64> = dedup(
        &old.efectivos_asignados
            .iter()
            .chain(cur.efectivos_asignados.iter())
            .copied()
            .collect::<Vec<_>>(),
    );
    let efectivo_usuarios = tareas::usuarios_of_efectivos(&mut *tx, &all_efectivos).await?;
    tx.commit().await?;

    let users = involved(
        &[old.delegado_usuario_id, cur.delegado_usuario_id],
        &efectivo_usuarios,
    );
    if !patch.is_empty() {
        let changed = TaskUpdated::Changed(cur.clone());
        publish_task(ctx, Event::TaskUpdated(changed), cur.id, &users);
    }
    let old_set: BTreeSet<i64> = old.efectivos_asignados.iter().copied().collect();
    let new_set: BTreeSet<i64> = cur.efectivos_asignados.iter().copied().collect();
    if new_efectivo_usuarios.is_some() && old_set != new_set {
        let assigned = OfficersAssigned {
            task_id: cur.id,
            codigo: cur.codigo.clone(),
            efectivos_asignados: cur.efectivos_asignados.clone(),
            tarea: Box::new(cur.clone()),
        };
        publish_task(
            ctx,
            Event::TaskAssigned(TaskAssigned::Officers(assigned)),
            cur.id,
            &users,
        );
    }
    if let Some(tr) = &transitioned {
        publish_transition(ctx, me, &cur, tr, body.nota.as_deref(), &users);
    }
    stats::invalidate(ctx, users.iter().copied().chain(cur.creado_por_usuario_id)).await;
    Ok(cur)
}

// ---------------------------------------------------------------------------------------------
// Delete

/// Soft delete (level 3); the task's officers are released.
pub async fn delete(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    task_id: i64,
) -> ServiceResult<Tarea> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    let t = tareas::soft_delete(&mut *tx, task_id)
        .await?
        .ok_or_else(not_found)?;
    // A deleted task no longer holds its officers: they are free for the next emergency.
    let released = tareas::release_efectivos(&mut *tx, t.id).await?;
    let task_json = t.to_json();
    let mut entry = AuditEntry::new("task_deleted", Some(me.id))
        .resource("tarea", task_id)
        .values(None, Some(task_json))
        .severity("warning")
        .status(200)
        .context(origin);
    if !released.is_empty() {
        let ids: Vec<i64> = released.iter().map(|r| r.id).collect();
        entry = entry.describe(format!("efectivos returned to disponible: {ids:?}"));
    }
    audit::record(&mut *tx, &entry).await?;
    let efectivo_usuarios = tareas::usuarios_of_efectivos(&mut *tx, &t.efectivos_asignados).await?;
    tx.commit().await?;

    let users = involved(&[t.delegado_usuario_id], &efectivo_usuarios);
    let deleted = TaskDeleted {
        task_id: t.id,
        codigo: t.codigo.clone(),
        deleted: true,
        tarea: t.clone(),
    };
    publish_task(
        ctx,
        Event::TaskUpdated(TaskUpdated::Deleted(deleted)),
        t.id,
        &users,
    );
    publish_released(ctx, t.id, &released);
    stats::invalidate(ctx, users.iter().copied().chain(t.creado_por_usuario_id)).await;
    Ok(t)
}

/// Tells each released officer (and supervisors) that they are `disponible` again.
fn publish_released(ctx: &Ctx, tarea_id: i64, released: &[tareas::Released]) {
    for r in released {
        ctx.events.publish(crate::dispatch::unit_event(
            r.id,
            r.usuario_id,
            EstadoDisponibilidad::EnTarea,
            EstadoDisponibilidad::Disponible,
            tarea_id,
        ));
    }
}
