//! Jurisdictions (`/api/v1/zonas`): comisarías, their cuadrantes and other zones. Read by
//! everyone signed in, written by level 3, every write audited. The outline's structure is
//! checked in `gad_core::zonas`; its validity and the parent's containment by PostGIS, inside
//! the write's transaction, so a 422 names PostGIS's own reason.

use gad_core::geo::{Lat, Lng};
use gad_core::request_context::RequestContext;
use gad_core::validate::{Validate, rules};
use gad_core::{Actor, FieldError, Nivel, TipoZona};
use gad_store::audit::{self, AuditEntry};
/// A zone on the wire.
pub use gad_store::zonas::Zona;
use gad_store::zonas::{self as store, ZonaFields};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};

const ZONE_NOT_FOUND: &str = "Zona no encontrada";
const ZONE_IN_USE: &str = "La zona tiene zonas hijas o supervisores asignados: no puede eliminarse ni dejar de ser comisaría";

/// `POST`/`PUT` body: a zone.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ZonaBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00\x85][^\x00]*$"
    )]
    pub nombre: String,
    pub tipo: TipoZona,
    /// The comisaría a cuadrante (required) or an `otra` zone (optional) belongs to; a
    /// comisaría has none.
    pub padre_id: Option<i64>,
    /// GeoJSON Polygon or MultiPolygon, WGS84 ([lng, lat]); closed rings of at least 4
    /// positions; valid per PostGIS (the 422 gives `ST_IsValidReason`).
    #[schema(value_type = Object)]
    pub geometria: Value,
}

impl Validate for ZonaBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        rules::len(errors, "nombre", rules::trim(&self.nombre), 1, 200);
        if let Some(problem) = gad_core::zonas::geometry_problem(&self.geometria) {
            errors.push(geometria_error(problem));
        }
    }
}

fn geometria_error(msg: impl Into<String>) -> FieldError {
    FieldError::body("geometria", "value_error", msg, Value::Null)
}

fn padre_error(msg: &str, padre_id: Option<i64>) -> ServiceError {
    ServiceError::validation(FieldError::body(
        "padre_id",
        "value_error",
        msg,
        json!(padre_id),
    ))
}

/// `GET /zonas` query: every zone, one type, or those containing a point (smallest first).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ZonaQuery {
    /// With `lng`: only the zones containing this point, smallest first.
    pub lat: Option<Lat>,
    /// With `lat`.
    pub lng: Option<Lng>,
    pub tipo: Option<TipoZona>,
}

impl Validate for ZonaQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        match (self.lat, self.lng) {
            (Some(_), None) => errors.push(FieldError::query(
                "lng",
                "missing",
                "Field required (with lat)",
                Value::Null,
            )),
            (None, Some(_)) => errors.push(FieldError::query(
                "lat",
                "missing",
                "Field required (with lng)",
                Value::Null,
            )),
            _ => {}
        }
    }
}

/// Zones (level 1+): all (parents first), of one type, or those containing a point.
pub async fn list(ctx: &Ctx, _me: &Actor, q: &ZonaQuery) -> ServiceResult<Vec<Zona>> {
    let mut rows = match (q.lat, q.lng) {
        (Some(lat), Some(lng)) => store::containing(&ctx.db, lat.get(), lng.get()).await?,
        _ => store::list(&ctx.db, None).await?,
    };
    if let Some(t) = q.tipo {
        rows.retain(|z| z.tipo == t);
    }
    Ok(rows)
}

/// The whole layer as a GeoJSON FeatureCollection (level 1+), JSON text.
pub async fn feature_collection(ctx: &Ctx, _me: &Actor) -> ServiceResult<String> {
    Ok(store::feature_collection(&ctx.db).await?)
}

/// One zone (level 1+).
pub async fn get(ctx: &Ctx, _me: &Actor, id: i64) -> ServiceResult<Zona> {
    store::get(&ctx.db, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(ZONE_NOT_FOUND.into()))
}

/// A zone as its audit rows record it: its `nombre` is a place, not a person, so it is recorded
/// as `zona_nombre` (the audit seals any `nombre` as personal data).
fn to_value(z: &Zona) -> ServiceResult<Value> {
    let mut v = serde_json::to_value(z).map_err(ServiceError::internal)?;
    if let Value::Object(m) = &mut v
        && let Some(n) = m.remove("nombre")
    {
        m.insert("zona_nombre".into(), n);
    }
    Ok(v)
}

