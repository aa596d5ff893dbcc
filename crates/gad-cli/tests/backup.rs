//! `gad backup` / `gad restore`: a round trip brings the data back; a corrupted dump is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use gad_testkit::TestApp;
use serde_json::{Value, json};

async fn gad(args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_gad"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if gad_service::config::KNOWN_ENV_VARS.contains(&k.as_str()) {
            cmd.env_remove(k);
        }
    }
    cmd.output().await.unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn empty_database() -> String {
    use sqlx::Connection;
    let server = gad_testkit::db::server_url();
    let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    let name = format!("gad_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    format!("{server}/{name}")
}

fn the_dump(dir: &Path) -> PathBuf {
    let dumps: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    dumps[0].clone()
}

async fn snapshot(url: &str) -> Value {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut counts = serde_json::Map::new();
    for t in [
        "usuarios",
        "efectivos",
        "tareas",
        "historial_estados",
        "audit_logs",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        counts.insert(t.into(), json!(n));
    }
    let (email, hash): (String, String) = sqlx::query_as(
        "SELECT email, hashed_password FROM usuarios WHERE email = 'restore-probe@gad.test'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (codigo, estado, pos): (String, String, String) = sqlx::query_as(
        "SELECT codigo, estado::text, ST_AsText(geom::geometry) FROM tareas WHERE codigo = 'BKP-PROBE-1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let migrations: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    json!({"counts": counts, "user": [email, hash], "task": [codigo, estado, pos], "migrations": migrations})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_into_fresh_databases_brings_the_data_back() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let ef = app.create_efectivo(Some((-34.6, -58.38))).await;
    sqlx::query(
        "INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
         VALUES ('restore-probe@gad.test', 'DNI-BKP-1', 'Probe', 'Ñandú', 'LEVEL_1', 'hash-probe', true)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let r = app
        .create_task(
            &sup,
            ef.id,
            json!({"codigo": "BKP-PROBE-1", "ubicacion_lat": -34.61, "ubicacion_lon": -58.37}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let before = snapshot(&app.db_url).await;

    let dir = std::env::temp_dir().join(format!("gad-bkp-{}", uuid::Uuid::new_v4().simple()));
    let out = gad(&[
        "backup",
        "--out",
        dir.to_str().unwrap(),
        "--database-url",
        &app.db_url,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let dump = the_dump(&dir);
    let name = dump.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("gad-")
            && name.ends_with("Z.dump")
            && name.len() == "gad-20261128T150000Z.dump".len(),
        "{name}"
    );
    // Custom format archives start with PGDMP.
    assert_eq!(&std::fs::read(&dump).unwrap()[..5], b"PGDMP");
    let sha = std::fs::read_to_string(dir.join(format!("{name}.sha256"))).unwrap();
    assert!(
        sha.ends_with(&format!("  {name}\n")) && sha.len() == 64 + 2 + name.len() + 1,
        "{sha}"
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dump.with_extension("meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["row_counts"]["usuarios"], before["counts"]["usuarios"]);
    assert_eq!(meta["row_counts"]["tareas"], before["counts"]["tareas"]);
    assert_eq!(meta["migrations"]["applied"], before["migrations"]);
    assert_eq!(meta["sha256"].as_str().unwrap(), &sha[..64]);
    assert!(meta["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(meta["gad_version"].is_string());
    assert!(!meta.to_string().contains("hash-probe"));

    // Every file of a backup is readable by its owner only.
    #[cfg(unix)]
    for entry in std::fs::read_dir(&dir).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let p = entry.unwrap().path();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", p.display());
    }

    // Verify-only changes nothing and succeeds.
    let out = gad(&["restore", "--file", dump.to_str().unwrap(), "--verify-only"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("checksum ok"), "{}", text(&out));

    // Full restore into an empty database (no schema, no PostGIS yet).
    let target = empty_database().await;
    let out = gad(&[
        "restore",
        "--file",
        dump.to_str().unwrap(),
        "--database-url",
        &target,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(snapshot(&target).await, before);

    // Restore over a migrated database holding other data: refused without --force (nothing
    // changes), then --force replaces it.
    let other = TestApp::spawn().await;
    other.create_user(3).await;
    other.create_user(1).await;
    other.create_user(1).await;
    let users_before: i64 = sqlx::query_scalar("SELECT count(*) FROM usuarios")
        .fetch_one(&other.pool)
        .await
        .unwrap();
    let out = gad(&[
        "restore",
        "--file",
        dump.to_str().unwrap(),
        "--database-url",
        &other.db_url,
    ])
    .await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    let users_after: i64 = sqlx::query_scalar("SELECT count(*) FROM usuarios")
        .fetch_one(&other.pool)
        .await
        .unwrap();
    assert_eq!(
        users_before, users_after,
        "a refused restore changes nothing"
    );
    let out = gad(&[
        "restore",
        "--file",
        dump.to_str().unwrap(),
        "--database-url",
        &other.db_url,
        "--force",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(snapshot(&other.db_url).await, before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_or_unchecksummed_dump_is_refused_and_nothing_is_restored() {
    let app = TestApp::spawn().await;
    let dir = std::env::temp_dir().join(format!("gad-bkp-{}", uuid::Uuid::new_v4().simple()));
    let out = gad(&[
        "backup",
        "--out",
        dir.to_str().unwrap(),
        "--database-url",
        &app.db_url,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let dump = the_dump(&dir);
    let mut bytes = std::fs::read(&dump).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&dump, &bytes).unwrap();

    let target = empty_database().await;
    for extra in [&["--verify-only"][..], &["--database-url", &target][..]] {
        let mut args = vec!["restore", "--file", dump.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = gad(&args).await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("checksum mismatch"), "{err}");
        assert_eq!(err.lines().count(), 1, "one-line reason: {err}");
    }
    let pool = sqlx::PgPool::connect(&target).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(tables, 0, "nothing restored");

    // Without its .sha256 a dump is not trusted either.
    std::fs::remove_file(format!("{}.sha256", dump.display())).unwrap();
    let out = gad(&["restore", "--file", dump.to_str().unwrap(), "--verify-only"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum file"));

    // A missing database refuses the backup with a one-line reason and leaves no partial file.
    let empty = std::env::temp_dir().join(format!("gad-bkp-{}", uuid::Uuid::new_v4().simple()));
    let out = gad(&[
        "backup",
        "--out",
        empty.to_str().unwrap(),
        "--database-url",
        "postgres://postgres@127.0.0.1:5432/gad_does_not_exist",
    ])
    .await;
    assert!(!out.status.success());
    assert!(!empty.exists() || std::fs::read_dir(&empty).unwrap().next().is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
