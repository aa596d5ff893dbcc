//! Issue 15: dispatch that closes the loop — acknowledgement, re-dispatch on decline and on
//! silence (exactly once with two instances), "sin asignar", backup, unit status, timeline.

use std::time::{Duration, Instant};

use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(5);
const SITE: (f64, f64) = (-34.6037, -58.3816);

/// Officers north of the site, `step` degrees apart (about 110 m per 0.001), nearest first.
async fn officers(app: &TestApp, n: usize, step: f64) -> Vec<TestUser> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(
            app.create_efectivo(Some((SITE.0 + step * (i + 1) as f64, SITE.1)))
                .await,
        );
    }
    v
}

async fn raise(app: &TestApp, by: &TestUser) -> Value {
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&by.token),
            json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "prueba"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn ack(app: &TestApp, task: i64, by: &TestUser, accept: bool) -> gad_testkit::Resp {
    app.post(
        &format!("/api/v1/tasks/{task}/ack"),
        Some(&by.token),
        json!({ "accept": accept }),
    )
    .await
}

async fn backup(app: &TestApp, task: i64, by: &TestUser, n: i64) -> gad_testkit::Resp {
    app.post(
        &format!("/api/v1/tasks/{task}/backup"),
        Some(&by.token),
        json!({ "efectivos": n }),
    )
    .await
}