/// The rules a write must meet, checked in its transaction: the parent's kind, PostGIS
/// validity, a cuadrante inside its comisaría, and (for an update) the zone's children still
/// inside it. Answers the GeoJSON text to store.
async fn check(conn: &mut gad_store::Conn, b: &ZonaBody, id: Option<i64>) -> ServiceResult<String> {
    match (b.tipo, b.padre_id) {
        (TipoZona::Comisaria, Some(p)) => {
            return Err(padre_error("Una comisaría no tiene zona padre", Some(p)));
        }
        (TipoZona::Cuadrante, None) => {
            return Err(ServiceError::validation(FieldError::body(
                "padre_id",
                "missing",
                "Un cuadrante pertenece a una comisaría: padre_id es obligatorio",
                Value::Null,
            )));
        }
        _ => {}
    }
    if id.is_some() && id == b.padre_id {
        return Err(padre_error(
            "Una zona no puede ser su propia padre",
            b.padre_id,
        ));
    }
    let geojson = serde_json::to_string(&b.geometria).map_err(ServiceError::internal)?;
    // The geometry is the only free input of this read: a database error here is PostGIS
    // refusing to parse it (the transaction is abandoned with the 422).
    let c = match store::check_geometry(&mut *conn, &geojson, b.padre_id, id).await {
        Ok(c) => c,
        Err(gad_store::DbError::Database(e)) => {
            return Err(ServiceError::validation(geometria_error(format!(
                "GeoJSON inválido: {}",
                e.message()
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(reason) = c.invalid_reason {
        return Err(ServiceError::validation(geometria_error(reason)));
    }
    if b.padre_id.is_some() {
        match c.padre_tipo.as_deref() {
            None => return Err(padre_error("La zona padre no existe", b.padre_id)),
            Some("comisaria") => {}
            Some(_) => {
                return Err(padre_error(
                    "La zona padre debe ser una comisaría",
                    b.padre_id,
                ));
            }
        }
    }
    if b.tipo == TipoZona::Cuadrante && c.inside_padre == Some(false) {
        return Err(ServiceError::validation(geometria_error(
            "El cuadrante no está dentro de su comisaría",
        )));
    }
    if c.hijos_fuera > 0 {
        return Err(ServiceError::validation(geometria_error(format!(
            "{} cuadrante(s) de esta comisaría quedarían fuera de su nueva geometría",
            c.hijos_fuera
        ))));
    }
    Ok(geojson)
}

fn fields<'a>(b: &'a ZonaBody, geojson: &'a str) -> ZonaFields<'a> {
    ZonaFields {
        nombre: rules::trim(&b.nombre),
        tipo: b.tipo,
        padre_id: b.padre_id,
        geojson,
    }
}

/// Inserts a zone in `conn`'s transaction (checks and audit included): the one path of the API
/// and the import (`actor_id` None: an operator's command).
async fn create_in(
    conn: &mut gad_store::Conn,
    actor_id: Option<i64>,
    origin: &RequestContext,
    b: &ZonaBody,
) -> ServiceResult<Zona> {
    let geojson = check(conn, b, None).await?;
    let z = store::insert(&mut *conn, &fields(b, &geojson)).await?;
    audit::record(
        &mut *conn,
        &AuditEntry::new("zone_created", actor_id)
            .resource("zona", z.id.to_string())
            .values(None, Some(to_value(&z)?))
            .status(201)
            .context(origin),
    )
    .await?;
    Ok(z)
}

/// Adds a zone (level 3).
pub async fn create(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    b: &ZonaBody,
) -> ServiceResult<Zona> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    let z = create_in(&mut tx, Some(me.id), origin, b).await?;
    tx.commit().await?;
    Ok(z)
}

/// Replaces a zone (level 3). Tasks keep the zone they were given when placed.
pub async fn update(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    id: i64,
    b: &ZonaBody,
) -> ServiceResult<Zona> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    let old = store::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(ZONE_NOT_FOUND.into()))?;
    if old.tipo == TipoZona::Comisaria
        && b.tipo != TipoZona::Comisaria
        && (store::has_children(&mut *tx, id).await? || store::is_assigned(&mut *tx, id).await?)
    {
        return Err(ServiceError::Refused(ZONE_IN_USE.into()));
    }
    let geojson = check(&mut tx, b, Some(id)).await?;
    let z = store::update(&mut *tx, id, &fields(b, &geojson))
        .await?
        .ok_or_else(|| ServiceError::NotFound(ZONE_NOT_FOUND.into()))?;
    audit::record(
        &mut *tx,
        &AuditEntry::new("zone_updated", Some(me.id))
            .resource("zona", id.to_string())
            .values(Some(to_value(&old)?), Some(to_value(&z)?))
            .status(200)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(z)
}

/// Deletes a zone (level 3); one with children or assigned to a supervisor is 409. Tasks in it
/// lose the reference (their location stays).
pub async fn delete(ctx: &Ctx, me: &Actor, origin: &RequestContext, id: i64) -> ServiceResult<()> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    let z = match store::delete(&mut *tx, id).await {
        Err(e)
            if gad_store::violates(&e, "zonas_padre_id_fkey")
                || gad_store::violates(&e, "usuario_zonas_zona_id_fkey") =>
        {
            return Err(ServiceError::Refused(ZONE_IN_USE.into()));
        }
        other => other?.ok_or_else(|| ServiceError::NotFound(ZONE_NOT_FOUND.into()))?,
    };
    audit::record(
        &mut *tx,
        &AuditEntry::new("zone_deleted", Some(me.id))
            .resource("zona", id.to_string())
            .values(Some(to_value(&z)?), None)
            .status(204)
            .context(origin),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GIS office: FeatureCollection in and out

/// Reads a FeatureCollection of zones (properties `nombre`, `tipo`, optional `padre`: the name
/// of a comisaría in the same file or already stored) and inserts them all in one transaction,
/// comisarías first so a parent always precedes its children. Any refused feature aborts the
/// whole import, named by its index. Answers how many zones were created.
pub async fn import(ctx: &Ctx, text: &str) -> ServiceResult<usize> {
    let fc: Value = serde_json::from_str(text)
        .map_err(|e| ServiceError::BadRequest(format!("JSON inválido: {e}")))?;
    if fc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(ServiceError::BadRequest(
            "se esperaba un FeatureCollection".into(),
        ));
    }
    let features = fc
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| ServiceError::BadRequest("FeatureCollection sin features".into()))?;
    let mut order: Vec<(usize, &Value)> = features.iter().enumerate().collect();
    let is_comisaria = |f: &Value| f["properties"]["tipo"].as_str() == Some("comisaria");
    order.sort_by_key(|(_, f)| !is_comisaria(f));
    let origin = RequestContext::default();
    let mut by_name: std::collections::HashMap<String, i64> = Default::default();
    let mut tx = ctx.db.begin().await?;
    for (i, f) in order {
        let refuse = |msg: String| ServiceError::BadRequest(format!("feature {i}: {msg}"));
        let props = &f["properties"];
        let nombre = props["nombre"]
            .as_str()
            .ok_or_else(|| refuse("falta properties.nombre".into()))?;
        let tipo = props["tipo"]
            .as_str()
            .and_then(TipoZona::from_wire)
            .ok_or_else(|| refuse(format!("properties.tipo: {}", TipoZona::allowed_message())))?;
        let padre_id = match props["padre"].as_str() {
            None => None,
            Some(p) => Some(match by_name.get(p) {
                Some(id) => *id,
                None => store::id_by_name(&mut *tx, p)
                    .await?
                    .ok_or_else(|| refuse(format!("la zona padre {p:?} no existe")))?,
            }),
        };
        let b = ZonaBody {
            nombre: nombre.to_string(),
            tipo,
            padre_id,
            geometria: f["geometry"].clone(),
        };
        if let Err(errors) = gad_core::validate::check(&b) {
            return Err(refuse(describe(&errors)));
        }
        let z = match create_in(&mut tx, None, &origin, &b).await {
            Ok(z) => z,
            Err(ServiceError::Validation(errors)) => return Err(refuse(describe(&errors))),
            Err(e) => return Err(e),
        };
        by_name.insert(z.nombre.clone(), z.id);
    }
    tx.commit().await?;
    Ok(features.len())
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            let field = e.loc.get(1).and_then(Value::as_str).unwrap_or_default();
            format!("{field}: {}", e.msg)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
