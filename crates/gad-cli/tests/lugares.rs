//! `gad lugares import`: GeoJSON and CSV into the gazetteer, counts reported, bad rows refused
//! by feature index or line number, `--reemplazar` empties it first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

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

async fn count(db_url: &str, sql: &str) -> i64 {
    let pool = sqlx::PgPool::connect(db_url).await.unwrap();
    let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn lugares_import_loads_geojson_and_csv_and_reports_refusals() {
    let url = gad_testkit::db::fresh_database().await;
    let dir = std::env::temp_dir().join(format!("gad-lugares-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The demo gazetteer, as scripts/dev.sh loads it.
    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/demo/lugares.geojson"
    );
    let out = gad(&url)
        .args(["lugares", "import", demo, "--reemplazar"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("79 importados, 0 rechazados"), "{stdout}");
    assert_eq!(
        count(&url, "SELECT count(*) FROM lugares WHERE tipo = 'calle'").await,
        62
    );

    // A CSV with two bad lines: the good rows go in, each bad one is named by its line.
    let csv = dir.join("lugares.csv");
    std::fs::write(
        &csv,
        "nombre,tipo,lat,lng\n\"Plaza, Once\",lugar,-34.6089,-58.4060\nX,lugar,abc,1\nEsquina,interseccion,-34.6,-58.4\n,lugar,1,1\n",
    )
    .unwrap();
    let out = gad(&url)
        .args(["lugares", "import", csv.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout} {stderr}");
    assert!(stdout.contains("2 importados, 2 rechazados"), "{stdout}");
    assert!(stdout.contains("81 en total"), "{stdout}");
    assert!(stderr.contains("línea 3: lat no es un número"), "{stderr}");
    assert!(stderr.contains("línea 5: falta nombre"), "{stderr}");

    // --reemplazar: only the new file's rows remain; a file with no valid row fails.
    let geo = dir.join("uno.geojson");
    std::fs::write(
        &geo,
        r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"nombre":"Cabildo"},"geometry":{"type":"Point","coordinates":[-58.3738,-34.6088]}},
            {"type":"Feature","properties":{"nombre":"Sin geometría"}}]}"#,
    )
    .unwrap();
    let out = gad(&url)
        .args(["lugares", "import", geo.to_str().unwrap(), "--reemplazar"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("1 importados, 1 rechazados, 81 borrados antes; 1 en total"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("feature 2: falta geometry"));
    assert_eq!(count(&url, "SELECT count(*) FROM lugares_nombres").await, 1);

    let bad = dir.join("malo.geojson");
    std::fs::write(
        &bad,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{}}]}"#,
    )
    .unwrap();
    let out = gad(&url)
        .args(["lugares", "import", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ninguna fila válida"));
    assert_eq!(count(&url, "SELECT count(*) FROM lugares").await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
