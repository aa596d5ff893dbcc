//! Officer-safety check-ins: the question, the answers, the silence alert kept until a
//! supervisor marks it seen, with two instances sharing the database (settings in seconds).

use std::time::{Duration, Instant};

use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SITE: (f64, f64) = (-34.6037, -58.3816);

/// Two instances of one deployment with check-in settings of about a second.
async fn pair(minutos: &str, gracia: &str) -> (TestApp, TestApp) {
    let opts = Options::with_redis()
        .env("CHECKIN_MINUTOS", minutos)
        .env("CHECKIN_GRACIA_MINUTOS", gracia);
    let a = TestApp::spawn_with(opts).await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    (a, b)
}

/// An emergency at SITE, accepted by `officer` (the nearest).
async fn accepted(app: &TestApp, officer: &TestUser) -> i64 {
    let caller = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&caller.token),
            json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "prueba"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let task = r.body["task_id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/ack"),
            Some(&officer.token),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    task
}

async fn pasos(app: &TestApp, task: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT paso FROM checkins WHERE tarea_id = $1 ORDER BY id")
        .bind(task)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Waits until the task's check-in steps are `want` (10 s at most).
async fn wait_pasos(app: &TestApp, task: i64, want: &[&str]) {
    let start = Instant::now();
    loop {
        let got = pasos(app, task).await;
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "check-in steps {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The check-in alerts of a list (the emergency's own console alarm, `emergencia_nueva`, is
/// another story).
fn checkin_alerts(v: &Value) -> Vec<Value> {
    v.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"].as_str().unwrap().starts_with("checkin_"))
        .cloned()
        .collect()
}

fn kinds(v: &Value) -> Vec<String> {
    checkin_alerts(v)
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_is_asked_once_and_alerted_once_across_two_instances_until_seen() {
    let (a, b) = pair("0.02", "0.02").await;
    let sup = a.create_user(2).await;
    let sup2 = a.create_user(2).await;
    let officer = a.create_efectivo(Some(SITE)).await;
    a.wait_redis_fanout().await;
    b.wait_redis_fanout().await;
    let mut ws = WsClient::connect(&b, Some(&sup.token)).await;
    ws.handshake().await;
    let task = accepted(&a, &officer).await;

    // 1.2 s without a report: one question; 1.2 s more without an answer: one red alert.
    wait_pasos(&a, task, &["pregunta", "sin_respuesta"]).await;
    // Both instances keep running passes: nothing more while the officer stays silent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pasos(&a, task).await, ["pregunta", "sin_respuesta"]);

    let alert = loop {
        let x = ws
            .wait_for("alert", Duration::from_secs(10))
            .await
            .expect("the supervisors get the alert");
        if x["data"]["kind"] == "checkin_sin_respuesta" {
            break x;
        }
    };
    assert_eq!(alert["data"]["level"], "critical");
    assert_eq!(alert["data"]["task_id"], task);
    assert_eq!(alert["data"]["efectivo_id"], officer.efectivo_id.unwrap());

    let r = b
        .get("/api/v1/alertas?pendientes=true", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        kinds(&r.body),
        ["checkin_sin_respuesta"],
        "exactly one alert"
    );
    let alerta = &checkin_alerts(&r.body)[0];
    assert_eq!(alerta["severity"], "critical");
    assert_eq!(alerta["tarea_id"], task);
    assert_eq!(alerta["visto_por"], Value::Null);
    assert_eq!(alert["data"]["alerta_id"], alerta["id"]);
    let id = alerta["id"].as_i64().unwrap();

    // Officers do not read or acknowledge alerts.
    let r = a.get("/api/v1/alertas", Some(&officer.token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = a
        .post(
            &format!("/api/v1/alertas/{id}/visto"),
            Some(&officer.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Seen: who and when; the first supervisor is kept.
    let r = a
        .post(
            &format!("/api/v1/alertas/{id}/visto"),
            Some(&sup.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["visto_por"], sup.id);
    assert!(
        r.body["visto_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    // Every dashboard drops it live, on the other instance too.
    let seen = ws
        .wait_for("alert_seen", Duration::from_secs(2))
        .await
        .expect("the supervisors are told the alert was seen");
    assert_eq!(seen["data"]["alerta_id"], id);
    assert_eq!(seen["data"]["kind"], "checkin_sin_respuesta");
    assert_eq!(seen["data"]["visto_por"], sup.id);
    let r = b
        .post(
            &format!("/api/v1/alertas/{id}/visto"),
            Some(&sup2.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["visto_por"], sup.id);
    let r = a
        .get("/api/v1/alertas?pendientes=true", Some(&sup.token))
        .await;
    assert_eq!(kinds(&r.body), Vec::<String>::new());
    let r = a.get("/api/v1/alertas", Some(&sup.token)).await;
    assert_eq!(kinds(&r.body), ["checkin_sin_respuesta"]);
    let r = a
        .post(
            "/api/v1/alertas/999999999/visto",
            Some(&sup.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let seen: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'alerta_vista' AND resource_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert_eq!(seen, 1, "audited once");

    // Every step is on the incident's timeline and in its check-ins.
    let r = a
        .get(&format!("/api/v1/tasks/{task}/timeline"), Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let tipos: Vec<&str> = r.body["entradas"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["tipo"].as_str())
        .filter(|t| t.starts_with("checkin_"))
        .collect();
    assert_eq!(tipos, ["checkin_pregunta", "checkin_sin_respuesta"]);
    let r = a
        .get(
            &format!("/api/v1/tasks/{task}/checkins"),
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body[1]["paso"], "sin_respuesta");
    assert_eq!(r.body[1]["alerta_id"], id);

    // A report (here, "Estoy bien") starts the clock again: a new question later.
    let r = a
        .post(
            &format!("/api/v1/tasks/{task}/checkins"),
            Some(&officer.token),
            json!({"respuesta": "ok"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    wait_pasos(&a, task, &["pregunta", "sin_respuesta", "ok", "pregunta"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estoy_bien_resets_the_clock_and_necesito_apoyo_dispatches_backup() {
    let (a, _b) = pair("0.02", "0.05").await;
    let sup = a.create_user(2).await;
    let officer = a.create_efectivo(Some(SITE)).await;
    let backup = a.create_efectivo(Some((SITE.0 + 0.002, SITE.1))).await;
    let stranger = a.create_efectivo(Some((SITE.0 + 0.5, SITE.1))).await;
    let task = accepted(&a, &officer).await;

    wait_pasos(&a, task, &["pregunta"]).await;
    let r = a
        .post(
            &format!("/api/v1/tasks/{task}/checkins"),
            Some(&officer.token),
            json!({"respuesta": "ok"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["checkin"]["paso"], "ok");
    assert_eq!(r.body["checkin"]["usuario"]["usuario_id"], officer.id);
    // Answered: no alert after the grace period; the next question comes an interval later.
    wait_pasos(&a, task, &["pregunta", "ok", "pregunta"]).await;

    let r = a
        .post(
            &format!("/api/v1/tasks/{task}/checkins"),
            Some(&officer.token),
            json!({"respuesta": "apoyo"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["refuerzos"], json!([backup.efectivo_id.unwrap()]));
    let alerta_id = r.body["checkin"]["alerta_id"].as_i64().unwrap();
    let refuerzo: bool = sqlx::query_scalar(
        "SELECT refuerzo FROM despachos WHERE tarea_id = $1 AND efectivo_id = $2",
    )
    .bind(task)
    .bind(backup.efectivo_id.unwrap())
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert!(refuerzo, "the backup officer is dispatched as backup");
    let r = a
        .get("/api/v1/alertas?pendientes=true", Some(&sup.token))
        .await;
    assert_eq!(kinds(&r.body), ["checkin_apoyo"]);
    assert_eq!(checkin_alerts(&r.body)[0]["id"], alerta_id);
    assert_eq!(checkin_alerts(&r.body)[0]["severity"], "warning");

    let r = a
        .get(&format!("/api/v1/tasks/{task}/checkins"), Some(&sup.token))
        .await;
    let got: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["paso"].as_str().unwrap())
        .collect();
    assert_eq!(&got[..4], ["pregunta", "ok", "pregunta", "apoyo"]);

    // Someone not on the incident: as if it did not exist. A bad answer: 422.
    let r = a
        .post(
            &format!("/api/v1/tasks/{task}/checkins"),
            Some(&stranger.token),
            json!({"respuesta": "ok"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = a
        .get(
            &format!("/api/v1/tasks/{task}/checkins"),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = a
        .post(
            &format!("/api/v1/tasks/{task}/checkins"),
            Some(&officer.token),
            json!({"respuesta": "quizas"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

#[tokio::test]
async fn a_closed_incident_stops_the_clock() {
    let (a, _b) = pair("0.02", "0.02").await;
    let sup = a.create_user(2).await;
    let officer = a.create_efectivo(Some(SITE)).await;
    let task = accepted(&a, &officer).await;
    let r = a
        .post(
            &format!("/api/v1/tasks/{task}/status"),
            Some(&sup.token),
            json!({"estado": "cancelada"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pasos(&a, task).await, Vec::<String>::new());
}
