//! The external geocoder of the address search (`GEOCODER_URL`): a Nominatim- or
//! Photon-compatible service asked before the local gazetteer. Any failure (refused, slow past
//! `GEOCODER_TIMEOUT_MS`, an answer that is not what either protocol sends) is `Err`, and the
//! caller falls back to the gazetteer: the search never fails because the geocoder did.
//!
//! Answers are read by their shape, whatever `GEOCODER_KIND` says: a JSON array is Nominatim's
//! search, an object with `features` is Photon's (search and reverse), an object with `lat`/`lon`
//! is Nominatim's reverse, one with `error` is Nominatim's "nothing here".

use serde_json::Value;

use crate::config::{GeocoderConfig, GeocoderKind};

/// One place as the geocoder named and located it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encontrado {
    pub nombre: String,
    /// lugar, calle or direccion.
    pub tipo: &'static str,
    pub lat: f64,
    pub lng: f64,
}

pub struct Geocoder {
    base: String,
    kind: GeocoderKind,
    client: reqwest::Client,
}

impl Geocoder {
    /// The configured geocoder, or None when GEOCODER_URL is unset.
    pub fn from_config(c: &GeocoderConfig, version: &str) -> Option<Geocoder> {
        let base = c.url.clone()?;
        let client = reqwest::Client::builder()
            .timeout(c.timeout)
            .connect_timeout(c.timeout)
            // Nominatim's usage policy asks every client to name itself.
            .user_agent(format!("GAD/{version}"))
            .build()
            .map_err(|e| {
                tracing::error!("geocoder client: {e}; address search uses only the gazetteer")
            })
            .ok()?;
        Some(Geocoder {
            base,
            kind: c.kind,
            client,
        })
    }

    /// Places matching `q`, best first (at most `limit`).
    pub async fn buscar(&self, q: &str, limit: i64) -> anyhow::Result<Vec<Encontrado>> {
        let limit = limit.to_string();
        let req = match self.kind {
            GeocoderKind::Nominatim => self.client.get(format!("{}/search", self.base)).query(&[
                ("q", q),
                ("format", "jsonv2"),
                ("limit", &limit),
                ("accept-language", "es"),
            ]),
            GeocoderKind::Photon => self
                .client
                .get(format!("{}/api", self.base))
                .query(&[("q", q), ("limit", &limit)]),
        };
        self.ask(req).await
    }

    /// What is at (or nearest to) a point, if anything.
    pub async fn inverso(&self, lat: f64, lng: f64) -> anyhow::Result<Option<Encontrado>> {
        let (lat, lon) = (lat.to_string(), lng.to_string());
        let req = match self.kind {
            GeocoderKind::Nominatim => self.client.get(format!("{}/reverse", self.base)).query(&[
                ("lat", lat.as_str()),
                ("lon", lon.as_str()),
                ("format", "jsonv2"),
                ("accept-language", "es"),
            ]),
            GeocoderKind::Photon => self
                .client
                .get(format!("{}/reverse", self.base))
                .query(&[("lat", lat.as_str()), ("lon", lon.as_str())]),
        };
        Ok(self.ask(req).await?.into_iter().next())
    }

    async fn ask(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Vec<Encontrado>> {
        let resp = req.send().await?;
        let status = resp.status();
        if !status.is_success() {
            anyhow::bail!("geocoder answered {status}");
        }
        let body: Value = resp.json().await?;
        leer(&body)
    }
}

/// The places of an answer of either protocol (see the module's comment).
pub fn leer(body: &Value) -> anyhow::Result<Vec<Encontrado>> {
    match body {
        Value::Array(items) => Ok(items.iter().filter_map(nominatim).collect()),
        Value::Object(o) if o.contains_key("features") => Ok(o["features"]
            .as_array()
            .map(|fs| fs.iter().filter_map(photon).collect())
            .unwrap_or_default()),
        Value::Object(o) if o.contains_key("lat") => Ok(nominatim(body).into_iter().collect()),
        Value::Object(o) if o.contains_key("error") => Ok(Vec::new()),
        _ => anyhow::bail!("geocoder answer is neither Nominatim's nor Photon's"),
    }
}

/// A coordinate Nominatim writes as a string (or a number).
fn coord(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn valid(lat: f64, lng: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)
}

/// A name bounded like the gazetteer's.
fn bounded(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.chars().take(gad_core::lugares::MAX_CHARS).collect())
}

