//! The shape of a zone's outline before PostGIS sees it: a GeoJSON Polygon or MultiPolygon in
//! WGS84 whose rings are closed lists of at least four [lng, lat] positions. PostGIS parses
//! some broken input silently (an open ring becomes a polygon that later functions reject), so
//! the structure is checked here and the geometry's validity (self-intersections, holes outside
//! shells) is left to `ST_IsValidReason`.

use serde_json::Value;

/// Most positions a zone outline may have (all rings of all polygons).
pub const MAX_POSITIONS: usize = 100_000;

/// What is wrong with `g` as a zone outline, in words for the 422; `None` when it is well formed.
pub fn geometry_problem(g: &Value) -> Option<String> {
    let Some(obj) = g.as_object() else {
        return Some("GeoJSON inválido: se esperaba un objeto".into());
    };
    let coords = obj.get("coordinates");
    let polygons: Vec<&Value> = match (obj.get("type").and_then(Value::as_str), coords) {
        (Some("Polygon"), Some(c)) => vec![c],
        (Some("MultiPolygon"), Some(Value::Array(ps))) if !ps.is_empty() => ps.iter().collect(),
        (Some("MultiPolygon"), _) => {
            return Some("GeoJSON inválido: MultiPolygon sin polígonos".into());
        }
        (Some("Polygon"), None) => return Some("GeoJSON inválido: falta coordinates".into()),
        _ => return Some("GeoJSON inválido: type debe ser Polygon o MultiPolygon".into()),
    };
    let mut total = 0usize;
    for p in polygons {
        let Some(rings) = p.as_array().filter(|r| !r.is_empty()) else {
            return Some("GeoJSON inválido: un polígono debe ser una lista de anillos".into());
        };
        for ring in rings {
            let Some(pts) = ring.as_array() else {
                return Some("GeoJSON inválido: un anillo debe ser una lista de posiciones".into());
            };
            if pts.len() < 4 {
                return Some("GeoJSON inválido: un anillo necesita al menos 4 posiciones".into());
            }
            total += pts.len();
            if total > MAX_POSITIONS {
                return Some(format!(
                    "GeoJSON inválido: más de {MAX_POSITIONS} posiciones"
                ));
            }
            let mut parsed = Vec::with_capacity(pts.len());
            for pt in pts {
                match position(pt) {
                    Some(xy) => parsed.push(xy),
                    None => {
                        return Some(
                            "GeoJSON inválido: una posición es [lng, lat] en grados WGS84".into(),
                        );
                    }
                }
            }
            if parsed.first() != parsed.last() {
                return Some(
                    "GeoJSON inválido: un anillo debe cerrarse (primera posición = última)".into(),
                );
            }
        }
    }
    None
}

fn position(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    if !(2..=3).contains(&a.len()) {
        return None;
    }
    let lng = a[0].as_f64()?;
    let lat = a[1].as_f64()?;
    if a.len() == 3 {
        a[2].as_f64()?;
    }
    ((-180.0..=180.0).contains(&lng) && (-90.0..=90.0).contains(&lat)).then_some((lng, lat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn well_formed_outlines_pass_and_broken_ones_say_why() {
        let sq = json!([[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]);
        assert_eq!(
            geometry_problem(&json!({"type": "Polygon", "coordinates": sq})),
            None
        );
        assert_eq!(
            geometry_problem(&json!({"type": "MultiPolygon", "coordinates": [sq]})),
            None
        );
        for bad in [
            json!("x"),
            json!({"type": "Point", "coordinates": [0, 0]}),
            json!({"type": "Polygon"}),
            json!({"type": "Polygon", "coordinates": []}),
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}),
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}),
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 200], [0, 0]]]}),
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, "a"], [1, 1], [0, 1], [0, 0]]]}),
            json!({"type": "MultiPolygon", "coordinates": []}),
        ] {
            assert!(geometry_problem(&bad).is_some(), "{bad}");
        }
    }
}
