//! Efectivos API: levels, conflicts, location (own / supervisor), history retention,
//! availability, proximity list.

use gad_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// Madrid, Puerta del Sol.
const SOL: (f64, f64) = (40.4168, -3.7038);

#[tokio::test]
async fn admin_crud_with_conflicts_and_soft_delete() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let u1 = app.create_user(1).await;
    let u2 = app.create_user(1).await;

    let body = json!({"usuario_id": u1.id, "codigo_interno": "EF-001", "rango": "Cabo", "unidad": "Norte", "especialidad": "k9"});
    // Level 2 may not create.
    let r = app
        .post("/api/v1/efectivos", Some(&sup.token), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "The user doesn't have enough privileges"})
    );

    let r = app
        .post("/api/v1/efectivos/", Some(&admin.token), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/efectivos/{id}").as_str())
    );
    assert_eq!(r.body["usuario_id"], u1.id);
    assert_eq!(r.body["estado_disponibilidad"], "disponible");
    assert_eq!(r.body["ubicacion"], serde_json::Value::Null);
    assert_eq!(r.body["nombre"], "Test");
    assert_eq!(r.body["apellido"], "User");
    assert!(r.body["uuid"].is_string());
    assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));

    // Same usuario again → 409 usuario_id; same codigo for another usuario → 409 codigo_interno.
    let r = app
        .post(
            "/api/v1/efectivos",
            Some(&admin.token),
            json!({"usuario_id": u1.id, "codigo_interno": "EF-002"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"detail": "usuario_id already exists", "field": "usuario_id"})
    );
    let r = app
        .post(
            "/api/v1/efectivos",
            Some(&admin.token),
            json!({"usuario_id": u2.id, "codigo_interno": "EF-001"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"detail": "codigo_interno already exists", "field": "codigo_interno"})
    );
    // Unknown usuario → 422 naming it; empty codigo → 422.
    let r = app
        .post(
            "/api/v1/efectivos",
            Some(&admin.token),
            json!({"usuario_id": 999_999, "codigo_interno": "EF-003"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "usuario_id"]));
    let r = app
        .post(
            "/api/v1/efectivos",
            Some(&admin.token),
            json!({"usuario_id": u2.id, "codigo_interno": ""}),
        )
        .await;
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "codigo_interno"])
    );
    let r = app
        .post("/api/v1/efectivos", Some(&admin.token), json!({"usuario_id": u2.id, "codigo_interno": "X", "estado_disponibilidad": "durmiendo"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["type"], "enum");

    // Get: supervisor yes; the officer itself yes (fresh token reads efectivo_id); another L1 → 404.
    let r = app
        .get(&format!("/api/v1/efectivos/{id}"), Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["codigo_interno"], "EF-001");
    let r = app
        .get(&format!("/api/v1/efectivos/{id}"), Some(&u1.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .get(&format!("/api/v1/efectivos/{id}"), Some(&u2.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "The efectivo with this id does not exist in the system"})
    );
    let r = app.get("/api/v1/efectivos/987654", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/api/v1/efectivos/abc", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"][0], "path");

    // Partial update (level 3).
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}"),
            Some(&sup.token),
            json!({"rango": "Sargento"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}"),
            Some(&admin.token),
            json!({"rango": "Sargento"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["rango"], "Sargento");
    assert_eq!(r.body["unidad"], "Norte");
    let r = app
        .put(
            "/api/v1/efectivos/987654",
            Some(&admin.token),
            json!({"rango": "X"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Soft delete returns the deleted object; then it is gone from get and list.
    let r = app
        .delete(&format!("/api/v1/efectivos/{id}"), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["id"], id);
    assert!(r.body["deleted_at"].as_str().unwrap().ends_with('Z'));
    let deleted: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM efectivos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(deleted);
    assert_eq!(
        app.get(&format!("/api/v1/efectivos/{id}"), Some(&sup.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/v1/efectivos/{id}"), Some(&admin.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app.get("/api/v1/efectivos", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.as_array().unwrap().iter().all(|e| e["id"] != id));
    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE resource_type = 'efectivo' AND resource_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audits, 3);
}

#[tokio::test]
async fn list_requires_level_2_and_filters() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let a = app.create_efectivo(Some(SOL)).await;
    let b = app.create_efectivo(None).await;
    sqlx::query("UPDATE efectivos SET estado_disponibilidad = 'FUERA_SERVICIO', unidad = 'Sur' WHERE id = $1")
        .bind(b.efectivo_id.unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/efectivos", Some(&a.token)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app.get("/api/v1/efectivos", Some(&sup.token)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = app
        .get(
            "/api/v1/efectivos/?estado_disponibilidad=fuera_servicio",
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<i64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![b.efectivo_id.unwrap()]);
    let r = app
        .get("/api/v1/efectivos?unidad=Unidad%20Test", Some(&sup.token))
        .await;
    let ids: Vec<i64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![a.efectivo_id.unwrap()]);
    let r = app
        .get(
            "/api/v1/efectivos?estado_disponibilidad=x",
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["query", "estado_disponibilidad"])
    );
    let r = app.get("/api/v1/efectivos?limit=0", Some(&sup.token)).await;
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "limit"]));
}

#[tokio::test]
async fn list_near_orders_by_distance_within_radius() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    // ~1.1 km, ~0.55 km, ~22 km north of Sol.
    let far = app.create_efectivo(Some((SOL.0 + 0.01, SOL.1))).await;
    let near = app.create_efectivo(Some((SOL.0 + 0.005, SOL.1))).await;
    let out = app.create_efectivo(Some((SOL.0 + 0.2, SOL.1))).await;
    let _unlocated = app.create_efectivo(None).await;
    let r = app
        .get(
            &format!(
                "/api/v1/efectivos?near_lat={}&near_lng={}&radius_m=5000",
                SOL.0, SOL.1
            ),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let arr = r.body.as_array().unwrap();
    let ids: Vec<i64> = arr.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids,
        vec![near.efectivo_id.unwrap(), far.efectivo_id.unwrap()]
    );
    assert!(!ids.contains(&out.efectivo_id.unwrap()));
    let d0 = arr[0]["distance_m"].as_f64().unwrap();
    let d1 = arr[1]["distance_m"].as_f64().unwrap();
    assert!((540.0..570.0).contains(&d0), "{d0}");
    assert!((1090.0..1130.0).contains(&d1), "{d1}");
    assert!((arr[0]["ubicacion"]["lat"].as_f64().unwrap() - (SOL.0 + 0.005)).abs() < 1e-9);
    // Default radius 10 km.
    let r = app
        .get(
            &format!("/api/v1/efectivos?near_lat={}&near_lng={}", SOL.0, SOL.1),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    // Validation.
    let r = app
        .get("/api/v1/efectivos?near_lat=91&near_lng=0", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "near_lat"]));
    let r = app
        .get("/api/v1/efectivos?near_lat=10", Some(&sup.token))
        .await;
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "near_lng"]));
    let r = app
        .get(
            "/api/v1/efectivos?near_lat=10&near_lng=10&radius_m=99",
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "radius_m"]));
}

