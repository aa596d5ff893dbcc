//! Address search: `buscar` (street and number, intersections, places; best first), `inverso`
//! (what is at a point) and `geocode_first` (the intake's one answer for a spoken address).
//!
//! When `GEOCODER_URL` is set the external geocoder is asked first; its failure or empty answer
//! falls back to the embedded gazetteer (`lugares`), so the search works offline. Answers are
//! cached per normalised query (`GEOCODER_CACHE_SECONDS`) in the shared cache, and `importar`
//! (the `gad lugares import` command) empties that cache when the gazetteer changes.

pub mod import;

use std::time::Duration;

use gad_core::FieldError;
use gad_core::geo::{Lat, Lng, round2};
use gad_core::lugares::{leer, normalizar};
use gad_core::text::Consulta;
use gad_core::validate::Validate;
use gad_store::lugares as store;
use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::ServiceResult;

/// Answers of a search that names no `limit`.
pub const DEFAULT_LIMIT: i64 = 10;
/// Most answers of one search.
pub const MAX_LIMIT: i64 = 20;
/// How far from the asked point the reverse search looks (metres).
pub const INVERSO_RADIO_M: f64 = 250.0;
/// Within this distance a named place wins over the street it stands on (metres).
pub const LUGAR_PREFERIDO_M: f64 = 30.0;

/// A place, address or intersection and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lugar {
    /// What to show: "Avenida Corrientes 1234", "Corrientes y Florida", "Obelisco".
    pub nombre: String,
    /// lugar (a named place), calle (a street, at the middle of one of its segments),
    /// direccion (a house number on a street) or interseccion (where two streets cross).
    pub tipo: String,
    pub lat: f64,
    pub lng: f64,
}

/// What is at (or nearest to) a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LugarCercano {
    pub nombre: String,
    /// As in `Lugar`.
    pub tipo: String,
    /// The place found (for a street: the closest point on it).
    pub lat: f64,
    pub lng: f64,
    /// Metres from the asked point to `lat`/`lng` (two decimals).
    pub distancia_m: f64,
}

/// `GET /geo/buscar`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BuscarQuery {
    /// "Corrientes 1234", "Corrientes y Florida", "Obelisco"… (2–200 characters).
    #[param(inline)]
    pub q: Consulta,
    /// Most answers (1–20, default 10).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<i64>,
}

impl Validate for BuscarQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(l) = self.limit
            && !(1..=MAX_LIMIT).contains(&l)
        {
            errors.push(FieldError::query(
                "limit",
                "value_error",
                format!("Input should be between 1 and {MAX_LIMIT}"),
                serde_json::Value::from(l),
            ));
        }
    }
}

/// `GET /geo/inverso`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InversoQuery {
    pub lat: Lat,
    pub lng: Lng,
}

impl Validate for InversoQuery {}

fn cache_ttl(ctx: &Ctx) -> Option<Duration> {
    let s = ctx.config.geocoder.cache_seconds;
    (s > 0).then(|| Duration::from_secs(s))
}

/// Cache keys of the address search (all under this prefix, so an import can drop them).
const CACHE_PREFIX: &str = "geo:";

/// Places matching `q`, best first (at most `limit`, clamped to 1–20): the external geocoder's
/// answer when it has one, else the gazetteer's — an address ("Corrientes 1234"), then an
/// intersection ("Corrientes y Florida"), then names that look like the query.
pub async fn buscar(ctx: &Ctx, q: &str, limit: i64) -> ServiceResult<Vec<Lugar>> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let nq = normalizar(q);
    if nq.chars().count() < Consulta::MIN_CHARS {
        return Ok(Vec::new());
    }
    let key = format!("{CACHE_PREFIX}b:{limit}:{nq}");
    let ttl = cache_ttl(ctx);
    if ttl.is_some()
        && let Some((v, _)) = ctx.cache.get(&key).await
        && let Ok(hit) = serde_json::from_value::<Vec<Lugar>>(v)
    {
        return Ok(hit);
    }
    let mut found = Vec::new();
    if let Some(g) = &ctx.geocoder {
        match g.buscar(q.trim(), limit).await {
            Ok(r) => found = r.into_iter().map(externo).collect(),
            Err(e) => tracing::warn!(error = %e, "geocoder failed; answering from the gazetteer"),
        }
    }
    if found.is_empty() {
        found = local(ctx, &nq, limit).await?;
    }
    if let Some(ttl) = ttl
        && let Ok(v) = serde_json::to_value(&found)
    {
        ctx.cache.set(&key, &v, ttl).await;
    }
    Ok(found)
}

/// The intake's reading of a spoken address: the best place for `q`, if any.
pub async fn geocode_first(ctx: &Ctx, q: &str) -> ServiceResult<Option<Lugar>> {
    Ok(buscar(ctx, q, 1).await?.into_iter().next())
}

fn externo(e: crate::geocoder::Encontrado) -> Lugar {
    Lugar {
        nombre: e.nombre,
        tipo: e.tipo.to_string(),
        lat: e.lat,
        lng: e.lng,
    }
}

