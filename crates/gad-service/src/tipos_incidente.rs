//! The incident-type catalogue (`/api/v1/tipos-incidente`): read by everyone signed in (the
//! intake form and the bot show the types), written by level 3; every write audited.

use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::{self, AuditEntry};
/// An incident type on the wire.
pub use gad_store::tipos_incidente::TipoIncidente;
use gad_store::tipos_incidente::{self as store, TipoFields};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};

const TYPE_NOT_FOUND: &str = "Tipo de incidente no encontrado";
const TYPE_IN_USE: &str =
    "El tipo de incidente está en uso por incidentes registrados: no puede eliminarse";

/// `POST` and `PUT` body, read as one: `POST` requires `codigo`; `PUT` takes its code from the
/// path (a different one in the body is 409). The OpenAPI shows each its own view
/// (`TipoNuevo`, `TipoCambio`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TipoBody {
    /// Lower-case letters, digits and `_`, 1–50 (POST only; a PUT's code is in the path).
    #[schema(pattern = "^[a-z0-9_]{1,50}$")]
    pub codigo: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub nombre: String,
    /// 1–5, 5 most urgent.
    #[schema(minimum = 1, maximum = 5)]
    pub prioridad: i64,
    /// 1–10 (default 1).
    #[schema(minimum = 1, maximum = 10)]
    pub efectivos_requeridos: Option<i64>,
    /// At most 10, each 1–50 characters.
    #[serde(default)]
    #[schema(max_items = 10, value_type = Vec<Especialidad>, inline)]
    pub especialidades: Vec<String>,
    /// 1–1440 minutes, or null.
    #[schema(minimum = 1, maximum = 1440)]
    pub checkin_minutos: Option<i64>,
}

/// `POST /tipos-incidente`'s body as documented: `TipoBody` with `codigo` required.
pub struct TipoNuevo;

impl utoipa::PartialSchema for TipoNuevo {
    fn schema() -> RefOr<Schema> {
        let mut s = <TipoBody as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(o)) = &mut s {
            o.properties.insert(
                "codigo".into(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("Lower-case letters, digits and `_`, 1–50."))
                    .pattern(Some("^[a-z0-9_]{1,50}$"))
                    .into(),
            );
            o.required.insert(0, "codigo".into());
        }
        s
    }
}

impl utoipa::ToSchema for TipoNuevo {}

/// `PUT /tipos-incidente/{codigo}`'s body as documented: `TipoBody` without `codigo` (the path's).
pub struct TipoCambio;

impl utoipa::PartialSchema for TipoCambio {
    fn schema() -> RefOr<Schema> {
        let mut s = <TipoBody as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(o)) = &mut s {
            o.properties.remove("codigo");
            o.required.retain(|f| f != "codigo");
        }
        s
    }
}

impl utoipa::ToSchema for TipoCambio {}

/// One specialty an incident type asks for (e.g. `negociador`): 1–50 characters, not only
/// blanks. Only a schema: the list is read as strings and checked by `validate`.
pub struct Especialidad;

impl utoipa::PartialSchema for Especialidad {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(50))
            .pattern(Some(r"^[^\x00]*[^\s\x00\x85][^\x00]*$"))
            .into()
    }
}

impl utoipa::ToSchema for Especialidad {}

fn between(errors: &mut Vec<FieldError>, field: &str, v: i64, min: i64, max: i64) {
    if !(min..=max).contains(&v) {
        errors.push(FieldError::body(
            field,
            "value_error",
            format!("Input should be between {min} and {max}"),
            json!(v),
        ));
    }
}

impl Validate for TipoBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(c) = &self.codigo
            && (c.is_empty()
                || c.len() > 50
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
        {
            errors.push(FieldError::body(
                "codigo",
                "string_pattern_mismatch",
                "String should match pattern '^[a-z0-9_]{1,50}$'",
                json!(c),
            ));
        }
        rules::len(errors, "nombre", rules::trim(&self.nombre), 1, 100);
        between(errors, "prioridad", self.prioridad, 1, 5);
        if let Some(n) = self.efectivos_requeridos {
            between(errors, "efectivos_requeridos", n, 1, 10);
        }
        if let Some(m) = self.checkin_minutos {
            between(errors, "checkin_minutos", m, 1, 1440);
        }
        if self.especialidades.len() > 10 {
            errors.push(FieldError::body(
                "especialidades",
                "too_long",
                "List should have at most 10 items",
                json!(self.especialidades.len()),
            ));
        }
        for (i, e) in self.especialidades.iter().enumerate() {
            if let Some((kind, msg)) = rules::length_problem(rules::trim(e), 1, 50) {
                errors.push(FieldError::at(
                    kind,
                    vec![json!("body"), json!("especialidades"), json!(i)],
                    msg,
                    json!(e),
                ));
            }
        }
    }
}

