//! `gad reportes verificar`: a fresh CSV report verifies against the audit trail; the same file
//! with one digit changed, or with a footer hash no report was generated with, does not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use gad_testkit::TestApp;
use serde_json::json;

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

fn verify(db_url: &str, file: &std::path::Path) -> (bool, String) {
    let out = gad(db_url)
        .args(["reportes", "verificar"])
        .arg(file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn a_fresh_report_verifies_and_an_edited_one_does_not() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    app.create_efectivo(Some((-34.6027, -58.3816))).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&sup.token),
            json!({"lat": -34.6037, "lng": -58.3816, "descripcion": "prueba", "prioridad": 3}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    // Something in the chain before the report, so its head is a real row.
    let _ = gad_store::audit::seal(&app.pool, 1000).await.unwrap();
    let csv = reqwest::Client::new()
        .get(app.url(
            "/api/v1/reportes/respuesta?desde=2020-01-01T00:00:00Z&hasta=2020-12-31T00:00:00Z&formato=csv",
        ))
        .bearer_auth(&sup.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    // Today's emergency, whatever the date: a range that holds now.
    let now = chrono::Utc::now();
    let path = format!(
        "/api/v1/reportes/respuesta?desde={}&hasta={}&formato=csv",
        gad_core::time::rfc3339(now - chrono::Duration::days(1)),
        gad_core::time::rfc3339(now + chrono::Duration::days(1)),
    );
    let csv_today = reqwest::Client::new()
        .get(app.url(&path))
        .bearer_auth(&sup.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let dir = std::env::temp_dir().join(format!("gad-reportes-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();

    for (name, bytes) in [("vacio.csv", &csv), ("hoy.csv", &csv_today)] {
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        let (ok, out) = verify(&app.db_url, &file);
        assert!(ok, "{name}: {out}");
        assert!(out.contains("verificado"), "{out}");
    }

    // One digit of the data changed (the task id of today's row).
    let text = String::from_utf8(csv_today.clone()).unwrap();
    let line = text.lines().nth(1).unwrap();
    assert!(!line.starts_with('#'), "a data row: {text}");
    let digit = line.find(|c: char| c.is_ascii_digit()).unwrap();
    let mut edited_line = line.to_string();
    let d = edited_line.as_bytes()[digit];
    let new = if d == b'9' { "1" } else { "9" };
    edited_line.replace_range(digit..digit + 1, new);
    let edited = text.replacen(line, &edited_line, 1);
    let file = dir.join("editado.csv");
    std::fs::write(&file, &edited).unwrap();
    let (ok, out) = verify(&app.db_url, &file);
    assert!(!ok, "{out}");
    assert!(
        out.contains("no verificado") && out.contains("modificados"),
        "{out}"
    );

    // Data and footer hash changed together: no report was generated with that hash.
    let at = edited.find("\n#").unwrap() + 1;
    let body = edited.strip_prefix('\u{feff}').unwrap_or(&edited);
    let at_body = body.find("\n#").unwrap() + 1;
    let sha = gad_service::reportes::data_digest(&body[..at_body]);
    let mut forged = edited[..at].to_string();
    for l in edited[at..].lines() {
        if l.starts_with("# sha256: ") {
            forged.push_str(&format!("# sha256: {sha}\n"));
        } else {
            forged.push_str(&format!("{l}\n"));
        }
    }
    let file = dir.join("falsificado.csv");
    std::fs::write(&file, &forged).unwrap();
    let (ok, out) = verify(&app.db_url, &file);
    assert!(!ok, "{out}");
    assert!(out.contains("report_generated"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
