//! `gad audit verify`, `gad audit export` and `gad gdpr data-map --markdown`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use sqlx::{Connection, Executor, PgConnection};

fn gad(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gad"));
    for (k, _) in std::env::vars() {
        if gad_service::config::KNOWN_ENV_VARS.contains(&k.as_str()) {
            c.env_remove(k);
        }
    }
    c.env("DATABASE_URL", url).env(
        "JWT_SECRET_KEY",
        "cli-test-secret-0123456789-abcdefghijklmnop",
    );
    c
}

#[tokio::test]
async fn verify_passes_then_names_the_row_edited_by_hand_and_export_writes_the_period() {
    let url = gad_testkit::db::fresh_database().await;
    let mut c = PgConnection::connect(&url).await.unwrap();
    c.execute(
        "INSERT INTO audit_logs (event_type, created_at) VALUES
           ('antes', '2025-12-31T23:00:00Z'), ('dentro', '2026-01-01T10:00:00Z'),
           ('dentro', '2026-01-02T22:00:00Z'), ('despues', '2026-01-03T00:00:01Z')",
    )
    .await
    .unwrap();
    // No server runs here (as after a crash): the rows wait with their content hash only, and
    // verify seals them before it walks the chain.
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE chain_seq IS NULL AND content_hash IS NOT NULL",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(waiting, 4);
    let out = gad(&url).args(["audit", "verify"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("audit chain ok: 4 rows"), "{stdout}");
    assert!(stdout.contains("chain_seq 1..=4, 4 sealed now"), "{stdout}");

    // Export of a period, CSV and JSON.
    let dir = std::env::temp_dir().join(format!("gad-audit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("a.csv");
    let out = gad(&url)
        .args([
            "audit",
            "export",
            "--desde",
            "2026-01-01",
            "--hasta",
            "2026-01-02",
            "--output",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("event_type") && lines[0].contains("row_hash"));
    assert!(lines[1..].iter().all(|l| l.contains("dentro")));
    let out = gad(&url)
        .args([
            "audit",
            "export",
            "--format",
            "json",
            "--desde",
            "2026-01-02T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    let out = gad(&url)
        .args(["audit", "export", "--desde", "ayer"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ayer"));

    // A row edited by hand (triggers bypassed, as only a superuser can) is named.
    let id: i64 = sqlx::query_scalar("SELECT id FROM audit_logs WHERE chain_seq = 3")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    sqlx::query("UPDATE audit_logs SET event_type = 'retocado' WHERE id = $1")
        .bind(id)
        .execute(&mut c)
        .await
        .unwrap();
    let out = gad(&url).args(["audit", "verify"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("id={id}")) && err.contains("altered"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one-line reason: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Signs the head `seq` of the chain in `url` as written at `at` and appends it to `file`.
async fn witness(
    c: &mut PgConnection,
    key: &gad_service::witness::SigningKey,
    file: &std::path::Path,
    seq: i64,
    at: chrono::DateTime<chrono::Utc>,
) {
    let hash: String = sqlx::query_scalar("SELECT row_hash FROM audit_logs WHERE chain_seq = $1")
        .bind(seq)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    let head = gad_store::audit::ChainHead { seq, hash, at };
    gad_service::witness::append(file, &key.sign(&head)).unwrap();
}

#[tokio::test]
async fn verify_with_a_witness_names_the_first_head_a_superuser_rewrote_and_accepts_purged_ones() {
    let url = gad_testkit::db::fresh_database().await;
    let mut c = PgConnection::connect(&url).await.unwrap();
    gad_testkit::audit::insert_expired_rows(&url, &["vencido", "vencido"]).await;
    c.execute("INSERT INTO audit_logs (event_type) VALUES ('a'), ('b'), ('c')")
        .await
        .unwrap();
    gad_testkit::audit::seal(&url).await;
    let out = gad(&url).args(["audit", "keygen"]).output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let encoded = printed
        .lines()
        .find_map(|l| l.strip_prefix("AUDIT_SIGNING_KEY="))
        .unwrap();
    let key = gad_service::witness::SigningKey::parse(encoded).unwrap();
    assert!(printed.contains(&key.public_key()));
    let dir = std::env::temp_dir().join(format!("gad-witness-{}", uuid::Uuid::new_v4()));
    let file = dir.join("w.jsonl");
    let now = chrono::Utc::now();
    // Heads 1 (witnessed over a year ago) and 3, 5 (now).
    witness(&mut c, &key, &file, 1, now - chrono::Duration::days(400)).await;
    witness(&mut c, &key, &file, 3, now).await;
    witness(&mut c, &key, &file, 5, now).await;
    let verify = |extra: &[&str]| {
        let mut cmd = gad(&url);
        cmd.args(["audit", "verify", "--witness"]).arg(&file);
        cmd.args(extra).output().unwrap()
    };
    let pk = key.public_key();
    let out = verify(&["--public-key", &pk]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 witnessed heads hold"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Retention purges rows 1 and 2: head 1 is old enough to have expired, so it is accepted.
    let n: i64 = sqlx::query_scalar("SELECT audit_purge_expired(100)")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let out = verify(&["--public-key", &pk]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(1 purged by retention)"));
    // Another key's signature does not count.
    let other = gad_service::witness::SigningKey::generate()
        .unwrap()
        .public_key();
    let out = verify(&["--public-key", &other]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad signature"));

    // A superuser rewrites row 4 and every hash after it: plain verify passes, the witness
    // names head 5 (line 3).
    gad_testkit::audit::rewrite_chain_from(&url, 4, "retocado").await;
    let out = gad(&url).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = verify(&["--public-key", &pk]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chain_seq 5 (line 3)") && err.contains("rewritten"),
        "{err}"
    );

    // A head deleted long before it could expire is named too.
    let recent = dir.join("recent.jsonl");
    let early = gad_service::witness::SigningKey::sign(
        &key,
        &gad_store::audit::ChainHead {
            seq: 1,
            hash: "00".repeat(32),
            at: now,
        },
    );
    let mut text = serde_json::to_string(&early).unwrap();
    text.push('\n');
    std::fs::write(&recent, text).unwrap();
    let out = gad(&url)
        .args(["audit", "verify", "--public-key", &pk, "--witness"])
        .arg(&recent)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chain_seq 1 (line 1") && err.contains("before it could expire"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn migrate_writes_audit_retention_days_into_the_owner_only_setting() {
    let url = gad_testkit::db::fresh_database().await;
    let out = gad(&url)
        .arg("migrate")
        .env("AUDIT_RETENTION_DAYS", "400")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("audit retention of new rows: 400 days (was 365)"),
        "{stdout}"
    );
    let mut c = PgConnection::connect(&url).await.unwrap();
    c.execute("INSERT INTO audit_logs (event_type) VALUES ('nuevo')")
        .await
        .unwrap();
    let days: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM retention_until - created_at)::float8 / 86400 FROM audit_logs",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!((days - 400.0).abs() < 0.01, "{days}");
    let out = gad(&url)
        .arg("migrate")
        .env("AUDIT_RETENTION_DAYS", "364")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUDIT_RETENTION_DAYS"));
}

#[tokio::test]
async fn gdpr_data_map_markdown_is_the_committed_privacy_md() {
    let url = gad_testkit::db::fresh_database().await;
    let out = gad(&url)
        .args(["gdpr", "data-map", "--markdown"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/PRIVACY.md"),
    )
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "docs/PRIVACY.md is not the output of `gad gdpr data-map --markdown`"
    );
}

#[tokio::test]
async fn verify_adjuntos_reads_every_stored_file_and_names_a_tampered_one() {
    let dir = std::env::temp_dir().join(format!("gad-adjuntos-cli-{}", uuid::Uuid::new_v4()));
    let dir_s = dir.display().to_string();
    let app = gad_testkit::TestApp::spawn_with(
        gad_testkit::Options::default().env("ADJUNTOS_DIR", &dir_s),
    )
    .await;
    let sup = app.create_user(2).await;
    let r = app.create_task(&sup, sup.id, serde_json::json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let task = r.body["id"].as_i64().unwrap();
    let me = gad_core::Actor {
        id: sup.id,
        nivel: gad_core::Nivel::Supervisor,
        efectivo_id: None,
    };
    let photo = b"\xff\xd8\xff\xe0 una foto de la escena".to_vec();
    let a = gad_service::evidencia::add_attachment(
        &app.state.ctx,
        &me,
        &gad_core::request_context::RequestContext::default(),
        task,
        gad_service::evidencia::Upload {
            nombre: "escena.jpg".into(),
            declarado: Some("image/jpeg".into()),
            bytes: photo.into(),
        },
        gad_service::evidencia::Origen::Api,
    )
    .await
    .unwrap();

    let verify = || {
        gad(&app.db_url)
            .env("ADJUNTOS_DIR", &dir_s)
            .args(["audit", "verify", "--adjuntos"])
            .output()
            .unwrap()
    };
    let out = verify();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 stored attachments match"), "{stdout}");

    let clave: String = sqlx::query_scalar("SELECT clave FROM tarea_adjuntos WHERE id = $1")
        .bind(a.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    std::fs::write(dir.join(&clave), b"\xff\xd8\xff\xe0 otra foto").unwrap();
    let out = verify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a changed file must fail");
    assert!(
        stderr.contains(&clave) && stderr.contains("audited"),
        "{stderr}"
    );

    std::fs::remove_file(dir.join(&clave)).unwrap();
    let out = verify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("file missing"), "{stderr}");
}