#[tokio::test]
async fn location_update_by_self_or_supervisor_keeps_history() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let me = app.create_efectivo(None).await;
    let other = app.create_efectivo(None).await;
    let id = me.efectivo_id.unwrap();

    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/ubicacion"),
            Some(&me.token),
            json!({"lat": SOL.0, "lng": SOL.1, "accuracy_m": 5.5, "heading": 90, "speed": 1.2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let u = &r.body["ubicacion"];
    assert!((u["lat"].as_f64().unwrap() - SOL.0).abs() < 1e-9);
    assert!((u["lng"].as_f64().unwrap() - SOL.1).abs() < 1e-9);
    assert_eq!(u["accuracy_m"], 5.5);
    assert_eq!(u["heading"], 90.0);
    assert_eq!(u["speed"], 1.2);
    assert!(u["updated_at"].as_str().unwrap().ends_with('Z'));

    // Another level-1 officer cannot move me (403, checked before the body).
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/ubicacion"),
            Some(&other.token),
            json!({"lat": 0, "lng": 0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/ubicacion"),
            Some(&other.token),
            json!({"lat": 500}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Out of range → 422 with the field's loc.
    for (body, field) in [
        (json!({"lat": 90.5, "lng": 0}), "lat"),
        (json!({"lat": 0, "lng": -180.01}), "lng"),
        (json!({"lat": 0, "lng": 0, "heading": 361}), "heading"),
        (json!({"lat": 0, "lng": 0, "speed": -1}), "speed"),
        (
            json!({"lat": 0, "lng": 0, "accuracy_m": -0.1}),
            "accuracy_m",
        ),
        (json!({"lng": 0}), "lat"),
    ] {
        let r = app
            .put(
                &format!("/api/v1/efectivos/{id}/ubicacion"),
                Some(&me.token),
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(r.body["errors"][0]["loc"], json!(["body", field]));
    }

    // (Retention is no longer a per-update prune: whole day partitions are dropped by the
    // background job — tests/api/positions.rs.)
    // Supervisor may move anyone.
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/ubicacion"),
            Some(&sup.token),
            json!({"lat": 41.0, "lng": 2.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["ubicacion"]["lat"], 41.0);
    assert_eq!(r.body["ubicacion"]["accuracy_m"], serde_json::Value::Null);
    let hist: Vec<(f64, f64)> = sqlx::query_as(
        "SELECT ST_Y(geom::geometry), ST_X(geom::geometry) FROM efectivo_ubicaciones
         WHERE efectivo_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(hist.len(), 2, "{hist:?}");
    assert!((hist[0].0 - SOL.0).abs() < 1e-9);
    assert_eq!(hist[1], (41.0, 2.0));

    let r = app
        .put(
            "/api/v1/efectivos/987654/ubicacion",
            Some(&sup.token),
            json!({"lat": 1, "lng": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "The efectivo with this id does not exist in the system"})
    );
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/ubicacion"),
            None,
            json!({"lat": 1, "lng": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn availability_by_self_or_supervisor() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let me = app.create_efectivo(None).await;
    let other = app.create_efectivo(None).await;
    let id = me.efectivo_id.unwrap();
    let before: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT ultima_actualizacion_estado FROM efectivos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/disponibilidad"),
            Some(&me.token),
            json!({"estado": "fuera_servicio"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado_disponibilidad"], "fuera_servicio");
    let after: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT ultima_actualizacion_estado FROM efectivos WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(after > before);
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/disponibilidad"),
            Some(&other.token),
            json!({"estado": "disponible"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/disponibilidad"),
            Some(&me.token),
            json!({"estado": "libre"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "estado"]));
    assert_eq!(r.body["errors"][0]["type"], "enum");
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/disponibilidad"),
            Some(&sup.token),
            json!({"estado": "disponible"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["estado_disponibilidad"], "disponible");
    let r = app
        .put(
            "/api/v1/efectivos/987654/disponibilidad",
            Some(&sup.token),
            json!({"estado": "disponible"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
