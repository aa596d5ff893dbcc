//! `gad audit export` shows the personal values inside audit rows (stored encrypted with a key
//! per person) until erasure destroys that key; `gad audit verify` passes before and after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use gad_testkit::TestApp;
use serde_json::json;

/// The CLI on the app's database, with the app's secret (the audit keys are wrapped with a key
/// derived from it).
fn gad(app: &TestApp) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gad"));
    for (k, _) in std::env::vars() {
        if gad_service::config::KNOWN_ENV_VARS.contains(&k.as_str()) {
            c.env_remove(k);
        }
    }
    c.env("DATABASE_URL", &app.db_url)
        .env("JWT_SECRET_KEY", &app.state.config.jwt_secret);
    c
}

fn run(app: &TestApp, args: &[&str]) -> String {
    let out = gad(app).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn audit_export_shows_personal_values_until_erasure_and_verify_still_passes() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let user = app.create_user(1).await;
    let email = format!("exportable.{}@persona.gad", uuid::Uuid::new_v4().simple());
    let r = app
        .put(
            &format!("/api/v1/users/{}", user.id),
            Some(&admin.token),
            json!({"email": email, "telefono": "+5491155550123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE new_values::text LIKE '%' || $1 || '%'",
    )
    .bind(&email)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored, 0,
        "the e-mail is stored in clear in the audit trail"
    );
    let export = run(&app, &["audit", "export", "--format", "json"]);
    assert!(export.contains(&email), "{export}");
    assert!(export.contains("+5491155550123"), "{export}");
    assert!(run(&app, &["audit", "verify"]).contains("audit chain ok"));

    let r = app
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", user.id),
            Some(&admin.token),
            json!({"motivo": "Solicitud del titular"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let export = run(&app, &["audit", "export", "--format", "json"]);
    assert!(!export.contains(&email), "{export}");
    assert!(!export.contains("+5491155550123"), "{export}");
    assert!(export.contains("[borrado]"), "{export}");
    let csv = run(&app, &["audit", "export"]);
    assert!(!csv.contains(&email) && csv.contains("[borrado]"), "{csv}");
    assert!(run(&app, &["audit", "verify"]).contains("audit chain ok"));
}
