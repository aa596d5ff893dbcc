//! Patrols kept in their cuadrante: a shift or a task names one, an officer outside it longer
//! than `ZONA_SALIDA_MINUTOS` raises one `zona_salida` (and `zona_entrada` when back) to the
//! cuadrante's supervisors, with two instances sharing the database (settings in seconds).

use std::time::{Duration, Instant};

use chrono::Utc;
use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::zonas::{EN_A, EN_A1, Mapa, mapa};

/// Two instances of one deployment with a delay of 1.2 s.
async fn pair() -> (TestApp, TestApp) {
    let opts = Options::with_redis().env("ZONA_SALIDA_MINUTOS", "0.02");
    let a = TestApp::spawn_with(opts).await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    (a, b)
}

async fn assign(app: &TestApp, admin: &TestUser, user: &TestUser, zona: i64) {
    let r = app
        .put(
            &format!("/api/v1/users/{}/zonas", user.id),
            Some(&admin.token),
            json!({"zona_ids": [zona]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn shift(
    app: &TestApp,
    sup: &TestUser,
    officer: &TestUser,
    zona: Option<i64>,
) -> reqwest::StatusCode {
    // Relative to now and 2 h long: never crosses a day in a way that matters.
    let now = Utc::now();
    let r = app
        .post(
            "/api/v1/turnos",
            Some(&sup.token),
            json!({"efectivo_id": officer.efectivo_id.unwrap(),
                   "inicio": now - chrono::Duration::hours(1),
                   "fin": now + chrono::Duration::hours(1),
                   "zona_id": zona}),
        )
        .await;
    if r.status != StatusCode::CREATED {
        assert_eq!(
            r.body["errors"][0]["loc"],
            json!(["body", "zona_id"]),
            "{}",
            r.text
        );
    }
    r.status
}

async fn fix(app: &TestApp, officer: &TestUser, at: (f64, f64)) {
    let r = app
        .put(
            &format!(
                "/api/v1/efectivos/{}/ubicacion",
                officer.efectivo_id.unwrap()
            ),
            Some(&officer.token),
            json!({"lat": at.0, "lng": at.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn kinds(app: &TestApp, efectivo_id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT kind FROM alertas WHERE efectivo_id = $1 AND kind LIKE 'zona_%' ORDER BY id",
    )
    .bind(efectivo_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// Waits until the officer's zone alerts are `want` (10 s at most), sending `at` from both
/// instances in turn meanwhile when given.
async fn wait_kinds(
    (a, b): (&TestApp, &TestApp),
    officer: &TestUser,
    at: Option<(f64, f64)>,
    want: &[&str],
) {
    let start = Instant::now();
    let mut turn = false;
    loop {
        if let Some(p) = at {
            fix(if turn { a } else { b }, officer, p).await;
            turn = !turn;
        }
        let got = kinds(a, officer.efectivo_id.unwrap()).await;
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "zone alerts {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the officer is watched (a pass of the job has seen the assignment).
async fn wait_watched(app: &TestApp, officer: &TestUser) {
    let start = Instant::now();
    loop {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM zona_vigilancias WHERE efectivo_id = $1")
                .bind(officer.efectivo_id.unwrap())
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if n == 1 {
            // Both instances refresh their copy on their next pass (300 ms).
            tokio::time::sleep(Duration::from_millis(700)).await;
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never watched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn zone_alert(ws: &mut WsClient, kind: &str) -> Option<Value> {
    loop {
        let x = ws.wait_for("alert", Duration::from_secs(5)).await?;
        if x["data"]["kind"] == kind {
            return Some(x);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_names_only_an_existing_cuadrante() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(EN_A1)).await;
    let Mapa { a, a1, .. } = mapa(&app, &admin).await;
    assert_eq!(
        shift(&app, &sup, &officer, Some(a)).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        shift(&app, &sup, &officer, Some(a1 + 1000)).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        shift(&app, &sup, &officer, Some(a1)).await,
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_out_of_the_shift_cuadrante_is_alerted_once_across_two_instances() {
    let (a, b) = pair().await;
    let admin = a.create_user(3).await;
    let sup_a = a.create_user(2).await;
    let sup_b = a.create_user(2).await;
    let officer = a.create_efectivo(Some(EN_A1)).await;
    let bystander = a.create_efectivo(Some(EN_A1)).await;
    let m = mapa(&a, &admin).await;
    assign(&a, &admin, &sup_a, m.a).await;
    assign(&a, &admin, &sup_b, m.b).await;
    a.wait_redis_fanout().await;
    b.wait_redis_fanout().await;
    let mut ws_a = WsClient::connect(&b, Some(&sup_a.token)).await;
    ws_a.handshake().await;
    let mut ws_b = WsClient::connect(&a, Some(&sup_b.token)).await;
    ws_b.handshake().await;

    assert_eq!(
        shift(&a, &sup_a, &officer, Some(m.a1)).await,
        StatusCode::CREATED
    );
    wait_watched(&a, &officer).await;
    fix(&a, &officer, EN_A1).await;

    // Outside A1 (still in A), fixes from both instances for a while: exactly one exit alert
    // once the delay elapsed, and no more however many fixes follow.
    wait_kinds((&a, &b), &officer, Some(EN_A), &["zona_salida"]).await;
    for i in 0..10 {
        fix(if i % 2 == 0 { &a } else { &b }, &officer, EN_A).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        kinds(&a, officer.efectivo_id.unwrap()).await,
        ["zona_salida"]
    );

    let alert = zone_alert(&mut ws_a, "zona_salida")
        .await
        .expect("A's supervisor gets the exit");
    assert_eq!(alert["data"]["level"], "warning");
    assert_eq!(alert["data"]["zona_id"], m.a1);
    assert_eq!(alert["data"]["efectivo_id"], officer.efectivo_id.unwrap());
    assert_eq!(alert["data"]["task_id"], Value::Null);
    let r = b
        .get("/api/v1/alertas?pendientes=true", Some(&sup_a.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body[0]["kind"], "zona_salida");
    assert_eq!(alert["data"]["alerta_id"], r.body[0]["id"]);

    // Back inside: one return.
    wait_kinds(
        (&a, &b),
        &officer,
        Some(EN_A1),
        &["zona_salida", "zona_entrada"],
    )
    .await;
    assert!(zone_alert(&mut ws_a, "zona_entrada").await.is_some());
    // B's supervisor heard of neither.
    assert!(zone_alert(&mut ws_b, "zona_salida").await.is_none());

    // One fix outside and then silence: the job raises the exit once the delay elapsed.
    fix(&b, &officer, EN_A).await;
    wait_kinds(
        (&a, &b),
        &officer,
        None,
        &["zona_salida", "zona_entrada", "zona_salida"],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        kinds(&a, officer.efectivo_id.unwrap()).await,
        ["zona_salida", "zona_entrada", "zona_salida"]
    );

    // An officer without a cuadrante is never watched, wherever they go.
    fix(&a, &bystander, EN_A).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(kinds(&a, bystander.efectivo_id.unwrap()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_cuadrante_watches_its_officers_and_the_exit_is_on_its_timeline() {
    let app = TestApp::spawn_with(Options::default().env("ZONA_SALIDA_MINUTOS", "0.02")).await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some(EN_A1)).await;
    let m = mapa(&app, &admin).await;
    let ef = officer.efectivo_id.unwrap();

    // Only a cuadrante: the comisaría or an unknown id is 422 at cuadrante_id.
    for bad in [m.a, m.a1 + 1000] {
        let r = app
            .create_task(
                &sup,
                sup.id,
                json!({"cuadrante_id": bad, "efectivos_asignados": [ef]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.body["errors"][0]["loc"], json!(["body", "cuadrante_id"]));
    }
    let r = app
        .create_task(
            &sup,
            sup.id,
            json!({"cuadrante_id": m.a1, "efectivos_asignados": [ef]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["cuadrante_id"], m.a1);
    let task = r.body["id"].as_i64().unwrap();
    let r = app
        .put(
            &format!("/api/v1/tasks/{task}"),
            Some(&sup.token),
            json!({"cuadrante_id": m.a}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    wait_watched(&app, &officer).await;
    fix(&app, &officer, EN_A).await;
    wait_kinds((&app, &app), &officer, None, &["zona_salida"]).await;
    let tarea: Option<i64> =
        sqlx::query_scalar("SELECT tarea_id FROM alertas WHERE kind = 'zona_salida'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(tarea, Some(task));
    wait_kinds(
        (&app, &app),
        &officer,
        Some(EN_A1),
        &["zona_salida", "zona_entrada"],
    )
    .await;

    let r = app
        .get(&format!("/api/v1/tasks/{task}/timeline"), Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let tipos: Vec<&str> = r.body["entradas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tipo"].as_str().unwrap())
        .filter(|t| t.starts_with("zona_"))
        .collect();
    assert_eq!(tipos, ["zona_salida", "zona_entrada"], "{}", r.text);

    // Cleared: no longer watched.
    let r = app
        .put(
            &format!("/api/v1/tasks/{task}"),
            Some(&sup.token),
            json!({"cuadrante_id": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["cuadrante_id"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_supervisor_clears_their_zones() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let other = app.create_user(2).await;
    let m = mapa(&app, &admin).await;
    assign(&app, &admin, &sup, m.a).await;
    assign(&app, &admin, &other, m.a).await;
    let r = app
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", sup.id),
            Some(&admin.token),
            json!({"motivo": "baja"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let zonas = |u: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT zona_id FROM usuario_zonas WHERE usuario_id = $1")
                .bind(u)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert!(zonas(sup.id).await.is_empty());
    assert_eq!(zonas(other.id).await, [m.a]);
}
