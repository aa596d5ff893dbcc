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
    let out = gad(&url).args(["audit", "verify"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("audit chain ok: 4 rows"), "{stdout}");

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
