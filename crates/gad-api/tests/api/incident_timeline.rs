//! An incident's notes, evidence files and timeline: who may write and read them, append-only
//! storage, files checked by their bytes and kept with their hash in the audit trail, the live
//! events, and one ordered timeline.

use std::time::Duration;

use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SITE: (f64, f64) = (-34.6037, -58.3816);
const T: Duration = Duration::from_secs(5);

/// The smallest files of each kind the server takes (their signatures, then some bytes).
fn jpeg() -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    v.extend(std::iter::repeat_n(0x42u8, 300));
    v.extend([0xFF, 0xD9]);
    v
}
fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend(std::iter::repeat_n(0x07u8, 200));
    v
}
fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// An emergency raised by a new level-1 reporter at SITE, dispatched to `officer`.
async fn emergency(app: &TestApp, officer: &TestUser) -> i64 {
    let reporter = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "Robo en curso"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["assigned_efectivo_id"], json!(officer.efectivo_id));
    r.body["task_id"].as_i64().unwrap()
}

async fn note(app: &TestApp, task: i64, who: &TestUser, texto: &str) -> gad_testkit::Resp {
    app.post(
        &format!("/api/v1/tasks/{task}/notas"),
        Some(&who.token),
        json!({ "texto": texto }),
    )
    .await
}

