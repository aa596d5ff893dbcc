//! Tasks API: CRUD, scoping, the state machine over HTTP, history, assignment, concurrency.

use gad_testkit::{TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

async fn create(app: &TestApp, by: &TestUser, delegado: i64, extra: Value) -> Value {
    let r = app.create_task(by, delegado, extra).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn status(app: &TestApp, who: &TestUser, id: i64, estado: &str) -> gad_testkit::Resp {
    app.post(
        &format!("/api/v1/tasks/{id}/status"),
        Some(&who.token),
        json!({"estado": estado, "nota": format!("to {estado}")}),
    )
    .await
}

async fn count(app: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn create_is_201_with_location_and_the_contract_object() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let l1 = app.create_user(1).await;
    let ef = app.create_efectivo(Some((40.4, -3.7))).await;
    let other = app.create_user(3).await;
    let codigo = code("C");
    let r = app
        .post(
            "/api/v1/tasks",
            Some(&sup.token),
            json!({
                "codigo": codigo, "titulo": "Vigilancia puerto", "tipo": "vigilancia",
                "inicio_programado": "2026-12-01T10:00:00+02:00", "fin_programado": "2026-12-01T12:30:00Z",
                "delegado_usuario_id": l1.id, "descripcion": "turno de noche", "prioridad": 4,
                "efectivos_asignados": [ef.efectivo_id.unwrap(), ef.efectivo_id.unwrap()],
                "ubicacion_lat": 40.4168, "ubicacion_lon": -3.7038, "ubicacion_descripcion": "Sol",
                "notas": {"radio": "canal 3"},
                "creado_por_usuario_id": other.id, "estado": "finalizada"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = &r.body;
    let id = t["id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/tasks/{id}").as_str())
    );
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(t["uuid"].as_str().unwrap().len() == 36);
    assert_eq!(t["codigo"], json!(codigo));
    assert_eq!(t["titulo"], "Vigilancia puerto");
    assert_eq!(t["tipo"], "vigilancia");
    assert_eq!(t["prioridad"], 4);
    assert_eq!(t["estado"], "programada", "estado is server-set");
    assert_eq!(
        t["creado_por_usuario_id"],
        json!(sup.id),
        "creator is the caller"
    );
    assert_eq!(t["delegado_usuario_id"], json!(l1.id));
    assert_eq!(t["inicio_programado"], "2026-12-01T08:00:00.000Z");
    assert_eq!(t["fin_programado"], "2026-12-01T12:30:00.000Z");
    assert_eq!(t["inicio_real"], Value::Null);
    assert_eq!(t["fin_real"], Value::Null);
    assert_eq!(t["pausado_en"], Value::Null);
    assert_eq!(t["tiempo_pausado_segundos"], 0);
    assert_eq!(t["duracion_real_horas"], Value::Null);
    assert_eq!(t["efectivos_asignados"], json!([ef.efectivo_id.unwrap()]));
    assert_eq!(t["ubicacion_lat"], 40.4168);
    assert_eq!(t["ubicacion_lon"], -3.7038);
    assert_eq!(t["ubicacion_descripcion"], "Sol");
    assert_eq!(t["notas"], json!({"radio": "canal 3"}));
    assert!(t["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(t["updated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(t["deleted_at"], Value::Null);
    // Issue 14 added es_emergencia (false for a planned task).
    assert_eq!(t["es_emergencia"], false);
    // Incidents added nro_incidente and incidente (null for a planned task).
    assert_eq!(t["nro_incidente"], Value::Null);
    assert_eq!(t["incidente"], Value::Null);
    // Jurisdictions added zona_id and comisaria_id (null: no zones in this database).
    assert_eq!(t["zona_id"], Value::Null);
    assert_eq!(t["comisaria_id"], Value::Null);
    // Patrols kept in their cuadrante added cuadrante_id (null: none named).
    assert_eq!(t["cuadrante_id"], Value::Null);
    let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 31, "{keys:?}");

    // Stored as geography too; assignment mirrored in tarea_efectivos; initial history row; audit.
    let (lat, lon): (f64, f64) = sqlx::query_as(
        "SELECT ST_Y(geom::geometry), ST_X(geom::geometry) FROM tareas WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!((lat - 40.4168).abs() < 1e-9 && (lon + 3.7038).abs() < 1e-9);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tarea_efectivos WHERE tarea_id = $1",
            id
        )
        .await,
        1
    );
    let h = app
        .get(&format!("/api/v1/tasks/{id}/history"), Some(&sup.token))
        .await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.body.as_array().unwrap().len(), 1);
    assert_eq!(h.body[0]["estado_anterior"], Value::Null);
    assert_eq!(h.body[0]["estado_nuevo"], "programada");
    assert_eq!(h.body[0]["usuario_id"], json!(sup.id));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_logs WHERE event_type = 'task_created' AND resource_id = $1::text",
            id
        )
        .await,
        1
    );

    // Default prioridad is 2; trailing slash works for create as well.
    let r = app
        .post(
            "/api/v1/tasks/",
            Some(&sup.token),
            json!({"codigo": code("D"), "titulo": "x", "tipo": "patrullaje",
                   "inicio_programado": "2026-12-01T10:00:00Z", "delegado_usuario_id": l1.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["prioridad"], 2);
    assert_eq!(r.body["notas"], json!({}));
    assert_eq!(r.body["efectivos_asignados"], json!([]));
}

#[tokio::test]
async fn create_conflicts_references_and_validation() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let l1 = app.create_user(1).await;
    let ef = app.create_efectivo(None).await;
    let gone = app.create_efectivo(None).await;
    sqlx::query("UPDATE efectivos SET deleted_at = now() WHERE id = $1")
        .bind(gone.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let codigo = code("DUP");
    create(&app, &sup, l1.id, json!({"codigo": codigo})).await;
    let r = app
        .create_task(&sup, l1.id, json!({"codigo": codigo}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"detail": "codigo already exists", "field": "codigo"})
    );

    let r = app.create_task(&sup, 987_654, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["detail"], "Validation Error");
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "delegado_usuario_id"])
    );
    assert!(
        r.body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("987654")
    );

    let r = app
        .create_task(
            &sup,
            l1.id,
            json!({"efectivos_asignados": [ef.efectivo_id.unwrap(), gone.efectivo_id.unwrap(), 999_999]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let e = &r.body["errors"][0];
    assert_eq!(e["loc"], json!(["body", "efectivos_asignados"]));
    assert_eq!(e["input"], json!([gone.efectivo_id.unwrap(), 999_999]));
    let msg = e["msg"].as_str().unwrap();
    assert!(msg.contains(&gone.efectivo_id.unwrap().to_string()) && msg.contains("999999"));
    // Nothing was written by the refused creates.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);

    let r = app
        .create_task(
            &sup,
            l1.id,
            json!({"inicio_programado": "2026-12-01T10:00:00Z", "fin_programado": "2026-12-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "fin_programado"])
    );

    let r = app.create_task(&sup, l1.id, json!({"tipo": "volar"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = &r.body["errors"][0];
    assert_eq!(e["type"], "enum");
    assert_eq!(e["loc"], json!(["body", "tipo"]));
    for v in ["'patrullaje'", "'investigacion'", "'entrenamiento'"] {
        assert!(e["msg"].as_str().unwrap().contains(v), "{e}");
    }
    let r = app.create_task(&sup, l1.id, json!({"prioridad": 9})).await;
    assert_eq!(r.body["errors"][0]["type"], "enum");
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "prioridad"]));
    assert!(
        r.body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("1, 2, 3, 4, 5")
    );

    let r = app
        .create_task(
            &sup,
            l1.id,
            json!({"ubicacion_lat": 91.0, "ubicacion_lon": 10.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "ubicacion_lat"]));
    let r = app
        .create_task(
            &sup,
            l1.id,
            json!({"ubicacion_lon": 181.0, "ubicacion_lat": 0.0}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "ubicacion_lon"]));
    let r = app.create_task(&sup, l1.id, json!({"codigo": ""})).await;
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "codigo"]));
    let r = app
        .create_task(&sup, l1.id, json!({"codigo": "x".repeat(51)}))
        .await;
    assert_eq!(r.body["errors"][0]["type"], "string_too_long");
    let r = app
        .post("/api/v1/tasks", Some(&sup.token), json!({"titulo": "t"}))
        .await;
    assert_eq!(r.body["errors"][0]["type"], "missing");

    // Levels: level 1 may not create; no token → 401 (auth before validation).
    let r = app.create_task(&l1, l1.id, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "The user doesn't have enough privileges"})
    );
    let r = app.post("/api/v1/tasks", None, json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"detail": "Not authenticated"}));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn unauthenticated_requests_are_401_on_every_task_route() {
    let app = TestApp::spawn().await;
    for (m, p) in [
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/tasks/"),
        ("GET", "/api/v1/tasks/1"),
        ("GET", "/api/v1/tasks/by-code/X"),
        ("PUT", "/api/v1/tasks/1"),
        ("POST", "/api/v1/tasks/1/status"),
        ("GET", "/api/v1/tasks/1/history"),
        ("DELETE", "/api/v1/tasks/1"),
    ] {
        let r = app
            .request(
                m.parse().unwrap(),
                p,
                None,
                Some(json!({"estado": "en_curso"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {p}");
        assert_eq!(r.body["detail"], "Not authenticated");
        let r = app
            .request(m.parse().unwrap(), p, Some("not-a-jwt"), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {p}");
        assert_eq!(r.body["detail"], "Could not validate credentials");
    }
}

#[tokio::test]
async fn list_is_scoped_filtered_paginated_and_stable() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let a = app.create_efectivo(None).await;
    let b = app.create_efectivo(None).await;
    let c = app.create_user(1).await;
    let ta = create(
        &app,
        &sup,
        a.id,
        json!({"titulo": "Alfa ronda", "tipo": "patrullaje", "prioridad": 1,
        "inicio_programado": "2026-12-01T08:00:00Z"}),
    )
    .await;
    let tb = create(&app, &sup, c.id, json!({"titulo": "Bravo", "tipo": "investigacion", "prioridad": 5,
        "efectivos_asignados": [b.efectivo_id.unwrap()], "inicio_programado": "2026-12-05T08:00:00Z"}))
    .await;
    let tc = create(
        &app,
        &sup,
        c.id,
        json!({"titulo": "Charlie", "tipo": "investigacion", "prioridad": 5,
        "inicio_programado": "2026-12-10T08:00:00Z"}),
    )
    .await;
    let ids = |r: &gad_testkit::Resp| -> Vec<i64> {
        r.body
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.text))
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let id = |t: &Value| t["id"].as_i64().unwrap();

    // Level 1: only own (delegado) or assigned (efectivo).
    let r = app.get("/api/v1/tasks", Some(&a.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(ids(&r), vec![id(&ta)]);
    assert_eq!(
        ids(&app.get("/api/v1/tasks/", Some(&b.token)).await),
        vec![id(&tb)]
    );
    assert_eq!(
        ids(&app.get("/api/v1/tasks", Some(&c.token)).await),
        vec![id(&tc), id(&tb)]
    );
    // A level-1 user filtering by someone else's delegado gets nothing.
    let r = app
        .get(
            &format!("/api/v1/tasks?delegado_usuario_id={}", c.id),
            Some(&a.token),
        )
        .await;
    assert_eq!(ids(&r), Vec::<i64>::new());

    // Level 2: all, newest first.
    let all = ids(&app.get("/api/v1/tasks", Some(&sup.token)).await);
    assert_eq!(all, vec![id(&tc), id(&tb), id(&ta)]);
    let get = |q: &str| {
        let path = format!("/api/v1/tasks?{q}");
        let token = sup.token.clone();
        let app = &app;
        async move { app.get(&path, Some(&token)).await }
    };
    assert_eq!(
        ids(&get("tipo=investigacion").await),
        vec![id(&tc), id(&tb)]
    );
    assert_eq!(ids(&get("prioridad=1").await), vec![id(&ta)]);
    assert_eq!(
        ids(&get("estado=programada&limit=2").await),
        vec![id(&tc), id(&tb)]
    );
    assert_eq!(ids(&get("skip=2").await), vec![id(&ta)]);
    assert_eq!(ids(&get("skip=1&limit=1").await), vec![id(&tb)]);
    assert_eq!(
        ids(&get(&format!("delegado_usuario_id={}", c.id)).await),
        vec![id(&tc), id(&tb)]
    );
    assert_eq!(
        ids(&get("desde=2026-12-02T00:00:00Z&hasta=2026-12-06T00:00:00Z").await),
        vec![id(&tb)]
    );
    assert_eq!(ids(&get("q=ALFA").await), vec![id(&ta)]);
    let code_b = tb["codigo"].as_str().unwrap().to_lowercase();
    assert_eq!(ids(&get(&format!("q={code_b}")).await), vec![id(&tb)]);
    assert_eq!(
        ids(&get("q=%25").await),
        Vec::<i64>::new(),
        "LIKE wildcards are literal"
    );
    assert_eq!(ids(&get("estado=en_curso").await), Vec::<i64>::new());

    // Bad query values → 422 with loc query.
    let r = get("estado=volando").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "estado"]));
    assert_eq!(r.body["errors"][0]["type"], "enum");
    assert!(
        r.body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("'en_curso'")
    );
    let r = get("prioridad=7").await;
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "prioridad"]));
    for q in ["limit=0", "limit=501", "skip=-1"] {
        assert_eq!(get(q).await.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
    assert_eq!(get("limit=500").await.status, StatusCode::OK);

    // Deleted tasks disappear from lists.
    let admin = app.create_user(3).await;
    let r = app
        .delete(&format!("/api/v1/tasks/{}", id(&tb)), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(ids(&get("").await), vec![id(&tc), id(&ta)]);
    assert_eq!(
        ids(&app.get("/api/v1/tasks", Some(&b.token)).await),
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn get_by_id_and_code_are_scoped() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let mine = app.create_efectivo(None).await;
    let other = app.create_efectivo(None).await;
    let t = create(
        &app,
        &sup,
        sup.id,
        json!({"efectivos_asignados": [mine.efectivo_id.unwrap()]}),
    )
    .await;
    let id = t["id"].as_i64().unwrap();
    let codigo = t["codigo"].as_str().unwrap();
    let nf = json!({"detail": "The task with this id does not exist in the system"});

    for who in [&sup, &mine] {
        let r = app
            .get(&format!("/api/v1/tasks/{id}"), Some(&who.token))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, t);
        let r = app
            .get(&format!("/api/v1/tasks/by-code/{codigo}"), Some(&who.token))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["id"], json!(id));
    }
    for path in [
        format!("/api/v1/tasks/{id}"),
        format!("/api/v1/tasks/by-code/{codigo}"),
        format!("/api/v1/tasks/{id}/history"),
    ] {
        let r = app.get(&path, Some(&other.token)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body, nf);
    }
    let r = app.get("/api/v1/tasks/999999", Some(&sup.token)).await;
    assert_eq!(r.body, nf);
    let r = app
        .get("/api/v1/tasks/by-code/NOPE", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/api/v1/tasks/abc", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"][0], "path");
}

