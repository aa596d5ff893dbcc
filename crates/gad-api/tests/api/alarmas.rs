//! The console's alarms: every emergency raised, and every emergency nobody could take, leaves an
//! alert kept until someone at the desk marks it seen, named in the live `alert` so the dashboard
//! can sound it and record who saw it.

use std::time::Duration;

use gad_testkit::ws::WsClient;
use gad_testkit::{TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(5);
const SITE: (f64, f64) = (-34.6037, -58.3816);

async fn raise(app: &TestApp, by: &TestUser) -> Value {
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&by.token),
            json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "asalto"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn pending(app: &TestApp, sup: &TestUser) -> Vec<Value> {
    let r = app
        .get("/api/v1/alertas?pendientes=true", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_new_emergency_rings_until_someone_marks_it_seen() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    app.create_efectivo(Some((SITE.0 + 0.001, SITE.1))).await;
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    let d = raise(&app, &caller).await;
    let task = d["task_id"].as_i64().unwrap();
    let alert = loop {
        let a = ws.wait_for("alert", T).await.expect("emergency alert");
        if a["data"]["title"] == "Emergencia" {
            break a;
        }
    };
    let id = alert["data"]["alerta_id"]
        .as_i64()
        .expect("alerta_id in the alert");
    let kept = pending(&app, &sup).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["id"], id);
    assert_eq!(kept[0]["kind"], "emergencia_nueva");
    assert_eq!(kept[0]["severity"], "critical");
    assert_eq!(kept[0]["tarea_id"], task);
    assert_eq!(kept[0]["payload"]["codigo"], d["codigo"]);
    let r = app
        .post(
            &format!("/api/v1/alertas/{id}/visto"),
            Some(&sup.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["visto_por"], sup.id, "{}", r.text);
    assert!(r.body["visto_at"].is_string(), "{}", r.text);
    assert!(pending(&app, &sup).await.is_empty());
}

#[tokio::test]
async fn an_emergency_nobody_takes_leaves_its_own_alarm() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let off = app.create_efectivo(Some((SITE.0 + 0.001, SITE.1))).await;
    let d = raise(&app, &caller).await;
    let task = d["task_id"].as_i64().unwrap();
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/ack"),
            Some(&off.token),
            json!({"accept": false, "motivo": "sin combustible"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sin_asignar"], true, "{}", r.text);
    let alert = loop {
        let a = ws.wait_for("alert", T).await.expect("unassigned alert");
        if a["data"]["title"] == "Emergencia sin asignar" {
            break a;
        }
    };
    let id = alert["data"]["alerta_id"]
        .as_i64()
        .expect("alerta_id in the alert");
    let kinds: Vec<(i64, String)> = pending(&app, &sup)
        .await
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().unwrap(),
                a["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&(id, "sin_asignar".to_string())),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|(_, k)| k == "emergencia_nueva"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn an_urgent_message_to_the_desk_rings_until_someone_marks_it_seen() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(None).await;
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    // An ordinary message to the desk leaves no alarm.
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&officer.token),
            json!({"destino": {"centro": true}, "texto": "Todo tranquilo"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let normal = ws.wait_for("message", T).await.expect("message event");
    assert!(normal["data"].get("alerta_id").is_none(), "{normal}");
    assert!(pending(&app, &sup).await.is_empty());

    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&officer.token),
            json!({"destino": {"centro": true}, "texto": "Necesito apoyo ya", "prioridad": "urgente"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mensaje = r.body["id"].as_i64().unwrap();
    let live = loop {
        let m = ws
            .wait_for("message", T)
            .await
            .expect("urgent message event");
        if m["data"]["mensaje_id"] == mensaje {
            break m;
        }
    };
    assert_eq!(live["data"]["prioridad"], "urgente");
    let id = live["data"]["alerta_id"]
        .as_i64()
        .expect("alerta_id in the message event");
    let kept = pending(&app, &sup).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["id"], id);
    assert_eq!(kept[0]["kind"], "mensaje_urgente");
    assert_eq!(kept[0]["severity"], "warning");
    assert_eq!(kept[0]["efectivo_id"], officer.efectivo_id.unwrap());
    assert_eq!(kept[0]["payload"]["mensaje_id"], mensaje);
    assert_eq!(kept[0]["payload"]["texto"], "Necesito apoyo ya");
    // A supervisor's urgent message to officers is not an alarm at the desk.
    let r = app
        .post(
            "/api/v1/mensajes",
            Some(&sup.token),
            json!({"destino": {"efectivos": [officer.efectivo_id.unwrap()]}, "texto": "Volvé a base", "prioridad": "urgente"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(pending(&app, &sup).await.len(), 1);

    let r = app
        .post(
            &format!("/api/v1/alertas/{id}/visto"),
            Some(&sup.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["visto_por"], sup.id, "{}", r.text);
    assert!(pending(&app, &sup).await.is_empty());
}
