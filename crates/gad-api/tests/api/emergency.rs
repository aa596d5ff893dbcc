//! Emergency dispatch: validation, nearest-available choice, distance correctness, race
//! freedom under concurrency, idempotency, suggestions and the query plan.

use gad_testkit::{Resp, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SOL: (f64, f64) = (40.4168, -3.7038);

/// titulo, tipo, prioridad, estado, delegado, creador, descripcion, efectivos, lat, lon, extra, located.
type TaskRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Vec<i64>,
    f64,
    f64,
    Value,
    bool,
);

async fn post_emergency(app: &TestApp, token: &str, body: Value, key: Option<&str>) -> Resp {
    let mut rb = app
        .client
        .post(app.url("/api/v1/tasks/emergency"))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        rb = rb.header("Idempotency-Key", k);
    }
    TestApp::read(rb.send().await.unwrap()).await
}

async fn estado(app: &TestApp, efectivo_id: i64) -> String {
    sqlx::query_scalar("SELECT estado_disponibilidad::text FROM efectivos WHERE id = $1")
        .bind(efectivo_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let app = TestApp::spawn().await;
    let reporter = app.create_user(1).await;
    for (body, field) in [
        (json!({"lat": 90.01, "lng": 0}), "lat"),
        (json!({"lat": -91, "lng": 0}), "lat"),
        (json!({"lat": 0, "lng": 180.5}), "lng"),
        (json!({"lat": 0, "lng": 0, "radius_m": 99}), "radius_m"),
        (json!({"lat": 0, "lng": 0, "radius_m": 100001}), "radius_m"),
        (
            json!({"lat": 0, "lng": 0, "descripcion": "x".repeat(1001)}),
            "descripcion",
        ),
        (json!({"lng": 0}), "lat"),
        (json!({"lat": "norte", "lng": 0}), "lat"),
    ] {
        let r = post_emergency(&app, &reporter.token, body, None).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.text
        );
        assert_eq!(r.body["detail"], "Validation Error");
        assert_eq!(r.body["errors"][0]["loc"], json!(["body", field]));
    }
    let r = post_emergency(
        &app,
        &reporter.token,
        json!({"lat": 0, "lng": 0}),
        Some(&"k".repeat(65)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["header", "Idempotency-Key"])
    );
    // Unauthenticated → 401 before validation.
    let r = app
        .post("/api/v1/tasks/emergency", None, json!({"lat": 500}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tasks, 0);
}

#[tokio::test]
async fn assigns_nearest_available_and_records_everything() {
    let app = TestApp::spawn().await;
    let reporter = app.create_user(1).await;
    // Busy officer right at the point, an out-of-radius one, a fuera_servicio one, a deleted one,
    // an unlocated one, and two available ones at ~555 m and ~1110 m.
    let busy = app.create_efectivo(Some(SOL)).await;
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'EN_TAREA' WHERE id = $1")
        .bind(busy.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let off = app.create_efectivo(Some((SOL.0 + 0.001, SOL.1))).await;
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'FUERA_SERVICIO' WHERE id = $1")
        .bind(off.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let deleted = app.create_efectivo(Some((SOL.0 + 0.002, SOL.1))).await;
    sqlx::query("UPDATE efectivos SET deleted_at = now() WHERE id = $1")
        .bind(deleted.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let _unlocated = app.create_efectivo(None).await;
    let near = app.create_efectivo(Some((SOL.0 + 0.005, SOL.1))).await;
    let far = app.create_efectivo(Some((SOL.0 + 0.01, SOL.1))).await;
    let _outside = app.create_efectivo(Some((SOL.0 + 0.5, SOL.1))).await;

    let r = post_emergency(
        &app,
        &reporter.token,
        json!({"lat": SOL.0, "lng": SOL.1, "descripcion": "Robo en curso", "radius_m": 5000, "telegram_id": 777}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let near_id = near.efectivo_id.unwrap();
    assert_eq!(r.body["assigned_efectivo_id"], near_id);
    assert_eq!(r.body["status"], "assigned");
    let task_id = r.body["task_id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/tasks/{task_id}").as_str())
    );
    let codigo = r.body["codigo"].as_str().unwrap();
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert!(codigo.starts_with(&format!("EMG-{today}-")), "{codigo}");
    assert_eq!(codigo.len(), "EMG-20261128-000001".len());
    assert!(r.body["received_at"].as_str().unwrap().ends_with('Z'));
    let d = r.body["distance_m"].as_f64().unwrap();
    assert_eq!((d * 100.0).round() / 100.0, d, "two decimals");

    // The task row.
    let row: TaskRow = sqlx::query_as(
        "SELECT titulo, tipo::text, prioridad::text, estado::text, delegado_usuario_id, creado_por_usuario_id,
                descripcion, efectivos_asignados, ubicacion_lat, ubicacion_lon, extra_data,
                (inicio_real IS NOT NULL AND geom IS NOT NULL)
         FROM tareas WHERE id = $1",
    )
    .bind(task_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row.0, "Emergencia");
    assert_eq!(row.1, "INTERVENCION");
    assert_eq!(row.2, "CRITICAL");
    assert_eq!(row.3, "IN_PROGRESS");
    assert_eq!(row.4, near.id);
    assert_eq!(row.5, Some(reporter.id));
    assert_eq!(row.6.as_deref(), Some("Robo en curso"));
    assert_eq!(row.7, vec![near_id]);
    assert_eq!((row.8, row.9), SOL);
    assert_eq!(row.10["emergency"], true);
    assert_eq!(row.10["telegram_id"], 777);
    assert!(row.11);
    // Link, efectivo state, history, audit.
    let linked: Vec<i64> =
        sqlx::query_scalar("SELECT efectivo_id FROM tarea_efectivos WHERE tarea_id = $1")
            .bind(task_id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(linked, vec![near_id]);
    assert_eq!(estado(&app, near_id).await, "EN_TAREA");
    assert_eq!(estado(&app, far.efectivo_id.unwrap()).await, "DISPONIBLE");
    let hist: Vec<(Option<String>, String, Option<String>)> = sqlx::query_as(
        "SELECT estado_anterior::text, estado_nuevo::text, nota FROM historial_estados WHERE tarea_id = $1",
    )
    .bind(task_id).fetch_all(&app.pool).await.unwrap();
    assert_eq!(
        hist,
        vec![(
            None,
            "IN_PROGRESS".to_string(),
            Some("emergencia".to_string())
        )]
    );
    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'emergency_dispatched' AND resource_id = $1 AND user_id = $2",
    )
    .bind(task_id.to_string()).bind(reporter.id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(audits, 1);

    // Next one takes the farther officer; then nobody is left within 5 km → 404.
    let r = post_emergency(
        &app,
        &reporter.token,
        json!({"lat": SOL.0, "lng": SOL.1, "radius_m": 5000}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["assigned_efectivo_id"], far.efectivo_id.unwrap());
    assert_ne!(r.body["codigo"], codigo);
    let r = post_emergency(
        &app,
        &reporter.token,
        json!({"lat": SOL.0, "lng": SOL.1, "radius_m": 5000}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No efectivos with location data available"})
    );
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tasks, 2);

    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.contains("emergency_dispatch_total{result=\"assigned\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("emergency_dispatch_total{result=\"none_available\"} 1"));
}

#[tokio::test]
async fn distance_matches_postgis_spheroid() {
    let app = TestApp::spawn().await;
    let reporter = app.create_user(1).await;
    // Known pairs: Buenos Aires obelisk → ~7.3 km; a point across the 180° meridian.
    for (officer, point, radius) in [
        ((-34.6037, -58.3816), (-34.6500, -58.4400), 20_000.0),
        ((0.0005, 179.9995), (0.0, -179.9995), 1_000.0),
        ((60.0, 10.0), (60.0009, 10.0), 200.0),
    ] {
        let ef = app.create_efectivo(Some(officer)).await;
        let r = post_emergency(
            &app,
            &reporter.token,
            json!({"lat": point.0, "lng": point.1, "radius_m": radius}),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["assigned_efectivo_id"], ef.efectivo_id.unwrap());
        let expected: f64 = sqlx::query_scalar(
            "SELECT ST_Distance(ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography,
                                ST_SetSRID(ST_MakePoint($3, $4), 4326)::geography, true)",
        )
        .bind(officer.1)
        .bind(officer.0)
        .bind(point.1)
        .bind(point.0)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let got = r.body["distance_m"].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1.0,
            "got {got}, PostGIS {expected}"
        );
        assert!(expected > 50.0);
    }
}

#[tokio::test]
async fn concurrent_emergencies_never_share_an_efectivo() {
    let app = TestApp::spawn().await;
    // The desk: not bounded per hour, so all 64 requests race in the dispatch statement.
    let reporter = app.create_user(2).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let ef = app
            .create_efectivo(Some((SOL.0 + 0.0005 * i as f64, SOL.1 + 0.0003 * i as f64)))
            .await;
        ids.push(ef.efectivo_id.unwrap());
    }
    let mut handles = Vec::new();
    for i in 0..64 {
        let client = app.client.clone();
        let url = app.url("/api/v1/tasks/emergency");
        let token = reporter.token.clone();
        handles.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"lat": SOL.0 + 0.0001 * (i % 7) as f64, "lng": SOL.1, "radius_m": 20000}))
                .send()
                .await
                .unwrap();
            TestApp::read(r).await
        }));
    }
    let mut assigned = Vec::new();
    let mut not_found = 0;
    for h in handles {
        let r = h.await.unwrap();
        match r.status {
            StatusCode::CREATED => assigned.push(r.body["assigned_efectivo_id"].as_i64().unwrap()),
            StatusCode::NOT_FOUND => {
                assert_eq!(
                    r.body["detail"],
                    "No efectivos with location data available"
                );
                not_found += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(assigned.len(), 20);
    assert_eq!(not_found, 44);
    let mut distinct = assigned.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 20);
    let mut all = ids.clone();
    all.sort();
    assert_eq!(distinct, all);
    let doubles: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT te.efectivo_id FROM tarea_efectivos te JOIN tareas t ON t.id = te.tarea_id
         WHERE t.estado NOT IN ('COMPLETED', 'CANCELLED') GROUP BY te.efectivo_id HAVING count(*) > 1) x",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(doubles, 0);
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tasks, 20);
    let codes: i64 = sqlx::query_scalar("SELECT count(DISTINCT codigo) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(codes, 20);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response() {
    let app = TestApp::spawn().await;
    let reporter = app.create_user(1).await;
    let other = app.create_user(1).await;
    for i in 0..3 {
        app.create_efectivo(Some((SOL.0 + 0.001 * i as f64, SOL.1)))
            .await;
    }
    let body = json!({"lat": SOL.0, "lng": SOL.1, "descripcion": "Incendio"});
    let first = post_emergency(&app, &reporter.token, body.clone(), Some("retry-abc")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = post_emergency(&app, &reporter.token, body.clone(), Some("retry-abc")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tasks, 1);
    // Same key, different body → 422 on the header; nothing dispatched.
    let r = post_emergency(
        &app,
        &reporter.token,
        json!({"lat": SOL.0, "lng": SOL.1}),
        Some("retry-abc"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["header", "Idempotency-Key"])
    );
    // The key is per user: another user with the same key dispatches.
    let r = post_emergency(&app, &other.token, body.clone(), Some("retry-abc")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_ne!(r.body["task_id"], first.body["task_id"]);
    // A key older than 24 h is reclaimed.
    sqlx::query(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1",
    )
    .bind(reporter.id)
    .execute(&app.pool)
    .await
    .unwrap();
    let r = post_emergency(&app, &reporter.token, body.clone(), Some("retry-abc")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_ne!(r.body["task_id"], first.body["task_id"]);
    // None available: 404 is not stored, a later retry with the same key may dispatch.
    let r = post_emergency(
        &app,
        &reporter.token,
        json!({"lat": -10, "lng": -10}),
        Some("k404"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE key = 'k404'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_dispatch_once() {
    let app = TestApp::spawn().await;
    let reporter = app.create_user(1).await;
    for i in 0..5 {
        app.create_efectivo(Some((SOL.0 + 0.001 * i as f64, SOL.1)))
            .await;
    }
    let mut handles = Vec::new();
    for _ in 0..12 {
        let client = app.client.clone();
        let url = app.url("/api/v1/tasks/emergency");
        let token = reporter.token.clone();
        handles.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "same-phone-retry")
                .json(&json!({"lat": SOL.0, "lng": SOL.1}))
                .send()
                .await
                .unwrap();
            TestApp::read(r).await
        }));
    }
    let mut task_ids = Vec::new();
    for h in handles {
        let r = h.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        task_ids.push(r.body["task_id"].as_i64().unwrap());
    }
    task_ids.dedup();
    assert_eq!(task_ids.len(), 1);
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tasks, 1);
    let busy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM efectivos WHERE estado_disponibilidad = 'EN_TAREA'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(busy, 1);
}

#[tokio::test]
async fn suggestions_rank_without_assigning() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let a = app.create_efectivo(Some((SOL.0 + 0.003, SOL.1))).await;
    let b = app.create_efectivo(Some((SOL.0 + 0.001, SOL.1))).await;
    let c = app.create_efectivo(Some((SOL.0 + 0.002, SOL.1))).await;
    sqlx::query("UPDATE efectivos SET especialidad = 'k9', unidad = 'Norte' WHERE id = $1")
        .bind(c.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let busy = app.create_efectivo(Some(SOL)).await;
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'EN_TAREA' WHERE id = $1")
        .bind(busy.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();

    let path = format!(
        "/api/v1/tasks/emergency/suggestions?lat={}&lng={}",
        SOL.0, SOL.1
    );
    assert_eq!(
        app.get(&path, Some(&a.token)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app.get(&path, Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<i64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["efectivo_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            b.efectivo_id.unwrap(),
            c.efectivo_id.unwrap(),
            a.efectivo_id.unwrap()
        ]
    );
    let first = &r.body[0];
    assert!((first["distance_m"].as_f64().unwrap() - 111.0).abs() < 2.0);
    assert!(first["codigo_interno"].is_string());
    assert_eq!(first["nombre"], "Test");
    assert_eq!(first["unidad"], "Unidad Test");
    assert_eq!(first["especialidad"], "patrullaje");
    let r = app.get(&format!("{path}&limit=1"), Some(&sup.token)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = app
        .get(
            &format!("{path}&especialidad=k9&unidad=Norte"),
            Some(&sup.token),
        )
        .await;
    let ids: Vec<i64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["efectivo_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![c.efectivo_id.unwrap()]);
    let r = app
        .get(&format!("{path}&radius_m=200"), Some(&sup.token))
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // Nothing assigned.
    let busy_n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM efectivos WHERE estado_disponibilidad = 'EN_TAREA'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(busy_n, 1);
    // Validation.
    for (q, field) in [
        ("lat=91&lng=0", "lat"),
        ("lat=0&lng=200", "lng"),
        ("lng=0", "lat"),
        ("lat=0&lng=0&limit=21", "limit"),
        ("lat=0&lng=0&radius_m=5", "radius_m"),
    ] {
        let r = app
            .get(
                &format!("/api/v1/tasks/emergency/suggestions?{q}"),
                Some(&sup.token),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(r.body["errors"][0]["loc"], json!(["query", field]));
    }
}

#[tokio::test]
async fn dispatch_query_uses_the_partial_gist_index() {
    let app = TestApp::spawn().await;
    for i in 0..50 {
        app.create_efectivo(Some((SOL.0 + 0.001 * i as f64, SOL.1)))
            .await;
    }
    sqlx::query("ANALYZE efectivos")
        .execute(&app.pool)
        .await
        .unwrap();
    // The roster's condition (DUTY_MODE=turnos) is checked per candidate: the same index scan.
    for duty in [
        gad_store::turnos::Duty::Libre,
        gad_store::turnos::Duty::Turnos { clock_in: true },
        gad_store::turnos::Duty::Turnos { clock_in: false },
    ] {
        let mut tx = app.pool.begin().await.unwrap();
        // Small tables make a sequential scan cheaper; forbid it to check the index *can* serve
        // the exact statement (KNN ordering + DWithin + partial predicate).
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(&mut *tx)
            .await
            .unwrap();
        let plan: Vec<String> = sqlx::query_scalar(&format!(
            "EXPLAIN {}",
            gad_store::emergency::dispatch_sql(gad_store::nearest::Order::Index, false, duty)
        ))
        .bind(SOL.1)
        .bind(SOL.0)
        .bind(10_000.0f64)
        .bind(1i64)
        .bind(None::<String>)
        .bind(None::<i64>)
        .bind(None::<String>)
        .bind("2026-11-28T00:00:00.000Z")
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(30i64)
        .bind(60.0f64)
        .bind(None::<String>)
        .bind(None::<i16>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(1000.0f64)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("efectivos_disponibles_geom_gist"),
            "{duty:?}: {plan}"
        );
        assert!(
            plan.contains("Order By"),
            "KNN ordering by the index: {plan}"
        );
        assert!(plan.contains("LockRows"), "{plan}");
    }
}

/// The app's connections plan prepared statements generically: with the point folded into a
/// custom plan, PostGIS' `ST_DWithin` on geography cost ≈ 9 ms per dispatch and made the tail.
#[tokio::test]
async fn app_connections_use_generic_plans() {
    let app = TestApp::spawn().await;
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(mode, "force_generic_plan");
}
