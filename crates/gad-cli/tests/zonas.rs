//! `gad zonas import` / `export`: a 500-zone FeatureCollection goes in in one transaction and
//! comes back out equal under ST_Equals, through a second database too; a bad feature refuses
//! the whole file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::{Value, json};

fn gad(db_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gad"));
    for (k, _) in std::env::vars() {
        if gad_service::config::KNOWN_ENV_VARS.contains(&k.as_str()) {
            c.env_remove(k);
        }
    }
    c.env("DATABASE_URL", db_url);
    c
}

fn ring(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
}

fn feature(nombre: &str, tipo: &str, padre: Option<&str>, geometry: Value) -> Value {
    json!({"type": "Feature", "properties": {"nombre": nombre, "tipo": tipo, "padre": padre},
           "geometry": geometry})
}

/// 50 comisarías (10 × 5, irregular decimals, one with a hole, one a MultiPolygon) with 9
/// cuadrantes each: 500 zones, children listed before their parents to prove the ordering.
fn collection() -> Value {
    let (w, h) = (0.012_345_678_901_234_5, 0.010_987_654_321_098_7);
    let mut children = Vec::new();
    let mut parents = Vec::new();
    for i in 0..10 {
        for j in 0..5 {
            let x0 = -58.5 + f64::from(i) * w;
            let y0 = -34.7 + f64::from(j) * h;
            let name = format!("Comisaría {i}-{j}");
            let shell = ring(x0, y0, x0 + w, y0 + h);
            let geometry = match (i, j) {
                (0, 0) => json!({"type": "Polygon", "coordinates": [shell,
                    ring(x0 + w * 0.97, y0 + h * 0.97, x0 + w * 0.99, y0 + h * 0.99)]}),
                (1, 0) => json!({"type": "MultiPolygon", "coordinates": [[shell],
                    [ring(x0 + 1.0, y0 + 1.0, x0 + 1.001, y0 + 1.001)]]}),
                _ => json!({"type": "Polygon", "coordinates": [shell]}),
            };
            parents.push(feature(&name, "comisaria", None, geometry));
            for k in 0..9 {
                let (a, b) = (f64::from(k % 3), f64::from(k / 3));
                let cx = x0 + w * (0.01 + a * 0.3);
                let cy = y0 + h * (0.01 + b * 0.3);
                children.push(feature(
                    &format!("Cuadrante {i}-{j}-{k}"),
                    "cuadrante",
                    Some(&name),
                    json!({"type": "Polygon", "coordinates": [ring(cx, cy, cx + w * 0.29, cy + h * 0.29)]}),
                ));
            }
        }
    }
    children.extend(parents);
    json!({"type": "FeatureCollection", "features": children})
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn zonas_round_trip_of_500_zones_is_lossless() {
    let db1 = gad_testkit::db::fresh_database().await;
    let db2 = gad_testkit::db::fresh_database().await;
    let dir = std::env::temp_dir().join(format!("gad-zonas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = collection();
    let file = dir.join("zonas.geojson");
    std::fs::write(&file, input.to_string()).unwrap();

    let stdout = run_ok(gad(&db1).args(["zonas", "import", file.to_str().unwrap()]));
    assert!(stdout.contains("500 zonas importadas"), "{stdout}");
    let exported = dir.join("export.geojson");
    run_ok(gad(&db1).args(["zonas", "export", "--out", exported.to_str().unwrap()]));
    run_ok(gad(&db2).args(["zonas", "import", exported.to_str().unwrap()]));
    let again: Value = serde_json::from_str(&run_ok(gad(&db2).args(["zonas", "export"]))).unwrap();
    let out1: Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(again["features"].as_array().unwrap().len(), 500);
    // Parents first in the export.
    assert_eq!(again["features"][0]["properties"]["tipo"], "comisaria");
    assert_eq!(again["features"][499]["properties"]["tipo"], "cuadrante");

    // Every input geometry equals what each database stored and exported.
    let pool = sqlx::PgPool::connect(&db1).await.unwrap();
    let by_name = |fc: &Value| -> std::collections::HashMap<String, Value> {
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["properties"]["nombre"].as_str().unwrap().to_string(),
                    f.clone(),
                )
            })
            .collect()
    };
    let (e1, e2) = (by_name(&out1), by_name(&again));
    for f in input["features"].as_array().unwrap() {
        let name = f["properties"]["nombre"].as_str().unwrap();
        for (label, other) in [("db1", &e1[name]), ("db2", &e2[name])] {
            assert_eq!(other["properties"]["tipo"], f["properties"]["tipo"]);
            assert_eq!(other["properties"]["padre"], f["properties"]["padre"]);
            let equal: bool = sqlx::query_scalar(
                "SELECT ST_Equals(ST_GeomFromGeoJSON($1::text), ST_GeomFromGeoJSON($2::text))
                    AND ST_Equals(ST_Multi(ST_GeomFromGeoJSON($1::text)),
                                  (SELECT geom FROM zonas WHERE nombre = $3))",
            )
            .bind(f["geometry"].to_string())
            .bind(other["geometry"].to_string())
            .bind(name)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert!(equal, "{name} differs in {label}");
        }
    }

    // The demo seed: loaded once, left alone on the next start.
    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/demo/zonas.geojson"
    );
    let stdout = run_ok(gad(&db2).args(["zonas", "import", demo, "--si-vacio"]));
    assert!(stdout.contains("nada importado"), "{stdout}");
    let db3 = gad_testkit::db::fresh_database().await;
    let stdout = run_ok(gad(&db3).args(["zonas", "import", demo, "--si-vacio"]));
    assert!(stdout.contains("10 zonas importadas"), "{stdout}");

    // One bad feature refuses the whole file.
    let bad = json!({"type": "FeatureCollection", "features": [
        feature("Nueva", "comisaria", None, json!({"type": "Polygon", "coordinates": [ring(0.0, 0.0, 1.0, 1.0)]})),
        feature("Moño", "comisaria", None, json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})),
    ]});
    let badfile = dir.join("bad.geojson");
    std::fs::write(&badfile, bad.to_string()).unwrap();
    let out = gad(&db1)
        .args(["zonas", "import", badfile.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("feature 1: geometria: Self-intersection"),
        "{stderr}"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM zonas")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 500);
    pool.close().await;
    std::fs::remove_dir_all(&dir).ok();
}
