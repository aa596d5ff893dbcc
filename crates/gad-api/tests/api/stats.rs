//! Stats API: per-user statistics with cache + invalidation, overview.

use gad_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn stats(app: &TestApp, token: &str, user: i64, q: &str) -> gad_testkit::Resp {
    app.get(&format!("/api/v1/stats/user/{user}{q}"), Some(token))
        .await
}

#[tokio::test]
async fn user_stats_count_cache_and_invalidate_on_task_writes() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let me = app.create_user(1).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let r = app.create_task(&sup, me.id, json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    // Another user's task does not count.
    app.create_task(&sup, sup.id, json!({})).await;
    // One finished (2 h of work), one in progress, one cancelled, one programmed.
    for (id, to) in [
        (ids[0], "en_curso"),
        (ids[1], "en_curso"),
        (ids[2], "cancelada"),
    ] {
        let r = app
            .post(
                &format!("/api/v1/tasks/{id}/status"),
                Some(&me.token),
                json!({"estado": to}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    sqlx::query("UPDATE tareas SET inicio_real = now() - interval '2 hours' WHERE id = $1")
        .bind(ids[0])
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app
        .post(
            &format!("/api/v1/tasks/{}/status", ids[0]),
            Some(&me.token),
            json!({"estado": "finalizada"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let r = stats(&app, &me.token, me.id, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let b = &r.body;
    assert_eq!(b["user_id"], json!(me.id));
    assert_eq!(b["period_days"], 30);
    assert_eq!(b["total"], 4);
    assert_eq!(b["completadas"], 1);
    assert_eq!(b["en_progreso"], 1);
    assert_eq!(b["programadas"], 1);
    assert_eq!(b["canceladas"], 1);
    assert_eq!(b["pausadas"], 0);
    assert!((b["promedio_duracion_horas"].as_f64().unwrap() - 2.0).abs() < 0.02);
    assert_eq!(b["productividad_diaria"], json!(0.03));
    assert_eq!(
        b["estados"],
        json!({"COMPLETED": 1, "IN_PROGRESS": 1, "PROGRAMMED": 1, "CANCELLED": 1, "PAUSED": 0})
    );
    assert!(b["calculated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(b["_cache"], json!({"hit": false, "source": "database"}));

    // Second call is a cache hit with the key; same numbers.
    let r2 = stats(&app, &me.token, me.id, "").await;
    assert_eq!(
        r2.body["_cache"],
        json!({"hit": true, "source": "memory", "key": format!("stats:user:{}:days:30", me.id)})
    );
    assert_eq!(r2.body["calculated_at"], b["calculated_at"]);
    assert_eq!(r2.body["total"], 4);
    // use_cache=false recomputes.
    let r3 = stats(&app, &me.token, me.id, "?use_cache=false").await;
    assert_eq!(r3.body["_cache"]["hit"], false);
    // Another period has its own key.
    let r4 = stats(&app, &me.token, me.id, "?days=7").await;
    assert_eq!(r4.body["_cache"]["hit"], false);
    assert_eq!(r4.body["period_days"], 7);
    assert_eq!(
        stats(&app, &me.token, me.id, "?days=7").await.body["_cache"]["hit"],
        true
    );

    // Any task write touching the user invalidates: a status change…
    let r = app
        .post(
            &format!("/api/v1/tasks/{}/status", ids[1]),
            Some(&me.token),
            json!({"estado": "pausada"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = stats(&app, &me.token, me.id, "").await;
    assert_eq!(r.body["_cache"]["hit"], false);
    assert_eq!(r.body["pausadas"], 1);
    assert_eq!(
        stats(&app, &me.token, me.id, "?days=7").await.body["_cache"]["hit"],
        false
    );
    // …a new task delegated to them…
    assert_eq!(
        stats(&app, &me.token, me.id, "").await.body["_cache"]["hit"],
        true
    );
    app.create_task(&sup, me.id, json!({})).await;
    let r = stats(&app, &me.token, me.id, "").await;
    assert_eq!(r.body["_cache"]["hit"], false);
    assert_eq!(r.body["total"], 5);
    // …an update, and a delete.
    assert_eq!(
        stats(&app, &me.token, me.id, "").await.body["_cache"]["hit"],
        true
    );
    let r = app
        .put(
            &format!("/api/v1/tasks/{}", ids[3]),
            Some(&sup.token),
            json!({"delegado_usuario_id": sup.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = stats(&app, &me.token, me.id, "").await;
    assert_eq!(
        (r.body["_cache"]["hit"].clone(), r.body["total"].clone()),
        (json!(false), json!(4))
    );
    let admin = app.create_user(3).await;
    stats(&app, &me.token, me.id, "").await;
    app.delete(&format!("/api/v1/tasks/{}", ids[2]), Some(&admin.token))
        .await;
    let r = stats(&app, &me.token, me.id, "").await;
    assert_eq!(
        (r.body["_cache"]["hit"].clone(), r.body["total"].clone()),
        (json!(false), json!(3))
    );

    // Query validation.
    for q in ["?days=0", "?days=366", "?days=x", "?use_cache=maybe"] {
        let r = stats(&app, &me.token, me.id, q).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(r.body["errors"][0]["loc"][0], "query");
    }
    assert_eq!(
        stats(&app, &me.token, me.id, "?days=365").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn user_stats_permissions() {
    let app = TestApp::spawn().await;
    let a = app.create_user(1).await;
    let b = app.create_user(1).await;
    let sup = app.create_user(2).await;
    let r = stats(&app, &a.token, b.id, "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "No tienes permiso para ver estadísticas de otro usuario"})
    );
    let r = app
        .post(
            &format!("/api/v1/stats/invalidate/user/{}", b.id),
            Some(&a.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = stats(&app, &sup.token, b.id, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["total"], 0);
    assert_eq!(r.body["promedio_duracion_horas"], 0.0);
    let r = stats(&app, &sup.token, 987_654, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get(&format!("/api/v1/stats/user/{}", a.id), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/stats/overview", Some(&a.token))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/v1/stats/overview", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn invalidate_endpoint_reports_deleted_keys() {
    let app = TestApp::spawn().await;
    let me = app.create_user(1).await;
    let sup = app.create_user(2).await;
    stats(&app, &me.token, me.id, "").await;
    stats(&app, &me.token, me.id, "?days=7").await;
    stats(&app, &sup.token, sup.id, "").await;
    let path = format!("/api/v1/stats/invalidate/user/{}", me.id);
    let r = app.post(&path, Some(&me.token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body,
        json!({
            "message": format!("Estadísticas del usuario {} invalidadas", me.id),
            "deleted_keys": 2,
            "pattern": format!("stats:user:{}:*", me.id),
        })
    );
    assert_eq!(
        app.post(&path, Some(&sup.token), json!({})).await.body["deleted_keys"],
        0
    );
    assert_eq!(
        stats(&app, &me.token, me.id, "").await.body["_cache"]["hit"],
        false
    );
    // The other user's entry survived.
    assert_eq!(
        stats(&app, &sup.token, sup.id, "").await.body["_cache"]["hit"],
        true
    );
}

#[tokio::test]
async fn user_stats_are_shared_through_redis_across_instances() {
    let app = TestApp::spawn_with_redis().await;
    let sibling = TestApp::spawn_with(gad_testkit::Options::sibling_of(&app)).await;
    let sup = app.create_user(2).await;
    let me = app.create_user(1).await;
    app.create_task(&sup, me.id, json!({})).await;
    let r = stats(&app, &me.token, me.id, "").await;
    assert_eq!(r.body["_cache"]["hit"], false);
    let r = stats(&sibling, &me.token, me.id, "").await;
    assert_eq!(r.body["_cache"]["hit"], true, "{}", r.text);
    assert_eq!(r.body["_cache"]["source"], "redis");
    assert_eq!(r.body["total"], 1);
    // A write on one instance invalidates for both.
    sibling.create_task(&sup, me.id, json!({})).await;
    let r = stats(&app, &me.token, me.id, "").await;
    assert_eq!(r.body["_cache"]["hit"], false);
    assert_eq!(r.body["total"], 2);
}

#[tokio::test]
async fn overview_counts_everything() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let e1 = app.create_efectivo(Some((40.0, -3.0))).await;
    let _e2 = app.create_efectivo(None).await;
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'EN_TAREA' WHERE id = $1")
        .bind(e1.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.get("/api/v1/stats/overview", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["emergencias_24h"], 0);
    assert_eq!(r.body["distancia_mediana_emergencias_m"], Value::Null);
    assert_eq!(r.body["tareas"]["por_estado"]["programada"], 0);

    app.create_task(&sup, sup.id, json!({"prioridad": 5, "tipo": "vigilancia"}))
        .await;
    let t = app.create_task(&sup, sup.id, json!({})).await.body;
    app.post(
        &format!("/api/v1/tasks/{}/status", t["id"]),
        Some(&sup.token),
        json!({"estado": "en_curso"}),
    )
    .await;
    // Emergency tasks as the dispatcher stores them; one older than 24 h, one without distance.
    for (n, dist, age_h) in [
        (1, Some(100.0), 0),
        (2, Some(300.0), 1),
        (3, Some(250.5), 2),
        (4, None, 3),
        (5, Some(1.0), 30),
    ] {
        sqlx::query(
            "INSERT INTO tareas (codigo, titulo, tipo, prioridad, inicio_programado, delegado_usuario_id, extra_data, created_at, es_emergencia)
             VALUES ($1, 'Emergencia', 'INTERVENCION', 'CRITICAL', now(), $2,
                     CASE WHEN $3::float8 IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('distance_m', $3::float8) END,
                     now() - make_interval(hours => $4), true)",
        )
        .bind(format!("EMG-20261128-{n:06}"))
        .bind(sup.id)
        .bind(dist)
        .bind(age_h)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let r = app.get("/api/v1/stats/overview", Some(&sup.token)).await;
    let b = &r.body;
    assert_eq!(
        b["tareas"]["por_estado"],
        json!({"programada": 6, "en_curso": 1, "pausada": 0, "finalizada": 0, "cancelada": 0})
    );
    assert_eq!(b["tareas"]["por_tipo"]["vigilancia"], 1);
    assert_eq!(b["tareas"]["por_tipo"]["patrullaje"], 1);
    assert_eq!(b["tareas"]["por_tipo"]["intervencion"], 5);
    assert_eq!(b["tareas"]["por_tipo"]["entrenamiento"], 0);
    assert_eq!(b["tareas"]["por_prioridad"]["CRITICA"], 6);
    assert_eq!(b["tareas"]["por_prioridad"]["MEDIA"], 1);
    assert_eq!(b["tareas"]["por_prioridad"]["BAJA"], 0);
    assert_eq!(
        b["efectivos"],
        json!({"por_disponibilidad": {"disponible": 1, "en_tarea": 1, "fuera_servicio": 0, "no_disponible": 0, "en_camino": 0, "en_escena": 0}, "con_ubicacion": 1})
    );
    assert_eq!(b["emergencias_24h"], 4);
    assert_eq!(b["distancia_mediana_emergencias_m"], 250.5);
    assert!(b["calculated_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn an_emergency_delegates_stats_are_fresh_right_after_dispatch() {
    let app = TestApp::spawn().await;
    let reporter = app.create_user(1).await;
    let officer = app.create_efectivo(Some((-34.6037, -58.3816))).await;
    // Cache the officer's statistics before the dispatch (nothing delegated yet).
    let before = stats(&app, &officer.token, officer.id, "").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert_eq!(before.body["total"], 0);
    let r = stats(&app, &officer.token, officer.id, "").await;
    assert_eq!(r.body["_cache"]["hit"], true, "the second read is cached");

    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": -34.6037, "lng": -58.3816}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // The dispatched officer now delegates an open emergency: no stale cached answer.
    let after = stats(&app, &officer.token, officer.id, "").await;
    assert_eq!(after.body["_cache"]["hit"], false, "{}", after.text);
    assert_eq!(after.body["total"], 1);
    assert_eq!(after.body["en_progreso"], 1);
}
