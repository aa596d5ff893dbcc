//! Reading a gazetteer file for `gad lugares import`: a GeoJSON FeatureCollection (Points for
//! places and intersections, LineStrings for street segments with `altura_desde`/`altura_hasta`)
//! or a CSV `nombre,tipo,lat,lng` (points only). Every row is checked; a bad one is reported with
//! its feature index or line number and left out, the rest is imported.

use gad_core::lugares::{MAX_CHARS, normalizar};
use gad_store::lugares::Nuevo;
use serde_json::Value;

/// Rows read and rows refused (with where and why).
#[derive(Debug, Default)]
pub struct Leido {
    pub filas: Vec<Nuevo>,
    pub rechazos: Vec<String>,
}

/// The file's format, from its name: `.csv` is CSV, anything else GeoJSON.
pub fn leer_archivo(nombre_archivo: &str, contenido: &str) -> Result<Leido, String> {
    if nombre_archivo.to_lowercase().ends_with(".csv") {
        Ok(leer_csv(contenido))
    } else {
        leer_geojson(contenido)
    }
}

fn texto(v: &Value, campo: &str) -> Result<Option<String>, String> {
    match v.get(campo) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                Ok(None)
            } else if t.chars().count() > MAX_CHARS {
                Err(format!("{campo} tiene más de {MAX_CHARS} caracteres"))
            } else {
                Ok(Some(t.to_string()))
            }
        }
        Some(_) => Err(format!("{campo} debe ser texto")),
    }
}

fn altura(v: &Value, campo: &str) -> Result<Option<i32>, String> {
    match v.get(campo) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_i64()
            .or_else(|| n.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| format!("{campo} debe ser un entero no negativo")),
    }
}

fn punto(c: &Value) -> Result<(f64, f64), String> {
    let pair = c.as_array().filter(|a| a.len() >= 2);
    let (lng, lat) = pair
        .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)))
        .ok_or("coordenadas inválidas")?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
        return Err(format!("coordenadas fuera de rango ({lng}, {lat})"));
    }
    Ok((lng, lat))
}

fn nuevo(
    nombre: String,
    tipo: &str,
    wkt: String,
    alturas: (Option<i32>, Option<i32>),
    localidad: Option<String>,
) -> Result<Nuevo, String> {
    let nombre_normalizado = normalizar(&nombre);
    if nombre_normalizado.is_empty() {
        return Err("nombre sin letras ni números".into());
    }
    Ok(Nuevo {
        nombre_normalizado: nombre_normalizado.chars().take(MAX_CHARS).collect(),
        nombre,
        tipo: tipo.to_string(),
        wkt,
        altura_desde: alturas.0,
        altura_hasta: alturas.1,
        localidad,
    })
}

fn feature(f: &Value) -> Result<Nuevo, String> {
    let props = f.get("properties").unwrap_or(&Value::Null);
    let nombre = texto(props, "nombre")?.ok_or("falta nombre")?;
    let tipo = texto(props, "tipo")?;
    let localidad = texto(props, "localidad")?;
    let geom = f.get("geometry").ok_or("falta geometry")?;
    let coords = &geom["coordinates"];
    match geom["type"].as_str() {
        Some("Point") => {
            let tipo = tipo.unwrap_or_else(|| "lugar".into());
            if tipo != "lugar" && tipo != "interseccion" {
                return Err(format!(
                    "tipo '{tipo}' no vale para un Point (lugar o interseccion)"
                ));
            }
            let (lng, lat) = punto(coords)?;
            nuevo(
                nombre,
                &tipo,
                format!("POINT({lng} {lat})"),
                (None, None),
                localidad,
            )
        }
        Some("LineString") => {
            if tipo.as_deref().is_some_and(|t| t != "calle") {
                return Err("una LineString es un tramo de calle (tipo calle)".into());
            }
            let pts = coords
                .as_array()
                .ok_or("coordenadas inválidas")?
                .iter()
                .map(punto)
                .collect::<Result<Vec<_>, _>>()?;
            if pts.len() < 2 {
                return Err("una LineString necesita al menos dos puntos".into());
            }
            let alturas = (
                altura(props, "altura_desde")?,
                altura(props, "altura_hasta")?,
            );
            if alturas.0.is_some() != alturas.1.is_some() {
                return Err("altura_desde y altura_hasta van juntas".into());
            }
            let wkt = pts
                .iter()
                .map(|(x, y)| format!("{x} {y}"))
                .collect::<Vec<_>>()
                .join(",");
            nuevo(
                nombre,
                "calle",
                format!("LINESTRING({wkt})"),
                alturas,
                localidad,
            )
        }
        Some(other) => Err(format!(
            "geometría {other} no admitida (Point o LineString)"
        )),
        None => Err("falta geometry.type".into()),
    }
}

/// A GeoJSON FeatureCollection; refusals name the feature by its index (from 1).
pub fn leer_geojson(contenido: &str) -> Result<Leido, String> {
    let doc: Value =
        serde_json::from_str(contenido).map_err(|e| format!("GeoJSON inválido: {e}"))?;
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or("se esperaba un FeatureCollection con features")?;
    let mut out = Leido::default();
    for (i, f) in features.iter().enumerate() {
        match feature(f) {
            Ok(n) => out.filas.push(n),
            Err(e) => out.rechazos.push(format!("feature {}: {e}", i + 1)),
        }
    }
    Ok(out)
}