/// A multipart upload of `bytes` as field `archivo`, declared as `ctype`.
async fn upload(
    app: &TestApp,
    task: i64,
    who: &TestUser,
    name: &str,
    ctype: &str,
    bytes: &[u8],
) -> gad_testkit::Resp {
    let boundary = "gadboundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"archivo\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = app
        .client
        .post(app.url(&format!("/api/v1/tasks/{task}/adjuntos")))
        .bearer_auth(&who.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::read(r).await
}

#[tokio::test]
async fn notes_by_a_supervisor_and_the_dispatched_officer_but_not_by_an_unrelated_officer() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let stranger = app.create_efectivo(None).await;
    let task = emergency(&app, &officer).await;

    let r = note(&app, task, &sup, "  Llamó de nuevo el denunciante  ").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["texto"], "Llamó de nuevo el denunciante");
    assert_eq!(r.body["task_id"], task);
    assert_eq!(r.body["origen"], "api");
    assert_eq!(r.body["autor"]["usuario_id"], sup.id);

    let r = note(&app, task, &officer, "En camino").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Someone neither dispatched nor assigned: the task does not exist for them.
    let r = note(&app, task, &stranger, "hola").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app
        .get(
            &format!("/api/v1/tasks/{task}/notas"),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get(
            &format!("/api/v1/tasks/{task}/timeline"),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    for bad in [
        json!({"texto": "   "}),
        json!({"texto": "x".repeat(2001)}),
        json!({}),
    ] {
        let r = app
            .post(
                &format!("/api/v1/tasks/{task}/notas"),
                Some(&sup.token),
                bad,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.body["errors"][0]["loc"], json!(["body", "texto"]));
    }

    let r = app
        .get(&format!("/api/v1/tasks/{task}/notas"), Some(&officer.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let texts: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["texto"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Llamó de nuevo el denunciante", "En camino"]);

    // Audited in the chain.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'task_note_added' AND new_values->>'task_id' = $1",
    )
    .bind(task.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn notes_and_attachments_are_append_only_in_the_database() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    let r = note(&app, task, &sup, "original").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = upload(&app, task, &sup, "a.png", "image/png", &png()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // The server's role lacks the privilege; the owner (a superuser here) meets the trigger.
    use sqlx::Connection;
    let mut owner = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    for sql in [
        "UPDATE tarea_notas SET texto = 'cambiado'",
        "DELETE FROM tarea_notas",
        "TRUNCATE tarea_notas",
        "UPDATE tarea_adjuntos SET sha256 = repeat('0', 64)",
        "DELETE FROM tarea_adjuntos",
    ] {
        let e = sqlx::query(sql).execute(&app.pool).await;
        let msg = e.expect_err(sql).to_string();
        assert!(
            msg.contains("permission denied") || msg.contains("append-only"),
            "{sql}: {msg}"
        );
        let e = sqlx::query(sql).execute(&mut owner).await;
        let msg = e.expect_err(sql).to_string();
        assert!(msg.contains("append-only"), "{sql}: {msg}");
    }
    let texto: String = sqlx::query_scalar("SELECT texto FROM tarea_notas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(texto, "original");
}

#[tokio::test]
async fn a_note_and_an_attachment_reach_a_supervisors_socket() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;

    let r = note(&app, task, &officer, "Llegué, hay dos personas heridas").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let f = ws
        .wait_for("task_note_added", T)
        .await
        .expect("task_note_added");
    assert_eq!(f["data"]["task_id"], task);
    assert_eq!(f["data"]["nota"], r.body);
    assert_eq!(f["topic"], format!("task:{task}"));

    let r = upload(&app, task, &officer, "escena.jpg", "image/jpeg", &jpeg()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let f = ws
        .wait_for("task_attachment_added", T)
        .await
        .expect("task_attachment_added");
    assert_eq!(f["data"]["adjunto"]["sha256"], sha256(&jpeg()));
}

#[tokio::test]
async fn jpeg_png_and_pdf_are_stored_with_their_hash_and_served_back_byte_for_byte() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    for (name, ctype, bytes, disposition) in [
        ("foto.jpg", "image/jpeg", jpeg(), "inline"),
        ("plano.png", "image/png", png(), "inline"),
        ("acta.pdf", "application/pdf", pdf(), "attachment"),
    ] {
        let r = upload(&app, task, &officer, name, ctype, &bytes).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text);
        assert_eq!(r.body["tipo"], ctype);
        assert_eq!(r.body["bytes"], bytes.len());
        assert_eq!(r.body["sha256"], sha256(&bytes));
        assert_eq!(r.body["nombre"], name);
        let id = r.body["id"].as_i64().unwrap();

        // The hash is in the audit chain.
        let audited: String = sqlx::query_scalar(
            "SELECT new_values->>'sha256' FROM audit_logs
             WHERE event_type = 'task_attachment_added' AND resource_id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(audited, sha256(&bytes));

        let got = app
            .client
            .get(app.url(&format!("/api/v1/tasks/{task}/adjuntos/{id}")))
            .bearer_auth(&sup.token)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        let h = got.headers().clone();
        assert_eq!(h["content-type"], ctype);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with(disposition),
            "{:?}",
            h["content-disposition"]
        );
        assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let r = app
        .get(
            &format!("/api/v1/tasks/{task}/adjuntos"),
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().unwrap().len(), 3);
    let stranger = app.create_efectivo(None).await;
    let r = app
        .get(
            &format!("/api/v1/tasks/{task}/adjuntos"),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = upload(&app, task, &stranger, "x.png", "image/png", &png()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn bytes_that_are_not_the_declared_type_or_not_an_accepted_kind_are_422_at_archivo() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    for (name, ctype, bytes) in [
        ("foto.png", "image/png", jpeg()),
        ("doc.pdf", "application/pdf", png()),
        (
            "pagina.html",
            "text/html",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("anim.gif", "image/gif", b"GIF89a\x01\x00\x01\x00".to_vec()),
    ] {
        let r = upload(&app, task, &sup, name, ctype, &bytes).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            r.text
        );
        assert_eq!(
            r.body["errors"][0]["loc"],
            json!(["body", "archivo"]),
            "{}",
            r.text
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tarea_adjuntos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_body_that_is_not_well_formed_multipart_is_422_at_archivo() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    for (ctype, body) in [
        ("multipart/form-data", "sin límite".to_string()),
        (
            "multipart/form-data; boundary=xyz",
            "--xyz\r\nsin cabeceras".to_string(),
        ),
    ] {
        let r = app
            .client
            .post(app.url(&format!("/api/v1/tasks/{task}/adjuntos")))
            .bearer_auth(&sup.token)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        let r = TestApp::read(r).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{ctype}: {}",
            r.text
        );
        assert_eq!(
            r.body["errors"][0]["loc"],
            json!(["body", "archivo"]),
            "{}",
            r.text
        );
    }
}

#[tokio::test]
async fn a_part_other_than_archivo_is_422_at_its_name() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    let b = "gadboundaryX";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"nota\"\r\n\r\nhola\r\n--{b}\r\nContent-Disposition: form-data; name=\"archivo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nx\r\n--{b}--\r\n"
    );
    let r = app
        .client
        .post(app.url(&format!("/api/v1/tasks/{task}/adjuntos")))
        .bearer_auth(&sup.token)
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "nota"]),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_file_over_adjunto_max_mb_is_413_with_the_contract_body() {
    let app = TestApp::spawn_with(Options::default().env("ADJUNTO_MAX_MB", "1")).await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    let mut big = jpeg();
    big.resize(1024 * 1024 + 1, 0x42);
    let r = upload(&app, task, &sup, "grande.jpg", "image/jpeg", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(r.body["detail"].is_string(), "{}", r.text);
    // Exactly at the bound is fine.
    big.truncate(1024 * 1024);
    let r = upload(&app, task, &sup, "justo.jpg", "image/jpeg", &big).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn the_timeline_shows_intake_dispatch_acceptance_note_and_attachment_in_order() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/ack"),
            Some(&officer.token),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = note(&app, task, &sup, "Se pide ambulancia").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = upload(&app, task, &officer, "escena.jpg", "image/jpeg", &jpeg()).await;
    assert_eq!(r.status, StatusCode::CREATED);

    let r = app
        .get(
            &format!("/api/v1/tasks/{task}/timeline"),
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["task_id"], task);
    let entradas = r.body["entradas"].as_array().unwrap();
    let tipos: Vec<&str> = entradas
        .iter()
        .map(|e| e["tipo"].as_str().unwrap())
        .collect();
    assert_eq!(
        tipos,
        [
            "alta",
            "despacho_enviado",
            "despacho_aceptado",
            "nota",
            "adjunto"
        ],
        "{:#}",
        r.body
    );
    let ats: Vec<&str> = entradas.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort();
    assert_eq!(ats, sorted);
    let by = |t: &str| entradas.iter().find(|e| e["tipo"] == t).unwrap().clone();
    assert_eq!(
        by("despacho_enviado")["datos"]["efectivo_id"],
        json!(officer.efectivo_id)
    );
    assert_eq!(by("despacho_aceptado")["actor"]["usuario_id"], officer.id);
    assert_eq!(by("nota")["datos"]["texto"], "Se pide ambulancia");
    assert_eq!(by("nota")["actor"]["usuario_id"], sup.id);
    assert_eq!(by("adjunto")["datos"]["sha256"], sha256(&jpeg()));
    assert!(by("alta")["actor"]["usuario_id"].is_i64(), "{:#}", r.body);
}

#[tokio::test]
async fn verifying_stored_attachments_detects_a_tampered_or_missing_file() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(SITE)).await;
    let task = emergency(&app, &officer).await;
    let a = upload(&app, task, &sup, "a.jpg", "image/jpeg", &jpeg()).await;
    let b = upload(&app, task, &sup, "b.pdf", "application/pdf", &pdf()).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED);
    let ctx = &app.state.ctx;
    let ok = gad_service::evidencia::verify_stored(&ctx.db, &ctx.adjuntos)
        .await
        .unwrap();
    assert_eq!(ok.checked, 2);
    assert!(ok.problems.is_empty(), "{:?}", ok.problems);

    // Someone with access to the directory rewrites one file and removes the other.
    let clave = |id: &Value| {
        let id = id.as_i64().unwrap();
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT clave FROM tarea_adjuntos WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let dir = &app.state.config.adjuntos.dir;
    let pa = dir.join(clave(&a.body["id"]).await);
    let pb = dir.join(clave(&b.body["id"]).await);
    let mut tampered = jpeg();
    tampered[20] ^= 0x01;
    std::fs::write(&pa, &tampered).unwrap();
    std::fs::remove_file(&pb).unwrap();

    let bad = gad_service::evidencia::verify_stored(&ctx.db, &ctx.adjuntos)
        .await
        .unwrap();
    assert_eq!(bad.problems.len(), 2, "{:?}", bad.problems);
    assert!(
        bad.problems[0].contains(&sha256(&tampered)),
        "{:?}",
        bad.problems
    );
    assert!(bad.problems[1].contains("missing"), "{:?}", bad.problems);
}
