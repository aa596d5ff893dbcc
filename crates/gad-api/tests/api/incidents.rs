//! Incidents: intake fields, case numbers, incident types and their response plans (several
//! officers, specialities within the slack, shortfalls), closure with a code.

use std::time::Duration;

use gad_testkit::ws::WsClient;
use gad_testkit::{Resp, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(5);
const SITE: (f64, f64) = (-34.6037, -58.3816);
/// ≈ 111 m of latitude.
const STEP: f64 = 0.001;

/// Officers north of the site, `STEP` apart (the first ≈ 111 m away).
async fn officers(app: &TestApp, n: usize) -> Vec<TestUser> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(
            app.create_efectivo(Some((SITE.0 + STEP * (i + 1) as f64, SITE.1)))
                .await,
        );
    }
    v
}

async fn raise(app: &TestApp, by: &TestUser, extra: Value) -> Resp {
    let mut body = json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "prueba"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    app.post("/api/v1/tasks/emergency", Some(&by.token), body)
        .await
}

async fn new_type(app: &TestApp, admin: &TestUser, body: Value) {
    let r = app
        .post("/api/v1/tipos-incidente", Some(&admin.token), body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn unit(app: &TestApp, u: &TestUser) -> String {
    sqlx::query_scalar("SELECT estado_disponibilidad::text FROM efectivos WHERE id = $1")
        .bind(u.efectivo_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn set_especialidad(app: &TestApp, u: &TestUser, esp: &str) {
    sqlx::query("UPDATE efectivos SET especialidad = $2 WHERE id = $1")
        .bind(u.efectivo_id)
        .bind(esp)
        .execute(&app.pool)
        .await
        .unwrap();
}

fn loc(r: &Resp) -> Value {
    r.body["errors"][0]["loc"].clone()
}

fn dispatched_ids(r: &Resp) -> Vec<i64> {
    r.body["despachados"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["efectivo_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn incident_intake_fields_round_trip_and_level_1_never_sees_the_caller() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let offs = officers(&app, 2).await;
    let r = raise(
        &app,
        &sup,
        json!({"tipo_incidente": "hurto", "direccion": "Av. Corrientes 1234",
               "referencia": "entre Uruguay y Talcahuano",
               "denunciante": {"nombre": "Ana Pérez", "telefono": "+54 11 5555-0000"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["faltantes"], 0);
    assert_eq!(
        r.body["despachados"],
        json!([{"efectivo_id": offs[0].efectivo_id, "distance_m": r.body["distance_m"], "refuerzo": false}])
    );
    let task = r.body["task_id"].as_i64().unwrap();
    let nro = r.body["nro_incidente"].as_str().unwrap().to_string();

    let expected = json!({
        "tipo_incidente": "hurto",
        // The type's default (hurto: 2).
        "prioridad": 2,
        "direccion": "Av. Corrientes 1234",
        "referencia": "entre Uruguay y Talcahuano",
        "denunciante": {"nombre": "Ana Pérez", "telefono": "+54 11 5555-0000"},
        "codigo_cierre": null, "resumen_cierre": null, "cerrada_at": null
    });
    let g = app
        .get(&format!("/api/v1/tasks/{task}"), Some(&sup.token))
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["nro_incidente"], nro.as_str());
    assert_eq!(g.body["incidente"], expected);
    // The list (hand-written writer) says the same.
    let l = app
        .get("/api/v1/tasks?es_emergencia=true", Some(&sup.token))
        .await;
    assert_eq!(l.body[0]["incidente"], expected, "{}", l.text);
    assert_eq!(l.body[0]["nro_incidente"], nro.as_str());

    // The dispatched officer (level 1) sees the incident but never the caller.
    let mut hidden = expected.clone();
    hidden["denunciante"] = Value::Null;
    let g = app
        .get(&format!("/api/v1/tasks/{task}"), Some(&offs[0].token))
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["incidente"], hidden);
    let l = app.get("/api/v1/tasks", Some(&offs[0].token)).await;
    assert_eq!(l.body[0]["incidente"], hidden, "{}", l.text);
    assert!(!l.text.contains("Ana Pérez"));

    // An explicit priority wins over the type's; a plain task has no incident.
    let r = raise(
        &app,
        &sup,
        json!({"tipo_incidente": "hurto", "prioridad": 5}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let g = app
        .get(
            &format!("/api/v1/tasks/{}", r.body["task_id"]),
            Some(&sup.token),
        )
        .await;
    assert_eq!(g.body["incidente"]["prioridad"], 5);
    let t = app.create_task(&sup, sup.id, json!({})).await;
    assert_eq!(t.body["nro_incidente"], Value::Null, "{}", t.text);
    assert_eq!(t.body["incidente"], Value::Null);
}

#[tokio::test]
async fn case_numbers_are_numbered_per_year_and_unique() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    officers(&app, 3).await;
    let year = chrono::Utc::now().format("%Y").to_string();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = raise(&app, &sup, json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let nro = r.body["nro_incidente"].as_str().unwrap().to_string();
        let (y, n) = nro.split_once('-').unwrap();
        assert_eq!(y, year);
        assert_eq!(n.len(), 6, "{nro}");
        assert!(n.bytes().all(|b| b.is_ascii_digit()), "{nro}");
        seen.push(n.parse::<i64>().unwrap());
    }
    let mut distinct = seen.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    // The database refuses a duplicate, whatever writes it.
    let dup = sqlx::query(
        "UPDATE tareas SET nro_incidente = (SELECT min(nro_incidente) FROM tareas)
         WHERE nro_incidente = (SELECT max(nro_incidente) FROM tareas)",
    )
    .execute(&app.pool)
    .await;
    assert!(dup.is_err());
}

#[tokio::test]
async fn a_type_needing_three_officers_dispatches_three_distinct_ones() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let offs = officers(&app, 5).await;
    new_type(
        &app,
        &admin,
        json!({"codigo": "tres", "nombre": "Tres", "prioridad": 4, "efectivos_requeridos": 3}),
    )
    .await;
    let r = raise(&app, &admin, json!({"tipo_incidente": "tres"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["faltantes"], 0);
    let ids = dispatched_ids(&r);
    let nearest: Vec<i64> = offs[..3].iter().map(|o| o.efectivo_id.unwrap()).collect();
    assert_eq!(ids, nearest, "the three nearest, nearest first");
    assert_eq!(r.body["assigned_efectivo_id"], nearest[0]);
    let refuerzo: Vec<bool> = r.body["despachados"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["refuerzo"].as_bool().unwrap())
        .collect();
    assert_eq!(refuerzo, vec![false, true, true]);
    let task = r.body["task_id"].as_i64().unwrap();
    // Three pending dispatches (one primary, two backups), three linked officers, all busy.
    let rows: Vec<(i64, bool, i32, String)> = sqlx::query_as(
        "SELECT efectivo_id, refuerzo, intento, estado FROM despachos WHERE tarea_id = $1 ORDER BY distancia_m",
    )
    .bind(task)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (nearest[0], false, 1, "PENDIENTE".to_string()),
            (nearest[1], true, 0, "PENDIENTE".to_string()),
            (nearest[2], true, 0, "PENDIENTE".to_string()),
        ]
    );
    for o in &offs[..3] {
        assert_eq!(unit(&app, o).await, "EN_TAREA");
    }
    assert_eq!(unit(&app, &offs[3]).await, "DISPONIBLE");
    let g = app
        .get(&format!("/api/v1/tasks/{task}"), Some(&admin.token))
        .await;
    assert_eq!(g.body["efectivos_asignados"], json!(nearest));
    // A backup officer answers like any backup: accepting puts them on the way.
    let a = app
        .post(
            &format!("/api/v1/tasks/{task}/ack"),
            Some(&offs[2].token),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(unit(&app, &offs[2]).await, "EN_CAMINO");
}

#[tokio::test]
async fn a_speciality_is_preferred_within_the_slack_and_not_beyond() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    new_type(
        &app,
        &admin,
        json!({"codigo": "esp", "nombre": "Con especialidad", "prioridad": 4,
               "especialidades": ["custodia"]}),
    )
    .await;
    // ≈ 111 m: the nearest, no speciality; ≈ 890 m: a specialist, within 1 000 m of it.
    let near = app.create_efectivo(Some((SITE.0 + STEP, SITE.1))).await;
    let spec = app
        .create_efectivo(Some((SITE.0 + 8.0 * STEP, SITE.1)))
        .await;
    set_especialidad(&app, &spec, "custodia").await;
    let r = raise(&app, &admin, json!({"tipo_incidente": "esp"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(dispatched_ids(&r), vec![spec.efectivo_id.unwrap()]);
    assert_eq!(unit(&app, &near).await, "DISPONIBLE");

    // Beyond the slack (≈ 1 220 m, 1 110 m farther than the nearest): the nearest goes.
    let far = app
        .create_efectivo(Some((SITE.0 + 11.0 * STEP, SITE.1)))
        .await;
    set_especialidad(&app, &far, "custodia").await;
    let r = raise(&app, &admin, json!({"tipo_incidente": "esp"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(dispatched_ids(&r), vec![near.efectivo_id.unwrap()]);
    assert_eq!(unit(&app, &far).await, "DISPONIBLE");
}

#[tokio::test]
async fn a_shortfall_is_reported_and_raised_as_an_alert_to_supervisors() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let offs = officers(&app, 2).await;
    new_type(
        &app,
        &admin,
        json!({"codigo": "tres", "nombre": "Tres", "prioridad": 5, "efectivos_requeridos": 3}),
    )
    .await;
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    let r = raise(&app, &admin, json!({"tipo_incidente": "tres"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["faltantes"], 1);
    assert_eq!(dispatched_ids(&r).len(), 2);
    for o in &offs {
        assert_eq!(unit(&app, o).await, "EN_TAREA");
    }
    let task = r.body["task_id"].as_i64().unwrap();
    let mut found = None;
    for _ in 0..10 {
        let Some(a) = ws.wait_for("alert", T).await else {
            break;
        };
        if a["data"]["faltantes"] == 1 {
            found = Some(a);
            break;
        }
    }
    let a = found.expect("a shortfall alert");
    assert_eq!(a["data"]["task_id"], task);
    assert_eq!(a["data"]["requeridos"], 3);
    assert_eq!(a["data"]["despachados"], 2);
    assert_eq!(a["data"]["tipo_incidente"], "tres");
    assert_eq!(a["data"]["nro_incidente"], r.body["nro_incidente"]);
}

#[tokio::test]
async fn unknown_type_and_unresolved_address_are_422_at_their_field() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    officers(&app, 1).await;
    let r = raise(&app, &sup, json!({"tipo_incidente": "no_existe"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "tipo_incidente"]));
    // Only an address, which no place matches.
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&sup.token),
            json!({"direccion": "Calle Inexistente 123"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "direccion"]));
    assert_eq!(r.body["errors"][0]["msg"], "no se encontró la dirección");
    for (body, at) in [
        (
            json!({"lat": 0, "lng": 0, "prioridad": 6}),
            json!(["body", "prioridad"]),
        ),
        (
            json!({"lat": 0, "lng": 0, "prioridad": 0}),
            json!(["body", "prioridad"]),
        ),
        (
            json!({"lat": 0, "lng": 0, "direccion": "x".repeat(201)}),
            json!(["body", "direccion"]),
        ),
        (
            json!({"lat": 0, "lng": 0, "referencia": "x".repeat(201)}),
            json!(["body", "referencia"]),
        ),
        (
            json!({"lat": 0, "lng": 0, "denunciante": {"nombre": "x".repeat(201)}}),
            json!(["body", "denunciante", "nombre"]),
        ),
        (
            json!({"lat": 0, "direccion": "Corrientes 1234"}),
            json!(["body", "lng"]),
        ),
        (json!({"descripcion": "sin lugar"}), json!(["body", "lat"])),
    ] {
        let r = app
            .post("/api/v1/tasks/emergency", Some(&sup.token), body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(loc(&r), at, "{body}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing dispatched");
}

#[tokio::test]
async fn an_emergency_is_not_finished_without_a_closing_code() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let offs = officers(&app, 1).await;
    let r = raise(&app, &sup, json!({})).await;
    let task = r.body["task_id"].as_i64().unwrap();
    let url = format!("/api/v1/tasks/{task}/status");
    let r = app
        .post(&url, Some(&sup.token), json!({"estado": "finalizada"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "codigo_cierre"]));
    let r = app
        .post(
            &url,
            Some(&sup.token),
            json!({"estado": "finalizada", "codigo_cierre": "cerrado"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(unit(&app, &offs[0]).await, "EN_TAREA");
    // Level 1 never closes an emergency.
    let r = app
        .post(
            &url,
            Some(&offs[0].token),
            json!({"estado": "finalizada", "codigo_cierre": "resuelto"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // With a code: the same as /cierre.
    let r = app
        .post(
            &url,
            Some(&sup.token),
            json!({"estado": "finalizada", "codigo_cierre": "falsa_alarma", "resumen": "nadie en el lugar"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "finalizada");
    assert_eq!(r.body["incidente"]["codigo_cierre"], "falsa_alarma");
    assert_eq!(r.body["incidente"]["resumen_cierre"], "nadie en el lugar");
    assert_eq!(unit(&app, &offs[0]).await, "DISPONIBLE");
    // A plain task finishes as before: a closing code sent with it is set aside.
    let t = app.create_task(&sup, sup.id, json!({})).await;
    let id = t.body["id"].as_i64().unwrap();
    let url = format!("/api/v1/tasks/{id}/status");
    app.post(&url, Some(&sup.token), json!({"estado": "en_curso"}))
        .await;
    let r = app
        .post(
            &url,
            Some(&sup.token),
            json!({"estado": "finalizada", "codigo_cierre": "resuelto"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["incidente"], Value::Null, "{}", r.text);
}

#[tokio::test]
async fn cierre_finishes_the_incident_releases_its_officers_and_closes_its_dispatches() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let offs = officers(&app, 3).await;
    let r = raise(&app, &sup, json!({"tipo_incidente": "robo"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(dispatched_ids(&r).len(), 2, "robo needs 2: {}", r.text);
    let task = r.body["task_id"].as_i64().unwrap();
    let a = app
        .post(
            &format!("/api/v1/tasks/{task}/ack"),
            Some(&offs[0].token),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let url = format!("/api/v1/tasks/{task}/cierre");
    let body = json!({"codigo_cierre": "detenidos", "resumen": "Dos personas detenidas"});
    // Level 1 may not; a bad code or a long summary is 422.
    let r = app.post(&url, Some(&offs[0].token), body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(&url, Some(&sup.token), json!({"codigo_cierre": "nope"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "codigo_cierre"]));
    let r = app
        .post(
            &url,
            Some(&sup.token),
            json!({"codigo_cierre": "resuelto", "resumen": "x".repeat(2001)}),
        )
        .await;
    assert_eq!(loc(&r), json!(["body", "resumen"]));

    let r = app.post(&url, Some(&sup.token), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "finalizada");
    assert_eq!(r.body["incidente"]["codigo_cierre"], "detenidos");
    assert_eq!(
        r.body["incidente"]["resumen_cierre"],
        "Dos personas detenidas"
    );
    assert!(
        r.body["incidente"]["cerrada_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    for o in &offs {
        assert_eq!(unit(&app, o).await, "DISPONIBLE");
    }
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM despachos WHERE tarea_id = $1 AND estado = 'PENDIENTE'",
    )
    .bind(task)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(pending, 0);
    let (evento, nota): (String, String) = sqlx::query_as(
        "SELECT evento, nota FROM historial_estados WHERE tarea_id = $1 AND evento = 'cierre'",
    )
    .bind(task)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (evento.as_str(), nota.as_str()),
        ("cierre", "Dos personas detenidas")
    );
    // The timeline ends with the closure, its code and its summary.
    let tl = app
        .get(&format!("/api/v1/tasks/{task}/timeline"), Some(&sup.token))
        .await;
    assert_eq!(tl.status, StatusCode::OK, "{}", tl.text);
    let last = tl.body["entradas"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["tipo"], "cierre", "{last}");
    assert_eq!(last["datos"]["codigo_cierre"], "detenidos");
    assert_eq!(last["datos"]["resumen"], "Dos personas detenidas");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'incident_closed' AND resource_id = $1",
    )
    .bind(task.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // Closed once: again is a refused transition; a plain task is not an incident.
    let r = app.post(&url, Some(&sup.token), body.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let t = app.create_task(&sup, sup.id, json!({})).await;
    let r = app
        .post(
            &format!("/api/v1/tasks/{}/cierre", t.body["id"]),
            Some(&sup.token),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
}

#[tokio::test]
async fn tipos_incidente_crud_with_levels_and_audit() {
    let app = TestApp::spawn().await;
    let l1 = app.create_efectivo(None).await;
    let sup = app.create_user(2).await;
    let admin = app.create_user(3).await;
    let r = app.get("/api/v1/tipos-incidente", Some(&l1.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let codes: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["codigo"].as_str().unwrap())
        .collect();
    for c in [
        "robo",
        "hurto",
        "violencia_genero",
        "accidente_transito",
        "disturbios",
        "persona_desaparecida",
        "incendio",
        "amenazas",
    ] {
        assert!(codes.contains(&c), "{c} seeded");
    }
    let body = json!({"codigo": "pelea", "nombre": "Pelea", "prioridad": 3,
                      "efectivos_requeridos": 2, "especialidades": ["custodia"],
                      "checkin_minutos": 20});
    for u in [&l1, &sup] {
        let r = app
            .post("/api/v1/tipos-incidente", Some(&u.token), body.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    let r = app
        .post("/api/v1/tipos-incidente", Some(&admin.token), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["efectivos_requeridos"], 2);
    assert_eq!(r.body["especialidades"], json!(["custodia"]));
    assert_eq!(r.body["checkin_minutos"], 20);
    let r = app
        .post("/api/v1/tipos-incidente", Some(&admin.token), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    for (bad, at) in [
        (
            json!({"codigo": "Mal Código", "nombre": "x", "prioridad": 3}),
            "codigo",
        ),
        (
            json!({"codigo": "ok", "nombre": "x", "prioridad": 6}),
            "prioridad",
        ),
        (
            json!({"codigo": "ok", "nombre": "x", "prioridad": 3, "efectivos_requeridos": 11}),
            "efectivos_requeridos",
        ),
        (
            json!({"codigo": "ok", "nombre": " ", "prioridad": 3}),
            "nombre",
        ),
    ] {
        let r = app
            .post("/api/v1/tipos-incidente", Some(&admin.token), bad)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(loc(&r), json!(["body", at]));
    }
    let put = json!({"nombre": "Riña", "prioridad": 4, "efectivos_requeridos": 3});
    let r = app
        .put(
            "/api/v1/tipos-incidente/pelea",
            Some(&sup.token),
            put.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .put(
            "/api/v1/tipos-incidente/pelea",
            Some(&admin.token),
            put.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["nombre"], "Riña");
    let r = app
        .get("/api/v1/tipos-incidente/pelea", Some(&l1.token))
        .await;
    assert_eq!(r.body["efectivos_requeridos"], 3);
    assert_eq!(r.body["especialidades"], json!([]));
    let r = app
        .put("/api/v1/tipos-incidente/no_hay", Some(&admin.token), put)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // The code is the path's: a body naming another one is a conflict, not a rename.
    let rename = json!({"codigo": "rina", "nombre": "Riña", "prioridad": 4});
    let r = app
        .put("/api/v1/tipos-incidente/pelea", Some(&admin.token), rename)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let same = json!({"codigo": "pelea", "nombre": "Riña", "prioridad": 4});
    let r = app
        .put("/api/v1/tipos-incidente/pelea", Some(&admin.token), same)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A type in use stays; an unused one goes.
    app.create_efectivo(Some((SITE.0 + STEP, SITE.1))).await;
    let r = raise(&app, &admin, json!({"tipo_incidente": "hurto"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .delete("/api/v1/tipos-incidente/hurto", Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .delete("/api/v1/tipos-incidente/pelea", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .delete("/api/v1/tipos-incidente/pelea", Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .get("/api/v1/tipos-incidente/pelea", Some(&l1.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM audit_logs WHERE resource_type = 'tipo_incidente' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![
            "incident_type_created",
            "incident_type_updated",
            "incident_type_updated",
            "incident_type_deleted"
        ]
    );
}

/// A typed incident's dispatch keeps the nearest-first index for both of its candidate sets
/// (the throughput of typed dispatch rests on it).
#[tokio::test]
async fn typed_dispatch_query_uses_the_partial_gist_index() {
    let app = TestApp::spawn().await;
    for i in 0..50 {
        app.create_efectivo(Some((SITE.0 + 0.001 * i as f64, SITE.1)))
            .await;
    }
    sqlx::query("ANALYZE efectivos")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN {}",
        gad_store::emergency::dispatch_sql(
            gad_store::nearest::Order::Index,
            true,
            gad_store::turnos::Duty::Libre
        )
    ))
    .bind(SITE.1)
    .bind(SITE.0)
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
    .bind(Some("robo"))
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
    assert_eq!(
        plan.matches("efectivos_disponibles_geom_gist").count(),
        2,
        "{plan}"
    );
    assert!(plan.contains("Order By"), "{plan}");
}

const DEMO_GAZETTEER: &str = include_str!("../../../../deploy/demo/lugares.geojson");

#[tokio::test]
async fn an_emergency_given_only_an_address_is_dispatched_at_the_geocoded_point() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    officers(&app, 1).await;
    let read = gad_service::lugares::import::leer_geojson(DEMO_GAZETTEER).unwrap();
    gad_service::lugares::importar(&app.state.ctx, &read.filas, false)
        .await
        .unwrap();
    // Spoken as the caller says it: a street and a house number of the demo city.
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&sup.token),
            json!({"direccion": "Corrientes 1200", "referencia": "frente al teatro"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["task_id"].as_i64().unwrap();
    let t = app
        .get(&format!("/api/v1/tasks/{id}"), Some(&sup.token))
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let (lat, lng) = (
        t.body["ubicacion_lat"].as_f64().unwrap(),
        t.body["ubicacion_lon"].as_f64().unwrap(),
    );
    // On Corrientes (the demo grid's fifth street), within the city block range.
    assert!((lat - SITE.0).abs() < 0.0005, "lat {lat}");
    assert!((lng - SITE.1).abs() < 0.02, "lng {lng}");
    assert_eq!(t.body["incidente"]["direccion"], "Corrientes 1200");
    // An address that names no place of the gazetteer is still refused at its field.
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&sup.token),
            json!({"direccion": "Pasaje Inexistente 99999"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "direccion"]));
}