/// The gazetteer's answer: the structured readings first (their queries run at once), then the
/// names; a place found twice (the same name at the same point) is kept once.
async fn local(ctx: &Ctx, nq: &str, limit: i64) -> ServiceResult<Vec<Lugar>> {
    let lectura = leer(nq);
    let db = &ctx.db;
    let direccion = async {
        match &lectura.direccion {
            Some((calle, n)) => store::por_direccion(db, calle, *n, limit).await,
            None => Ok(Vec::new()),
        }
    };
    let interseccion = async {
        match &lectura.interseccion {
            Some((a, b)) => store::por_interseccion(db, a, b, limit).await,
            None => Ok(Vec::new()),
        }
    };
    let nombre = store::por_nombre(db, &lectura.nombre, limit);
    let (d, i, n) = tokio::try_join!(direccion, interseccion, nombre)?;
    let mut out: Vec<Lugar> = Vec::new();
    for h in d.into_iter().chain(i).chain(n) {
        let dup = out.iter().any(|o| {
            o.nombre.eq_ignore_ascii_case(&h.nombre)
                && (o.lat - h.lat).abs() < 1e-4
                && (o.lng - h.lng).abs() < 1e-4
        });
        if !dup {
            out.push(Lugar {
                nombre: h.nombre,
                tipo: h.tipo,
                lat: h.lat,
                lng: h.lng,
            });
        }
        if out.len() as i64 >= limit {
            break;
        }
    }
    Ok(out)
}

/// What is at a point: the external geocoder's answer when it has one, else the nearest entry of
/// the gazetteer within `INVERSO_RADIO_M` — a named place within `LUGAR_PREFERIDO_M`, otherwise
/// the nearest street with the house number interpolated there. None: nothing near.
pub async fn inverso(ctx: &Ctx, lat: Lat, lng: Lng) -> ServiceResult<Option<LugarCercano>> {
    let (lat, lng) = (lat.get(), lng.get());
    let key = format!("{CACHE_PREFIX}r:{lat:.5}:{lng:.5}");
    let ttl = cache_ttl(ctx);
    if ttl.is_some()
        && let Some((v, _)) = ctx.cache.get(&key).await
        && let Ok(hit) = serde_json::from_value::<Option<LugarCercano>>(v)
    {
        return Ok(hit);
    }
    let mut found = None;
    if let Some(g) = &ctx.geocoder {
        match g.inverso(lat, lng).await {
            Ok(r) => {
                found = r.map(|e| LugarCercano {
                    distancia_m: round2(distance_m(lat, lng, e.lat, e.lng)),
                    nombre: e.nombre,
                    tipo: e.tipo.to_string(),
                    lat: e.lat,
                    lng: e.lng,
                })
            }
            Err(e) => tracing::warn!(error = %e, "geocoder failed; answering from the gazetteer"),
        }
    }
    if found.is_none() {
        let near = store::cercanos(&ctx.db, lat, lng, INVERSO_RADIO_M, 20).await?;
        found = elegir(near).map(|c| LugarCercano {
            nombre: match c.altura {
                Some(n) => format!("{} {n}", c.nombre),
                None => c.nombre,
            },
            tipo: if c.altura.is_some() {
                "direccion".into()
            } else {
                c.tipo
            },
            lat: c.lat,
            lng: c.lng,
            distancia_m: round2(c.distancia_m),
        });
    }
    if let Some(ttl) = ttl
        && let Ok(v) = serde_json::to_value(&found)
    {
        ctx.cache.set(&key, &v, ttl).await;
    }
    Ok(found)
}

/// Among entries sorted nearest first: a place or intersection close enough to name the spot,
/// else the nearest street, else whatever is nearest.
fn elegir(near: Vec<store::Cercano>) -> Option<store::Cercano> {
    let place = near
        .iter()
        .position(|c| c.tipo != "calle" && c.distancia_m <= LUGAR_PREFERIDO_M);
    let street = near.iter().position(|c| c.tipo == "calle");
    let i = place.or(street).or((!near.is_empty()).then_some(0))?;
    near.into_iter().nth(i)
}

/// Great-circle distance in metres (mean Earth radius): how far an external answer is from the
/// asked point.
fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Importado {
    pub borrados: u64,
    pub insertados: u64,
}

/// Rows per INSERT of an import.
const LOTE: usize = 2_000;

/// Loads entries into the gazetteer in one transaction (after emptying it when `reemplazar`),
/// then drops the cached answers, which may now be stale.
pub async fn importar(
    ctx: &Ctx,
    filas: &[store::Nuevo],
    reemplazar: bool,
) -> ServiceResult<Importado> {
    let mut tx = ctx.db.begin().await?;
    let borrados = if reemplazar {
        store::vaciar(&mut tx).await?
    } else {
        0
    };
    let mut insertados = 0;
    for lote in filas.chunks(LOTE) {
        insertados += store::insertar(&mut tx, lote).await?;
    }
    tx.commit().await?;
    ctx.cache.delete_pattern(&format!("{CACHE_PREFIX}*")).await;
    Ok(Importado {
        borrados,
        insertados,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(tipo: &str, d: f64) -> store::Cercano {
        store::Cercano {
            nombre: format!("{tipo}{d}"),
            tipo: tipo.into(),
            lat: 0.0,
            lng: 0.0,
            distancia_m: d,
            altura: None,
        }
    }

    #[test]
    fn a_close_place_wins_over_the_street() {
        let pick = |v| elegir(v).map(|c| c.nombre);
        assert_eq!(
            pick(vec![c("calle", 5.0), c("lugar", 20.0)]),
            Some("lugar20".into())
        );
        assert_eq!(
            pick(vec![c("calle", 5.0), c("lugar", 40.0)]),
            Some("calle5".into())
        );
        assert_eq!(pick(vec![c("lugar", 40.0)]), Some("lugar40".into()));
        assert_eq!(pick(vec![]), None);
    }

    #[test]
    fn haversine_is_close_to_the_spheroid() {
        // One degree of latitude near Buenos Aires is ~110.9 km on the spheroid.
        let d = distance_m(-34.0, -58.0, -35.0, -58.0);
        assert!((d - 111_195.0).abs() < 1.0, "{d}");
    }
}