async fn unit(app: &TestApp, u: &TestUser) -> String {
    sqlx::query_scalar("SELECT estado_disponibilidad::text FROM efectivos WHERE id = $1")
        .bind(u.efectivo_id.unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn events_of(app: &TestApp, task: i64, sup: &TestUser) -> Vec<String> {
    let r = app
        .get(&format!("/api/v1/tasks/{task}/history"), Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = r.body.as_array().cloned().unwrap_or_else(|| {
        r.body["items"]
            .as_array()
            .or(r.body["history"].as_array())
            .cloned()
            .unwrap_or_default()
    });
    rows.iter()
        .filter_map(|h| h["evento"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn accept_puts_the_officer_on_the_way_and_is_in_the_timeline() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 2, 0.001).await;
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    let d = raise(&app, &caller).await;
    assert_eq!(d["ack_status"], "pendiente_confirmacion");
    assert!(d["ack_deadline"].as_str().unwrap().ends_with('Z'));
    let task = d["task_id"].as_i64().unwrap();
    assert_eq!(d["assigned_efectivo_id"], offs[0].efectivo_id.unwrap());
    assert_eq!(unit(&app, &offs[0]).await, "EN_TAREA");

    // Another officer cannot answer it (not theirs: 404), the right one accepts.
    let r = ack(&app, task, &offs[1], true).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = ack(&app, task, &offs[0], true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ack_status"], "aceptado");
    assert_eq!(unit(&app, &offs[0]).await, "EN_CAMINO");
    // Answering twice: nothing pending any more.
    let r = ack(&app, task, &offs[0], false).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let ev = ws.wait_for("task_status_changed", T).await.expect("event");
    assert_eq!(ev["data"]["evento"], "aceptado");
    assert_eq!(
        events_of(&app, task, &sup).await,
        vec!["despachado", "aceptado"]
    );

    // Arrival: reported by the officer (en_escena), in the timeline.
    let r = app
        .put(
            &format!(
                "/api/v1/efectivos/{}/disponibilidad",
                offs[0].efectivo_id.unwrap()
            ),
            Some(&offs[0].token),
            json!({"estado": "en_escena"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado_disponibilidad"], "en_escena");
    assert_eq!(
        events_of(&app, task, &sup).await,
        vec!["despachado", "aceptado", "llegada"]
    );
}

#[tokio::test]
async fn decline_dispatches_the_next_nearest_in_the_same_transaction() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 2, 0.001).await;
    let d = raise(&app, &caller).await;
    let task = d["task_id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/ack"),
            Some(&offs[0].token),
            json!({"accept": false, "motivo": "rueda pinchada"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["next"]["efectivo_id"], offs[1].efectivo_id.unwrap());
    assert_eq!(unit(&app, &offs[0]).await, "DISPONIBLE");
    assert_eq!(unit(&app, &offs[1]).await, "EN_TAREA");
    let (asignados, delegado): (Vec<i64>, i64) =
        sqlx::query_as("SELECT efectivos_asignados, delegado_usuario_id FROM tareas WHERE id = $1")
            .bind(task)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(asignados, vec![offs[1].efectivo_id.unwrap()]);
    assert_eq!(delegado, offs[1].id, "the new officer holds the task");
    // The second officer declines too: nobody else in range → sin asignar, alert.
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    let r = ack(&app, task, &offs[1], false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sin_asignar"], true);
    let alert = loop {
        let a = ws.wait_for("alert", T).await.expect("alert to supervisors");
        if a["data"]["title"] == "Emergencia sin asignar" {
            break a;
        }
    };
    assert_eq!(alert["data"]["task_id"], task);
    let estado: String = sqlx::query_scalar("SELECT estado::text FROM tareas WHERE id = $1")
        .bind(task)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(estado, "IN_PROGRESS", "the emergency stays open");
    assert_eq!(
        events_of(&app, task, &sup).await,
        vec![
            "despachado",
            "rechazado",
            "escalado",
            "rechazado",
            "sin_asignar"
        ]
    );
    // A supervisor on the officer's behalf, when nothing is pending: 409.
    let r = ack(&app, task, &sup, true).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_escalates_exactly_once_per_timeout_with_two_instances() {
    // Redis: the alert is published by whichever instance escalated; the socket is on B.
    let opts = Options::with_redis().env("DISPATCH_ACK_TIMEOUT_SECONDS", "1");
    let a = TestApp::spawn_with(opts).await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    let sup = a.create_user(2).await;
    let caller = a.create_user(1).await;
    let offs = officers(&a, 4, 0.001).await;
    a.wait_redis_fanout().await;
    b.wait_redis_fanout().await;
    let mut ws = WsClient::connect(&b, Some(&sup.token)).await;
    ws.handshake().await;
    let d = raise(&a, &caller).await;
    let task = d["task_id"].as_i64().unwrap();
    // Three silences (attempts 1, 2, 3), then "sin asignar" (DISPATCH_MAX_ATTEMPTS = 3).
    let start = Instant::now();
    loop {
        let done: bool = sqlx::query_scalar(
            "SELECT COALESCE((extra_data->>'sin_asignar')::bool, false) FROM tareas WHERE id = $1",
        )
        .bind(task)
        .fetch_one(&a.pool)
        .await
        .unwrap();
        if done {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not escalated in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows: Vec<(i64, i32, String)> = sqlx::query_as(
        "SELECT efectivo_id, intento, estado FROM despachos WHERE tarea_id = $1 ORDER BY intento",
    )
    .bind(task)
    .fetch_all(&a.pool)
    .await
    .unwrap();
    let want: Vec<(i64, i32, String)> = (0..3)
        .map(|i| {
            (
                offs[i].efectivo_id.unwrap(),
                i as i32 + 1,
                "VENCIDO".to_string(),
            )
        })
        .collect();
    assert_eq!(rows, want, "one escalation per timeout, nearest first");
    let ev = events_of(&a, task, &sup).await;
    assert_eq!(ev.iter().filter(|e| *e == "vencido").count(), 3, "{ev:?}");
    assert_eq!(ev.last().map(String::as_str), Some("sin_asignar"), "{ev:?}");
    for o in &offs[..3] {
        assert_eq!(unit(&a, o).await, "DISPONIBLE");
    }
    assert_eq!(
        unit(&a, &offs[3]).await,
        "DISPONIBLE",
        "never called: max attempts"
    );
    let alert = loop {
        let x = ws.wait_for("alert", T).await.expect("alert");
        if x["data"]["title"] == "Emergencia sin asignar" {
            break x;
        }
    };
    assert_eq!(alert["data"]["intentos"], 3);
    let m = a.get("/metrics", None).await;
    assert!(
        m.text
            .contains("dispatch_escalations_total{cause=\"timeout\"}"),
        "{}",
        m.text
    );
}

#[tokio::test]
async fn backup_adds_distinct_officers_never_a_busy_one() {
    let app = TestApp::spawn().await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 6, 0.001).await;
    // offs[1] is busy elsewhere.
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'EN_TAREA' WHERE id = $1")
        .bind(offs[1].efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let d = raise(&app, &caller).await;
    let task = d["task_id"].as_i64().unwrap();
    assert_eq!(d["assigned_efectivo_id"], offs[0].efectivo_id.unwrap());
    // An officer not on the task may not ask for backup on it.
    let r = backup(&app, task, &offs[5], 1).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // The officer on the way asks (once a minute: the desk asks the rest).
    assert_eq!(ack(&app, task, &offs[0], true).await.status, StatusCode::OK);
    let sup = app.create_user(2).await;
    let r = backup(&app, task, &offs[0], 3).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let added: Vec<i64> = r.body["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["efectivo_id"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = [2, 3, 4]
        .iter()
        .map(|i| offs[*i].efectivo_id.unwrap())
        .collect();
    assert_eq!(
        added, want,
        "the three nearest free officers, never the busy one"
    );
    for i in [2, 3, 4] {
        assert_eq!(unit(&app, &offs[i]).await, "EN_TAREA");
    }
    // Again: only one left (offs[5]); then nobody.
    let r = backup(&app, task, &sup, 5).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["added"].as_array().unwrap().len(), 1);
    let r = backup(&app, task, &sup, 1).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = backup(&app, task, &sup, 0).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // A backup unit acknowledges like the first one.
    let r = ack(&app, task, &offs[2], true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(unit(&app, &offs[2]).await, "EN_CAMINO");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_emergencies_with_declines_never_put_an_officer_on_two() {
    let app = TestApp::spawn().await;
    let offs = officers(&app, 30, 0.0005).await;
    let mut callers = Vec::new();
    for _ in 0..16 {
        callers.push(app.create_user(2).await);
    }
    let by_efectivo: std::collections::HashMap<i64, String> = offs
        .iter()
        .map(|o| (o.efectivo_id.unwrap(), o.token.clone()))
        .collect();
    let by_efectivo = std::sync::Arc::new(by_efectivo);
    let mut handles = Vec::new();
    for i in 0..64 {
        let base = app.base.clone();
        let token = callers[i % callers.len()].token.clone();
        let officers = by_efectivo.clone();
        handles.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let r = c
                .post(format!("{base}/api/v1/tasks/emergency"))
                .bearer_auth(&token)
                .json(&json!({"lat": SITE.0, "lng": SITE.1}))
                .send()
                .await
                .unwrap();
            if r.status() != StatusCode::CREATED {
                return;
            }
            let mut body: Value = r.json().await.unwrap();
            let task = body["task_id"].as_i64().unwrap();
            let mut efectivo = body["assigned_efectivo_id"].as_i64();
            // Every other emergency: its officers decline, twice, interleaved with the rest.
            for _ in 0..2 {
                let Some(e) = efectivo.filter(|_| i % 2 == 0) else {
                    break;
                };
                body = c
                    .post(format!("{base}/api/v1/tasks/{task}/ack"))
                    .bearer_auth(&officers[&e])
                    .json(&json!({"accept": false}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                efectivo = body["next"]["efectivo_id"].as_i64();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let doubled: Vec<i64> = sqlx::query_scalar(
        "SELECT d.efectivo_id FROM despachos d JOIN tareas t ON t.id = d.tarea_id
         WHERE d.estado IN ('PENDIENTE', 'ACEPTADO') AND t.estado NOT IN ('COMPLETED', 'CANCELLED')
         GROUP BY d.efectivo_id HAVING count(*) > 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        doubled.is_empty(),
        "officers on two open emergencies: {doubled:?}"
    );
    let overlap: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT e FROM tareas, unnest(efectivos_asignados) e
          WHERE codigo LIKE 'EMG-%' AND estado = 'IN_PROGRESS' GROUP BY e HAVING count(*) > 1) x",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(overlap, 0);
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM despachos WHERE estado = 'PENDIENTE'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(pending <= 30, "{pending}");
}

#[tokio::test]
async fn unit_status_follows_its_transitions_and_arrival_is_automatic_within_100_m() {
    let app = TestApp::spawn().await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 1, 0.01).await; // ~1.1 km away
    let path = format!(
        "/api/v1/efectivos/{}/disponibilidad",
        offs[0].efectivo_id.unwrap()
    );
    for (to, want) in [
        ("en_tarea", StatusCode::CONFLICT),
        ("en_camino", StatusCode::CONFLICT),
        ("en_escena", StatusCode::CONFLICT),
        ("no_disponible", StatusCode::OK),
        ("disponible", StatusCode::OK),
    ] {
        let r = app
            .put(&path, Some(&offs[0].token), json!({"estado": to}))
            .await;
        assert_eq!(r.status, want, "{to}: {}", r.text);
        if want == StatusCode::CONFLICT {
            assert!(r.body["allowed"].is_array(), "{}", r.text);
        }
    }
    let d = raise(&app, &caller).await;
    let task = d["task_id"].as_i64().unwrap();
    let r = ack(&app, task, &offs[0], true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let loc = format!(
        "/api/v1/efectivos/{}/ubicacion",
        offs[0].efectivo_id.unwrap()
    );
    // 500 m away: still on the way.
    let r = app
        .put(
            &loc,
            Some(&offs[0].token),
            json!({"lat": SITE.0 + 0.0045, "lng": SITE.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(unit(&app, &offs[0]).await, "EN_CAMINO");
    // 50 m away: on scene.
    let r = app
        .put(
            &loc,
            Some(&offs[0].token),
            json!({"lat": SITE.0 + 0.00045, "lng": SITE.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(unit(&app, &offs[0]).await, "EN_ESCENA");
    let llegada: bool =
        sqlx::query_scalar("SELECT llegada_at IS NOT NULL FROM despachos WHERE tarea_id = $1")
            .bind(task)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(llegada);
}

#[tokio::test]
async fn closing_the_task_closes_its_pending_dispatches_and_nothing_escalates_later() {
    let app =
        TestApp::spawn_with(Options::default().env("DISPATCH_ACK_TIMEOUT_SECONDS", "1")).await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 2, 0.001).await;
    let d = raise(&app, &caller).await;
    let task = d["task_id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/status"),
            Some(&sup.token),
            json!({"estado": "cancelada"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT efectivo_id, estado FROM despachos WHERE tarea_id = $1")
            .bind(task)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(offs[0].efectivo_id.unwrap(), "CERRADO".to_string())]
    );
    assert_eq!(unit(&app, &offs[0]).await, "DISPONIBLE");
    assert_eq!(
        unit(&app, &offs[1]).await,
        "DISPONIBLE",
        "nobody called for a closed task"
    );
    let r = ack(&app, task, &offs[0], true).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
}