fn nominatim(item: &Value) -> Option<Encontrado> {
    let (lat, lng) = (coord(&item["lat"])?, coord(&item["lon"])?);
    if !valid(lat, lng) {
        return None;
    }
    let nombre = item["display_name"]
        .as_str()
        .or_else(|| item["name"].as_str())
        .and_then(bounded)?;
    let class = item["category"].as_str().or_else(|| item["class"].as_str());
    let kind = item["addresstype"]
        .as_str()
        .or_else(|| item["type"].as_str());
    let tipo = if kind == Some("house") || kind == Some("building") {
        "direccion"
    } else if class == Some("highway") {
        "calle"
    } else {
        "lugar"
    };
    Some(Encontrado {
        nombre,
        tipo,
        lat,
        lng,
    })
}

fn photon(feature: &Value) -> Option<Encontrado> {
    let c = feature["geometry"]["coordinates"].as_array()?;
    let (lng, lat) = (c.first()?.as_f64()?, c.get(1)?.as_f64()?);
    if !valid(lat, lng) {
        return None;
    }
    let p = &feature["properties"];
    let text = |k: &str| p[k].as_str().map(str::trim).filter(|s| !s.is_empty());
    let street = match (text("street"), text("housenumber")) {
        (Some(s), Some(n)) => Some(format!("{s} {n}")),
        (Some(s), None) => Some(s.to_string()),
        _ => None,
    };
    let head = match (text("name"), street) {
        (Some(n), Some(s)) if n != s => format!("{n}, {s}"),
        (Some(n), _) => n.to_string(),
        (None, Some(s)) => s,
        (None, None) => return None,
    };
    let nombre = match text("city") {
        Some(city) => format!("{head}, {city}"),
        None => head,
    };
    let tipo = if text("housenumber").is_some() || text("type") == Some("house") {
        "direccion"
    } else if text("osm_key") == Some("highway") || text("type") == Some("street") {
        "calle"
    } else {
        "lugar"
    };
    Some(Encontrado {
        nombre: bounded(&nombre)?,
        tipo,
        lat,
        lng,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_nominatim_search_and_reverse() {
        let body = json!([{"lat": "-34.6037", "lon": "-58.3816", "category": "tourism",
            "type": "attraction", "name": "Obelisco", "display_name": "Obelisco, Buenos Aires"},
            {"lat": "x", "lon": "1"}]);
        let r = leer(&body).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].nombre, "Obelisco, Buenos Aires");
        assert_eq!(r[0].tipo, "lugar");
        assert_eq!((r[0].lat, r[0].lng), (-34.6037, -58.3816));
        let rev = json!({"lat": "-34.6", "lon": "-58.38", "category": "highway",
            "type": "primary", "display_name": "Avenida Corrientes"});
        assert_eq!(leer(&rev).unwrap()[0].tipo, "calle");
        assert!(
            leer(&json!({"error": "Unable to geocode"}))
                .unwrap()
                .is_empty()
        );
        assert!(leer(&json!("nope")).is_err());
    }

    #[test]
    fn reads_photon() {
        let body = json!({"type": "FeatureCollection", "features": [
            {"geometry": {"type": "Point", "coordinates": [-58.38, -34.60]},
             "properties": {"street": "Avenida Corrientes", "housenumber": "1234",
                            "city": "Buenos Aires", "osm_key": "place", "type": "house"}},
            {"geometry": {"type": "Point", "coordinates": [-58.37, -34.61]},
             "properties": {"name": "Plaza de Mayo", "osm_key": "leisure"}},
            {"geometry": {"type": "Point", "coordinates": [500, 0]},
             "properties": {"name": "fuera"}}]});
        let r = leer(&body).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].nombre, "Avenida Corrientes 1234, Buenos Aires");
        assert_eq!(r[0].tipo, "direccion");
        assert_eq!((r[0].lat, r[0].lng), (-34.60, -58.38));
        assert_eq!(r[1].nombre, "Plaza de Mayo");
        assert_eq!(r[1].tipo, "lugar");
    }
}
