//! Messages from the desk to officers (`/api/v1/mensajes`): who a destino reaches, who may send
//! what, the delivery records and the listing. Delivery through Telegram is tested with the bot
//! (crates/gad-bot/tests/mensajes.rs).

use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn set_unidad(app: &TestApp, u: &TestUser, unidad: &str) {
    sqlx::query("UPDATE efectivos SET unidad = $1 WHERE id = $2")
        .bind(unidad)
        .bind(u.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn link(app: &TestApp, u: &TestUser, chat: i64) {
    sqlx::query("UPDATE usuarios SET telegram_id = $1 WHERE id = $2")
        .bind(chat)
        .bind(u.id)
        .execute(&app.pool)
        .await
        .unwrap();
}

fn recipients(m: &Value) -> Vec<(i64, String, Option<String>)> {
    m["destinatarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["efectivo_id"].as_i64().unwrap(),
                d["estado"].as_str().unwrap().to_string(),
                d["motivo"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_message_to_a_unit_queues_exactly_its_officers_and_unlinked_ones_fail_at_once() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let a = app.create_efectivo(None).await;
    let b = app.create_efectivo(None).await;
    let other = app.create_efectivo(None).await;
    set_unidad(&app, &a, "Móvil 7").await;
    set_unidad(&app, &b, "Móvil 7").await;
    set_unidad(&app, &other, "Móvil 8").await;
    link(&app, &a, 9_100_001).await;
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&sup.token),
            json!({"destino": {"unidad": "Móvil 7"}, "texto": "  Todos reporten estado  ",
                   "prioridad": "urgente", "requiere_confirmacion": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/mensajes/{id}").as_str())
    );
    assert_eq!(r.body["texto"], "Todos reporten estado");
    assert_eq!(r.body["prioridad"], "urgente");
    assert_eq!(r.body["autor_usuario_id"], sup.id);
    let mut got = recipients(&r.body);
    got.sort();
    let mut want = vec![
        (a.efectivo_id.unwrap(), "pendiente".to_string(), None),
        (
            b.efectivo_id.unwrap(),
            "fallido".to_string(),
            Some("sin vincular".to_string()),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        r.body["totales"],
        json!({"total": 2, "pendiente": 1, "enviado": 0, "fallido": 1, "confirmado": 0})
    );
    // Read back by id; listed for the sender, and for the officer who received it only.
    let g = app
        .get(&format!("/api/v1/mensajes/{id}"), Some(&sup.token))
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["totales"]["total"], 2);
    let l = app.get("/api/v1/mensajes", Some(&a.token)).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    assert_eq!(l.body[0]["id"], id);
    assert_eq!(l.body[0]["totales"]["pendiente"], 1);
    let l = app.get("/api/v1/mensajes", Some(&other.token)).await;
    assert_eq!(l.body, json!([]));
    let g = app
        .get(&format!("/api/v1/mensajes/{id}"), Some(&other.token))
        .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND, "{}", g.text);
    // Audited.
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'message_sent' AND resource_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn levels_destinos_and_validation() {
    let app = TestApp::spawn().await;
    let off = app.create_efectivo(None).await;
    let sup = app.create_user(2).await;
    let admin = app.create_user(3).await;
    let send = |tok: String, body: Value| {
        let app = &app;
        async move { app.post("/api/v1/mensajes", Some(&tok), body).await }
    };
    // Level 1: only to the desk.
    let r = send(
        off.token.clone(),
        json!({"destino": {"efectivos": [off.efectivo_id]}, "texto": "hola"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = send(
        off.token.clone(),
        json!({"destino": {"centro": true}, "texto": "Sin novedad"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let centro = r.body["id"].clone();
    assert_eq!(r.body["totales"]["total"], 0);
    // Every supervisor lists messages to the desk.
    let l = app.get("/api/v1/mensajes", Some(&sup.token)).await;
    assert!(l.body.as_array().unwrap().iter().any(|m| m["id"] == centro));
    // todos: level 3 only.
    let r = send(
        sup.token.clone(),
        json!({"destino": {"todos": true}, "texto": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = send(
        admin.token.clone(),
        json!({"destino": {"todos": true}, "texto": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.body["totales"]["total"].as_i64().unwrap() >= 1);
    // Validation, with the field's path.
    for (body, loc) in [
        (
            json!({"destino": {"unidad": "A", "todos": true}, "texto": "x"}),
            json!(["body", "destino"]),
        ),
        (
            json!({"destino": {"efectivos": [999999]}, "texto": "x"}),
            json!(["body", "destino", "efectivos", 0]),
        ),
        (
            json!({"destino": {"zona_id": 999999}, "texto": "x"}),
            json!(["body", "destino", "zona_id"]),
        ),
        (
            json!({"destino": {"tarea_id": 999999}, "texto": "x"}),
            json!(["body", "destino", "tarea_id"]),
        ),
        (
            json!({"destino": {"en_turno": false}, "texto": "x"}),
            json!(["body", "destino", "en_turno"]),
        ),
        (
            json!({"destino": {"centro": true}, "texto": "   "}),
            json!(["body", "texto"]),
        ),
        (
            json!({"destino": {"centro": true}, "texto": "x".repeat(2001)}),
            json!(["body", "texto"]),
        ),
    ] {
        let r = send(sup.token.clone(), body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert!(
            r.body["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}: {}", r.text))
                .iter()
                .any(|d| d["loc"] == loc),
            "{body}: {}",
            r.text
        );
    }
    let r = send(
        sup.token.clone(),
        json!({"destino": {"centro": true}, "texto": "x", "prioridad": "alta"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

#[tokio::test]
async fn with_duty_mode_turnos_officers_off_duty_are_left_out_unless_called_back() {
    let app = TestApp::spawn_with(Options::default().env("DUTY_MODE", "turnos")).await;
    let sup = app.create_user(2).await;
    let on = app.create_efectivo(None).await;
    let off = app.create_efectivo(None).await;
    sqlx::query(
        "INSERT INTO turnos (efectivo_id, inicio, fin, ingreso_at)
         VALUES ($1, now() - interval '1 hour', now() + interval '2 hours', now() - interval '1 hour')",
    )
    .bind(on.efectivo_id.unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let ids = json!([on.efectivo_id, off.efectivo_id]);
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&sup.token),
            json!({"destino": {"efectivos": ids}, "texto": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let got: Vec<i64> = recipients(&r.body).iter().map(|d| d.0).collect();
    assert_eq!(got, vec![on.efectivo_id.unwrap()]);
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&sup.token),
            json!({"destino": {"efectivos": ids}, "texto": "x", "convocatoria": true}),
        )
        .await;
    assert_eq!(recipients(&r.body).len(), 2, "{}", r.text);
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&sup.token),
            json!({"destino": {"en_turno": true}, "texto": "x", "convocatoria": true}),
        )
        .await;
    let got: Vec<i64> = recipients(&r.body).iter().map(|d| d.0).collect();
    assert_eq!(got, vec![on.efectivo_id.unwrap()], "{}", r.text);
}

#[tokio::test]
async fn an_incident_and_a_zone_reach_their_officers() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let on_task = app.create_efectivo(None).await;
    let in_zone = app.create_efectivo(Some((-34.60, -58.38))).await;
    let _far = app.create_efectivo(Some((-31.0, -64.0))).await;
    let t = app
        .create_task(
            &sup,
            sup.id,
            json!({"efectivos_asignados": [on_task.efectivo_id]}),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&sup.token),
            json!({"destino": {"tarea_id": t.body["id"]}, "texto": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let got: Vec<i64> = recipients(&r.body).iter().map(|d| d.0).collect();
    assert_eq!(got, vec![on_task.efectivo_id.unwrap()]);
    let zona: i64 = sqlx::query_scalar(
        "INSERT INTO zonas (nombre, tipo, area_m2, geom) VALUES ('Centro', 'otra', 1,
            ST_Multi(ST_MakeEnvelope(-58.5, -34.7, -58.3, -34.5, 4326))) RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&sup.token),
            json!({"destino": {"zona_id": zona}, "texto": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let got: Vec<i64> = recipients(&r.body).iter().map(|d| d.0).collect();
    assert_eq!(got, vec![in_zone.efectivo_id.unwrap()]);
}