/// The fields of one CSV line (RFC 4180 quoting: `"a, b"`, `"a ""b"""`).
fn campos(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// A CSV with the header `nombre,tipo,lat,lng` (and optionally `localidad`); refusals name the
/// line (from 1, the header being line 1).
pub fn leer_csv(contenido: &str) -> Leido {
    let mut out = Leido::default();
    let mut lines = contenido.lines().enumerate();
    let header: Vec<String> = match lines.next() {
        Some((_, h)) => campos(h.trim_start_matches('\u{feff}'))
            .into_iter()
            .map(|c| c.trim().to_lowercase())
            .collect(),
        None => return out,
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(cn), Some(ct), Some(clat), Some(clng)) =
        (col("nombre"), col("tipo"), col("lat"), col("lng"))
    else {
        out.rechazos
            .push("línea 1: la cabecera debe tener nombre,tipo,lat,lng".into());
        return out;
    };
    let cloc = col("localidad");
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f = campos(line);
        let get = |c: usize| f.get(c).map(|s| s.trim().to_string()).unwrap_or_default();
        let row = (|| -> Result<Nuevo, String> {
            let nombre = get(cn);
            if nombre.is_empty() {
                return Err("falta nombre".into());
            }
            if nombre.chars().count() > MAX_CHARS {
                return Err(format!("nombre tiene más de {MAX_CHARS} caracteres"));
            }
            let tipo = match get(ct).as_str() {
                "" => "lugar".to_string(),
                t @ ("lugar" | "interseccion") => t.to_string(),
                t => return Err(format!("tipo '{t}' no vale en CSV (lugar o interseccion)")),
            };
            let lat: f64 = get(clat).parse().map_err(|_| "lat no es un número")?;
            let lng: f64 = get(clng).parse().map_err(|_| "lng no es un número")?;
            let (lng, lat) = punto(&serde_json::json!([lng, lat]))?;
            let localidad = cloc.map(get).filter(|s| !s.is_empty());
            nuevo(
                nombre,
                &tipo,
                format!("POINT({lng} {lat})"),
                (None, None),
                localidad,
            )
        })();
        match row {
            Ok(n) => out.filas.push(n),
            Err(e) => out.rechazos.push(format!("línea {}: {e}", i + 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn geojson_rows_and_refusals() {
        let doc = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"nombre": "Obelisco"},
             "geometry": {"type": "Point", "coordinates": [-58.3816, -34.6037]}},
            {"type": "Feature", "properties": {"nombre": "Av. Corrientes", "altura_desde": 1000, "altura_hasta": 1099},
             "geometry": {"type": "LineString", "coordinates": [[-58.38, -34.60], [-58.39, -34.60]]}},
            {"type": "Feature", "properties": {},
             "geometry": {"type": "Point", "coordinates": [-58.38, -34.60]}},
            {"type": "Feature", "properties": {"nombre": "x", "altura_desde": 1},
             "geometry": {"type": "LineString", "coordinates": [[-58.38, -34.60], [-58.39, -34.60]]}},
            {"type": "Feature", "properties": {"nombre": "y"},
             "geometry": {"type": "Point", "coordinates": [-58.38, -134.60]}},
            {"type": "Feature", "properties": {"nombre": "z"},
             "geometry": {"type": "Polygon", "coordinates": []}}
        ]});
        let r = leer_geojson(&doc.to_string()).unwrap();
        assert_eq!(r.filas.len(), 2);
        assert_eq!(r.filas[0].wkt, "POINT(-58.3816 -34.6037)");
        assert_eq!(r.filas[0].tipo, "lugar");
        assert_eq!(r.filas[1].nombre_normalizado, "avenida corrientes");
        assert_eq!(r.filas[1].wkt, "LINESTRING(-58.38 -34.6,-58.39 -34.6)");
        assert_eq!(r.filas[1].altura_hasta, Some(1099));
        assert_eq!(r.rechazos.len(), 4);
        assert!(
            r.rechazos[0].starts_with("feature 3: falta nombre"),
            "{:?}",
            r.rechazos
        );
        assert!(r.rechazos[1].starts_with("feature 4: altura"));
        assert!(r.rechazos[2].starts_with("feature 5: coordenadas fuera"));
        assert!(r.rechazos[3].starts_with("feature 6: geometría Polygon"));
        assert!(leer_geojson("[1]").is_err());
    }

    #[test]
    fn csv_rows_and_refusals() {
        let r = leer_csv(
            "nombre,tipo,lat,lng\n\"Plaza, de Mayo\",lugar,-34.6083,-58.3712\nHospital,,-34.6,-58.4\n,lugar,1,1\nX,calle,1,1\nY,lugar,abc,1\n",
        );
        assert_eq!(r.filas.len(), 2);
        assert_eq!(r.filas[0].nombre, "Plaza, de Mayo");
        assert_eq!(r.filas[1].tipo, "lugar");
        assert_eq!(
            r.rechazos,
            vec![
                "línea 4: falta nombre",
                "línea 5: tipo 'calle' no vale en CSV (lugar o interseccion)",
                "línea 6: lat no es un número"
            ]
        );
        assert_eq!(leer_csv("a,b\n1,2\n").rechazos.len(), 1);
    }
}