#[tokio::test]
async fn partial_update_changes_only_the_sent_fields() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let l1 = app.create_user(1).await;
    let e1 = app.create_efectivo(None).await;
    let e2 = app.create_efectivo(None).await;
    let t = create(&app, &sup, l1.id, json!({
        "descripcion": "original", "prioridad": 3, "fin_programado": "2026-12-01T12:00:00Z",
        "efectivos_asignados": [e1.efectivo_id.unwrap()], "ubicacion_lat": 1.5, "ubicacion_lon": 2.5,
        "ubicacion_descripcion": "aquí", "notas": {"a": 1}
    }))
    .await;
    let id = t["id"].as_i64().unwrap();
    let path = format!("/api/v1/tasks/{id}");

    let r = app
        .put(&path, Some(&sup.token), json!({"titulo": "Nuevo título"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut expected = t.clone();
    expected["titulo"] = json!("Nuevo título");
    expected["updated_at"] = r.body["updated_at"].clone();
    assert_eq!(r.body, expected, "only titulo changed");

    // null clears a nullable field; absent leaves it.
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"descripcion": null, "prioridad": 5, "tipo": "vigilancia"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["descripcion"], Value::Null);
    assert_eq!(r.body["prioridad"], 5);
    assert_eq!(r.body["tipo"], "vigilancia");
    assert_eq!(r.body["titulo"], "Nuevo título");
    assert_eq!(r.body["ubicacion_descripcion"], "aquí");
    assert_eq!(r.body["fin_programado"], "2026-12-01T12:00:00.000Z");

    // Reassignment keeps tarea_efectivos in sync.
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"efectivos_asignados": [e2.efectivo_id.unwrap()]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["efectivos_asignados"],
        json!([e2.efectivo_id.unwrap()])
    );
    let assigned: Vec<i64> = sqlx::query_scalar(
        "SELECT efectivo_id FROM tarea_efectivos WHERE tarea_id = $1 ORDER BY 1",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(assigned, vec![e2.efectivo_id.unwrap()]);
    // e1 lost sight of it, e2 gained it.
    assert_eq!(
        app.get(&path, Some(&e1.token)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&path, Some(&e2.token)).await.status, StatusCode::OK);

    // Location: both together, stored as geography; null pair clears.
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"ubicacion_lat": -33.45, "ubicacion_lon": -70.66}),
        )
        .await;
    assert_eq!(r.body["ubicacion_lat"], -33.45);
    let lat: f64 = sqlx::query_scalar("SELECT ST_Y(geom::geometry) FROM tareas WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!((lat + 33.45).abs() < 1e-9);
    let r = app
        .put(&path, Some(&sup.token), json!({"ubicacion_lat": 3.0}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"ubicacion_lat": null, "ubicacion_lon": null}),
        )
        .await;
    assert_eq!(r.body["ubicacion_lat"], Value::Null);
    let has_geom: bool = sqlx::query_scalar("SELECT geom IS NOT NULL FROM tareas WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!has_geom);

    // Merged-row rules: fin must stay after inicio; unknown refs → 422; duplicate codigo → 409.
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"inicio_programado": "2026-12-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "fin_programado"])
    );
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"delegado_usuario_id": 424242}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "delegado_usuario_id"])
    );
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"efectivos_asignados": [424242]}),
        )
        .await;
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "efectivos_asignados"])
    );
    let r = app
        .put(&path, Some(&sup.token), json!({"tipo": "nadar"}))
        .await;
    assert_eq!(r.body["errors"][0]["type"], "enum");
    let other = create(&app, &sup, l1.id, json!({})).await;
    let r = app
        .put(&path, Some(&sup.token), json!({"codigo": other["codigo"]}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"detail": "codigo already exists", "field": "codigo"})
    );

    // Nothing of the refused updates leaked.
    let now = app.get(&path, Some(&sup.token)).await.body;
    assert_eq!(now["codigo"], t["codigo"]);
    assert_eq!(now["delegado_usuario_id"], json!(l1.id));
    assert_eq!(now["inicio_programado"], t["inicio_programado"]);
    let audits = count(
        &app,
        "SELECT count(*) FROM audit_logs WHERE event_type = 'task_updated' AND resource_id = $1::text",
        id,
    )
    .await;
    assert_eq!(audits, 5);
    let r = app
        .put(
            "/api/v1/tasks/999999",
            Some(&sup.token),
            json!({"titulo": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn level1_may_only_move_its_own_tasks() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let me = app.create_efectivo(None).await;
    let stranger = app.create_efectivo(None).await;
    let mine = create(&app, &sup, me.id, json!({})).await;
    let theirs = create(&app, &sup, stranger.id, json!({})).await;
    let mine_path = format!("/api/v1/tasks/{}", mine["id"]);
    let theirs_path = format!("/api/v1/tasks/{}", theirs["id"]);

    // Other fields → 403 even on own tasks.
    let r = app
        .put(&mine_path, Some(&me.token), json!({"titulo": "hack"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "The user doesn't have enough privileges"})
    );
    let r = app
        .put(
            &mine_path,
            Some(&me.token),
            json!({"estado": "en_curso", "prioridad": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // estado on own task → 200 through the state machine.
    let r = app
        .put(&mine_path, Some(&me.token), json!({"estado": "en_curso"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "en_curso");
    assert!(r.body["inicio_real"].is_string());
    let r = status(&app, &me, mine["id"].as_i64().unwrap(), "pausada").await;
    assert_eq!(r.status, StatusCode::OK);

    // Someone else's task: never 200, never changed.
    let r = app
        .put(&theirs_path, Some(&me.token), json!({"estado": "en_curso"}))
        .await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{}",
        r.status
    );
    let r = status(&app, &me, theirs["id"].as_i64().unwrap(), "en_curso").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["detail"],
        "The task with this id does not exist in the system"
    );
    let r = app
        .put(&theirs_path, Some(&me.token), json!({"titulo": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.delete(&theirs_path, Some(&me.token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let still = app.get(&theirs_path, Some(&sup.token)).await.body;
    assert_eq!(still["estado"], "programada");
    assert_eq!(still["titulo"], theirs["titulo"]);
}

#[tokio::test]
async fn state_machine_times_history_and_409s() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let l1 = app.create_user(1).await;
    let t = create(&app, &sup, l1.id, json!({})).await;
    let id = t["id"].as_i64().unwrap();

    let r = status(&app, &sup, id, "finalizada").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"detail": "Invalid transition from programada to finalizada", "allowed": ["en_curso", "cancelada"]})
    );
    let r = status(&app, &sup, id, "programada").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .post(
            &format!("/api/v1/tasks/{id}/status"),
            Some(&sup.token),
            json!({"estado": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("'pausada'")
    );

    let r = status(&app, &l1, id, "en_curso").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let inicio = r.body["inicio_real"].as_str().unwrap().to_string();
    assert!(inicio.ends_with('Z'));
    let r = status(&app, &l1, id, "pausada").await;
    assert!(r.body["pausado_en"].is_string());
    assert_eq!(r.body["estado"], "pausada");
    // Pretend the pause started 90 minutes ago and the work 3 hours ago.
    sqlx::query(
        "UPDATE tareas SET pausado_en = now() - interval '90 minutes', inicio_real = now() - interval '3 hours' WHERE id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let r = status(&app, &l1, id, "en_curso").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["pausado_en"], Value::Null);
    let paused = r.body["tiempo_pausado_segundos"].as_i64().unwrap();
    assert!((5399..=5410).contains(&paused), "{paused}");
    // PUT estado follows the same machine.
    let r = app
        .put(
            &format!("/api/v1/tasks/{id}"),
            Some(&sup.token),
            json!({"estado": "programada"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["allowed"],
        json!(["pausada", "finalizada", "cancelada"])
    );
    let r = app
        .put(
            &format!("/api/v1/tasks/{id}"),
            Some(&sup.token),
            json!({"estado": "finalizada", "nota": "hecho"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "finalizada");
    assert!(r.body["fin_real"].is_string());
    let horas = r.body["duracion_real_horas"].as_f64().unwrap();
    assert!(
        (horas - 1.5).abs() < 0.01,
        "3 h elapsed − 1.5 h paused, got {horas}"
    );
    let r = status(&app, &sup, id, "cancelada").await;
    assert_eq!(
        r.body,
        json!({"detail": "Invalid transition from finalizada to cancelada", "allowed": []})
    );

    let h = app
        .get(&format!("/api/v1/tasks/{id}/history"), Some(&l1.token))
        .await;
    assert_eq!(h.status, StatusCode::OK);
    let rows = h.body.as_array().unwrap();
    let path: Vec<(Value, Value)> = rows
        .iter()
        .map(|r| (r["estado_anterior"].clone(), r["estado_nuevo"].clone()))
        .collect();
    assert_eq!(
        path,
        vec![
            (Value::Null, json!("programada")),
            (json!("programada"), json!("en_curso")),
            (json!("en_curso"), json!("pausada")),
            (json!("pausada"), json!("en_curso")),
            (json!("en_curso"), json!("finalizada")),
        ]
    );
    assert_eq!(rows[1]["usuario_id"], json!(l1.id));
    assert_eq!(rows[1]["nota"], "to en_curso");
    assert_eq!(rows[4]["usuario_id"], json!(sup.id));
    assert_eq!(rows[4]["nota"], "hecho");
    for r in rows {
        assert!(r["id"].is_i64() && r["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let audits = count(
        &app,
        "SELECT count(*) FROM audit_logs WHERE event_type = 'task_status_changed' AND resource_id = $1::text",
        id,
    )
    .await;
    assert_eq!(audits, 4);
}

#[tokio::test]
async fn finishing_or_cancelling_returns_busy_efectivos_to_disponible() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let busy = app.create_efectivo(None).await;
    let off = app.create_efectivo(None).await;
    let (b, o) = (busy.efectivo_id.unwrap(), off.efectivo_id.unwrap());
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'EN_TAREA', ultima_actualizacion_estado = now() - interval '1 hour' WHERE id = $1")
        .bind(b)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'FUERA_SERVICIO' WHERE id = $1")
        .bind(o)
        .execute(&app.pool)
        .await
        .unwrap();
    let t = create(&app, &sup, sup.id, json!({"efectivos_asignados": [b, o]})).await;
    let id = t["id"].as_i64().unwrap();
    assert_eq!(
        status(&app, &busy, id, "en_curso").await.status,
        StatusCode::OK
    );
    let state = |e: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (String, bool)>(
                "SELECT estado_disponibilidad::text, ultima_actualizacion_estado > now() - interval '1 minute' FROM efectivos WHERE id = $1",
            )
            .bind(e)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        state(b).await.0,
        "EN_TAREA",
        "pausing/starting does not release"
    );
    assert_eq!(
        status(&app, &busy, id, "finalizada").await.status,
        StatusCode::OK
    );
    assert_eq!(state(b).await, ("DISPONIBLE".to_string(), true));
    assert_eq!(
        state(o).await.0,
        "FUERA_SERVICIO",
        "only en_tarea officers are released"
    );

    // Cancelling does the same.
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'EN_TAREA' WHERE id = $1")
        .bind(b)
        .execute(&app.pool)
        .await
        .unwrap();
    let t2 = create(&app, &sup, sup.id, json!({"efectivos_asignados": [b]})).await;
    let r = status(&app, &sup, t2["id"].as_i64().unwrap(), "cancelada").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["fin_real"], Value::Null, "never started");
    assert_eq!(state(b).await.0, "DISPONIBLE");
}

#[tokio::test]
async fn concurrent_status_changes_never_lose_history_or_reach_an_illegal_state() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let t = create(&app, &sup, sup.id, json!({})).await;
    let id = t["id"].as_i64().unwrap();
    assert_eq!(
        status(&app, &sup, id, "en_curso").await.status,
        StatusCode::OK
    );

    let mut handles = Vec::new();
    for i in 0..16 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/tasks/{id}/status"));
        let token = sup.token.clone();
        let estado = if i % 2 == 0 { "pausada" } else { "en_curso" };
        handles.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"estado": estado, "nota": format!("req {i}")}))
                .send()
                .await
                .unwrap();
            let s = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (s, body)
        }));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for h in handles {
        let (s, body) = h.await.unwrap();
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {
                conflicts += 1;
                assert!(
                    body["detail"]
                        .as_str()
                        .unwrap()
                        .starts_with("Invalid transition")
                );
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok + conflicts, 16);
    assert!(ok >= 1);

    let h = app
        .get(&format!("/api/v1/tasks/{id}/history"), Some(&sup.token))
        .await;
    let rows = h.body.as_array().unwrap();
    assert_eq!(
        rows.len(),
        ok + 2,
        "creation + first start + one row per 200"
    );
    // The history is one unbroken chain of legal edges ending in the task's state.
    for w in rows.windows(2) {
        assert_eq!(w[1]["estado_anterior"], w[0]["estado_nuevo"], "{w:?}");
        let from =
            gad_core::EstadoTarea::from_wire(w[1]["estado_anterior"].as_str().unwrap()).unwrap();
        let to = gad_core::EstadoTarea::from_wire(w[1]["estado_nuevo"].as_str().unwrap()).unwrap();
        assert!(gad_core::state_machine::allowed_targets(from).contains(&to));
    }
    let now = app
        .get(&format!("/api/v1/tasks/{id}"), Some(&sup.token))
        .await
        .body;
    assert_eq!(now["estado"], rows.last().unwrap()["estado_nuevo"]);
    assert_eq!(now["pausado_en"].is_string(), now["estado"] == "pausada");
    assert!(now["tiempo_pausado_segundos"].as_i64().unwrap() >= 0);
}

#[tokio::test]
async fn delete_is_level3_soft_and_returns_the_task() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let admin = app.create_user(3).await;
    let t = create(&app, &sup, sup.id, json!({})).await;
    let id = t["id"].as_i64().unwrap();
    let path = format!("/api/v1/tasks/{id}");
    let r = app.delete(&path, Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.delete(&path, Some(&admin.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], json!(id));
    assert!(r.body["deleted_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.get(&path, Some(&admin.token)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&path, Some(&admin.token)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.put(&path, Some(&admin.token), json!({"titulo": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(&app, &admin, id, "en_curso").await.status,
        StatusCode::NOT_FOUND
    );
    // Still in the table (soft), with an audit row.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM tareas WHERE id = $1 AND deleted_at IS NOT NULL",
            id
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_logs WHERE event_type = 'task_deleted' AND resource_id = $1::text",
            id
        )
        .await,
        1
    );
    // The codigo stays taken (unique constraint on the table).
    let r = app
        .create_task(&sup, sup.id, json!({"codigo": t["codigo"]}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

/// The task code is read as a `Codigo`: stored trimmed, refused with the length rule's 422
/// (echoing the trimmed text), listed with the other fields' errors; a body that fails to read
/// for another reason answers that error alone.
#[tokio::test]
async fn codigo_is_read_as_a_task_code() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let l1 = app.create_user(1).await;

    let r = app
        .create_task(&sup, l1.id, json!({"codigo": " \t CODE-trim-1 "}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["codigo"], "CODE-trim-1");
    let id = r.body["id"].as_i64().unwrap();

    let r = app.create_task(&sup, l1.id, json!({"codigo": "   "})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body,
        json!({"detail": "Validation Error", "errors": [{
            "type": "string_too_short", "loc": ["body", "codigo"],
            "msg": "String should have at least 1 character", "input": ""}]})
    );
    let long = "x".repeat(51);
    let r = app
        .create_task(&sup, l1.id, json!({"codigo": format!("  {long} ")}))
        .await;
    assert_eq!(
        r.body["errors"],
        json!([{"type": "string_too_long", "loc": ["body", "codigo"],
                "msg": "String should have at most 50 characters", "input": long}])
    );
    let r = app.create_task(&sup, l1.id, json!({"codigo": 7})).await;
    assert_eq!(r.body["errors"][0]["type"], "type_error");
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "codigo"]));

    // Every field's error, the code's first.
    let r = app
        .create_task(&sup, l1.id, json!({"codigo": "", "titulo": " "}))
        .await;
    let locs: Vec<&Value> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["loc"])
        .collect();
    assert_eq!(
        locs,
        vec![&json!(["body", "codigo"]), &json!(["body", "titulo"])]
    );
    // A value serde cannot read at all is answered alone.
    let r = app
        .create_task(&sup, l1.id, json!({"codigo": "", "prioridad": 9}))
        .await;
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "prioridad"]));

    // Update: the same rule, and the new code is stored trimmed.
    let path = format!("/api/v1/tasks/{id}");
    let r = app
        .put(&path, Some(&sup.token), json!({"codigo": ""}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"],
        json!([{"type": "string_too_short", "loc": ["body", "codigo"],
                "msg": "String should have at least 1 character", "input": ""}])
    );
    let r = app
        .put(
            &path,
            Some(&sup.token),
            json!({"codigo": "x".repeat(51), "nota": "n".repeat(2001)}),
        )
        .await;
    let kinds: Vec<&Value> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["type"])
        .collect();
    assert_eq!(
        kinds,
        vec![&json!("string_too_long"), &json!("string_too_long")]
    );
    assert_eq!(r.body["errors"][1]["loc"], json!(["body", "nota"]));
    let r = app
        .put(&path, Some(&sup.token), json!({"codigo": " CODE-trim-2 "}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["codigo"], "CODE-trim-2");
    let r = app
        .get("/api/v1/tasks/by-code/CODE-trim-2", Some(&sup.token))
        .await;
    assert_eq!(r.body["id"], id);

    // What is stored is what was measured: a byte order mark around the code is trimmed like
    // any white space (the length rule already ignored it).
    let r = app
        .create_task(
            &sup,
            l1.id,
            json!({"codigo": "\u{feff}CODE-trim-3\u{feff}"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["codigo"], "CODE-trim-3");
}

#[tokio::test]
async fn a_closing_code_outside_an_emergency_closure_is_set_aside() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let l1 = app.create_user(1).await;
    let t = create(&app, &sup, l1.id, json!({})).await;
    let id = t["id"].as_i64().unwrap();
    let url = format!("/api/v1/tasks/{id}/status");
    for estado in ["en_curso", "finalizada"] {
        let r = app
            .post(
                &url,
                Some(&sup.token),
                json!({"estado": estado, "codigo_cierre": "resuelto", "resumen": "sin novedad"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{estado}: {}", r.text);
        assert_eq!(r.body["estado"], estado);
    }
    let closures = count(
        &app,
        "SELECT count(*) FROM historial_estados WHERE tarea_id = $1 AND evento = 'cierre'",
        id,
    )
    .await;
    assert_eq!(closures, 0, "a plain task has no incident closure");
}