impl TipoBody {
    /// The fields as stored (ranges already checked by `validate`).
    fn fields<'a>(&'a self, especialidades: &'a [String]) -> TipoFields<'a> {
        TipoFields {
            nombre: rules::trim(&self.nombre),
            prioridad: self.prioridad as i16,
            efectivos_requeridos: self.efectivos_requeridos.unwrap_or(1) as i16,
            especialidades,
            checkin_minutos: self.checkin_minutos.map(|m| m as i32),
        }
    }
    fn especialidades(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .especialidades
            .iter()
            .map(|e| rules::trim(e).to_string())
            .collect();
        v.dedup();
        v
    }
}

fn codigo_missing() -> ServiceError {
    ServiceError::validation(FieldError::body(
        "codigo",
        "missing",
        "Field required",
        Value::Null,
    ))
}

/// Every type, by code (level 1+).
pub async fn list(ctx: &Ctx, _me: &Actor) -> ServiceResult<Vec<TipoIncidente>> {
    Ok(store::list(&ctx.db).await?)
}

/// One type (level 1+).
pub async fn get(ctx: &Ctx, _me: &Actor, codigo: &str) -> ServiceResult<TipoIncidente> {
    store::get(&ctx.db, codigo)
        .await?
        .ok_or_else(|| ServiceError::NotFound(TYPE_NOT_FOUND.into()))
}

/// A type as its audit rows record it. Its `nombre` is a label, not a person's name: it is
/// recorded as `tipo_nombre`, since the audit seals any `nombre` as personal data.
fn to_value(t: &TipoIncidente) -> ServiceResult<Value> {
    let mut v = serde_json::to_value(t).map_err(ServiceError::internal)?;
    if let Value::Object(m) = &mut v
        && let Some(n) = m.remove("nombre")
    {
        m.insert("tipo_nombre".into(), n);
    }
    Ok(v)
}

/// Adds a type (level 3); a taken code is 409 at `codigo`.
pub async fn create(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &TipoBody,
) -> ServiceResult<TipoIncidente> {
    require(me, Nivel::Administrador)?;
    let codigo = b.codigo.as_deref().ok_or_else(codigo_missing)?;
    let esp = b.especialidades();
    let mut tx = ctx.db.begin().await?;
    let t = store::insert(&mut *tx, codigo, &b.fields(&esp)).await?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("incident_type_created", Some(me.id))
            .resource("tipo_incidente", &t.codigo)
            .values(None, Some(to_value(&t)?))
            .status(201)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// Replaces a type's fields (level 3). A `codigo` in the body other than the path's is 409.
pub async fn update(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    codigo: &str,
    b: &TipoBody,
) -> ServiceResult<TipoIncidente> {
    require(me, Nivel::Administrador)?;
    if let Some(c) = &b.codigo
        && c != codigo
    {
        return Err(ServiceError::ConflictBody(json!({
            "detail": "The code of a type cannot change (it is the path's)",
            "codigo": codigo,
        })));
    }
    let esp = b.especialidades();
    let mut tx = ctx.db.begin().await?;
    let old = store::get(&mut *tx, codigo)
        .await?
        .ok_or_else(|| ServiceError::NotFound(TYPE_NOT_FOUND.into()))?;
    let t = store::update(&mut *tx, codigo, &b.fields(&esp))
        .await?
        .ok_or_else(|| ServiceError::NotFound(TYPE_NOT_FOUND.into()))?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("incident_type_updated", Some(me.id))
            .resource("tipo_incidente", codigo)
            .values(Some(to_value(&old)?), Some(to_value(&t)?))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// Deletes a type no incident uses (level 3); one in use is 409.
pub async fn delete(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    codigo: &str,
) -> ServiceResult<()> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    let t = match store::delete(&mut *tx, codigo).await {
        Err(e) if gad_store::violates(&e, "tareas_tipo_incidente_fkey") => {
            return Err(ServiceError::Refused(TYPE_IN_USE.into()));
        }
        other => other?.ok_or_else(|| ServiceError::NotFound(TYPE_NOT_FOUND.into()))?,
    };
    audit::record(
        &mut *tx,
        &AuditEntry::new("incident_type_deleted", Some(me.id))
            .resource("tipo_incidente", codigo)
            .values(Some(to_value(&t)?), None)
            .status(204)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
