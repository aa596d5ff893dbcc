//! Dispatch cannot be switched off by one officer: only the desk closes an emergency, backup
//! requests and emergencies are bounded, and the acknowledgement route reveals and locks
//! nothing for an officer who was never called.

use std::time::Duration;

use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SITE: (f64, f64) = (-34.6037, -58.3816);

/// Officers north of the site, about 110 m apart, nearest first.
async fn officers(app: &TestApp, n: usize) -> Vec<TestUser> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(
            app.create_efectivo(Some((SITE.0 + 0.001 * (i + 1) as f64, SITE.1)))
                .await,
        );
    }
    v
}

async fn try_raise(app: &TestApp, by: &TestUser) -> gad_testkit::Resp {
    app.post(
        "/api/v1/tasks/emergency",
        Some(&by.token),
        json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "prueba"}),
    )
    .await
}

async fn raise(app: &TestApp, by: &TestUser) -> i64 {
    let r = try_raise(app, by).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["task_id"].as_i64().unwrap()
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

async fn set_status(app: &TestApp, task: i64, by: &TestUser, estado: &str) -> gad_testkit::Resp {
    app.post(
        &format!("/api/v1/tasks/{task}/status"),
        Some(&by.token),
        json!({ "estado": estado }),
    )
    .await
}

/// The contract's 429 (§10): exact keys, the bound and its window, and Retry-After.
fn assert_rate_limited(r: &gad_testkit::Resp, limit: i64, window: i64) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.body["error"], "rate_limit_exceeded");
    assert_eq!(r.body["rate_limit"], limit);
    assert_eq!(r.body["window_seconds"], window);
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1 && retry <= window, "{retry}");
    assert_eq!(r.body["retry_after_seconds"], retry);
    let mut keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "citizen_support",
            "details",
            "error",
            "government_service",
            "message",
            "rate_limit",
            "retry_after_seconds",
            "timestamp",
            "window_seconds"
        ]
    );
}

async fn estado(app: &TestApp, task: i64) -> String {
    sqlx::query_scalar("SELECT estado::text FROM tareas WHERE id = $1")
        .bind(task)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dispatched_officer_cannot_finish_or_cancel_an_emergency_only_the_desk_can() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 1).await;
    let task = raise(&app, &caller).await;
    let r = ack(&app, task, &offs[0], true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    for estado_nuevo in ["finalizada", "cancelada"] {
        let r = set_status(&app, task, &offs[0], estado_nuevo).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("central") && detail.contains("ack"),
            "{detail}"
        );
        // The partial update takes the same rule.
        let r = app
            .put(
                &format!("/api/v1/tasks/{task}"),
                Some(&offs[0].token),
                json!({ "estado": estado_nuevo }),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    assert_eq!(estado(&app, task).await, "IN_PROGRESS");
    // The desk closes it (an emergency with its closing code).
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/status"),
            Some(&sup.token),
            json!({"estado": "finalizada", "codigo_cierre": "resuelto"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn backup_is_bounded_per_task_and_per_officer_per_minute() {
    let app = TestApp::spawn_with(Options::default().env("BACKUP_MAX_PER_TASK", "3")).await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 6).await;
    let task = raise(&app, &caller).await;
    assert_eq!(ack(&app, task, &offs[0], true).await.status, StatusCode::OK);

    let r = backup(&app, task, &offs[0], 1).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // The same officer again within the minute.
    let r = backup(&app, task, &offs[0], 1).await;
    assert_rate_limited(&r, 1, 60);
    // The desk asks more than is left: it gets what is left (3 in all).
    let r = backup(&app, task, &sup, 5).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["added"].as_array().unwrap().len(), 2, "{}", r.text);
    let r = backup(&app, task, &sup, 1).await;
    assert_rate_limited(&r, 3, 60);
    let called: i64 =
        sqlx::query_scalar("SELECT count(*) FROM despachos WHERE tarea_id = $1 AND refuerzo")
            .bind(task)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(called, 3);
}

#[tokio::test]
async fn an_officer_asks_backup_only_once_on_the_way_or_on_scene() {
    let app = TestApp::spawn().await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 3).await;
    let task = raise(&app, &caller).await;
    // Called but not yet answered: not on the way.
    let r = backup(&app, task, &offs[0], 1).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("aceptá"),
        "{}",
        r.text
    );
    // Never called: the task is not theirs to see.
    let r = backup(&app, task, &offs[2], 1).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(ack(&app, task, &offs[0], true).await.status, StatusCode::OK);
    let r = backup(&app, task, &offs[0], 1).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn emergencies_of_one_officer_are_bounded_per_hour_and_the_refusal_alerts_supervisors() {
    let app = TestApp::spawn_with(Options::default().env("EMERGENCY_MAX_PER_HOUR", "2")).await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    officers(&app, 4).await;
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    raise(&app, &caller).await;
    raise(&app, &caller).await;
    let r = try_raise(&app, &caller).await;
    assert_rate_limited(&r, 2, 3600);
    // Also with an Idempotency-Key (the Telegram path takes one).
    let rb = app
        .client
        .post(app.url("/api/v1/tasks/emergency"))
        .bearer_auth(&caller.token)
        .header("Idempotency-Key", "sos-3")
        .json(&json!({"lat": SITE.0, "lng": SITE.1}));
    let r = TestApp::read(rb.send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas WHERE es_emergencia")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 2, "nobody dispatched beyond the bound");
    // People see the refusal.
    let mut refused = None;
    for ev in ws.collect(Duration::from_secs(2)).await {
        if ev["event_type"] == "alert"
            && ev["data"]["reported_by"] == caller.id
            && ev["data"]["title"] == "Emergencia rechazada por límite"
        {
            refused = Some(ev);
        }
    }
    let refused: Value = refused.expect("an alert for the refused emergency");
    assert_eq!(refused["data"]["limite"], 2);
    // The desk is not bounded.
    raise(&app, &sup).await;
}

#[tokio::test]
async fn ack_answers_404_to_an_officer_never_called_before_the_state_and_without_locking() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let offs = officers(&app, 1).await;
    let stranger = app.create_efectivo(None).await;
    let task = raise(&app, &caller).await;
    // Someone holds the task row (an answer in progress): a stranger's ack does not wait on it.
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tareas WHERE id = $1 FOR UPDATE")
        .bind(task)
        .execute(&mut *holder)
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(3), ack(&app, task, &stranger, true))
        .await
        .expect("the stranger's ack must not wait on the task's lock");
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    holder.rollback().await.unwrap();
    // Closed: still 404 for the stranger (the state is not revealed), 409 for the officer called.
    assert_eq!(
        set_status(&app, task, &sup, "cancelada").await.status,
        StatusCode::OK
    );
    let r = ack(&app, task, &stranger, true).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = ack(&app, task, &offs[0], true).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
}
