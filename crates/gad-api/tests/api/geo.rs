//! Map view: efectivos and open tasks within the radius, nearest first, integer distances.

use gad_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::json;

const SOL: (f64, f64) = (40.4168, -3.7038);

#[tokio::test]
async fn map_view_lists_nearby_efectivos_and_open_tasks() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let reporter = app.create_user(1).await;
    let far = app.create_efectivo(Some((SOL.0 + 0.01, SOL.1))).await;
    let near = app.create_efectivo(Some((SOL.0 + 0.002, SOL.1))).await;
    let _outside = app.create_efectivo(Some((SOL.0 + 1.0, SOL.1))).await;
    let _unlocated = app.create_efectivo(None).await;

    // An emergency at ~333 m creates an open task with a location (and busies `near`).
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": SOL.0 + 0.003, "lng": SOL.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let open_task = r.body["task_id"].as_i64().unwrap();
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": SOL.0 + 0.004, "lng": SOL.1}),
        )
        .await;
    let closed_task = r.body["task_id"].as_i64().unwrap();
    sqlx::query("UPDATE tareas SET estado = 'COMPLETED', fin_real = now() WHERE id = $1")
        .bind(closed_task)
        .execute(&app.pool)
        .await
        .unwrap();

    let path = format!(
        "/api/v1/geo/map/view?center_lat={}&center_lng={}&radius_m=5000",
        SOL.0, SOL.1
    );
    assert_eq!(
        app.get(&path, Some(&reporter.token)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app.get(&path, Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let usuarios = r.body["usuarios"].as_array().unwrap();
    let ids: Vec<i64> = usuarios
        .iter()
        .map(|u| u["efectivo_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![near.efectivo_id.unwrap(), far.efectivo_id.unwrap()]
    );
    let u0 = &usuarios[0];
    assert!(u0["distance_m"].is_i64(), "{u0}");
    assert!(
        (220..225).contains(&u0["distance_m"].as_i64().unwrap()),
        "{u0}"
    );
    assert_eq!(u0["estado"], "en_tarea");
    // The second emergency took `far`.
    assert_eq!(usuarios[1]["estado"], "en_tarea");
    assert_eq!(u0["nombre"], "Test");
    assert_eq!(u0["unidad"], "Unidad Test");
    assert!((u0["lat"].as_f64().unwrap() - (SOL.0 + 0.002)).abs() < 1e-9);
    let uuid: uuid::Uuid = sqlx::query_scalar("SELECT uuid FROM efectivos WHERE id = $1")
        .bind(near.efectivo_id.unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(u0["entity_id"], uuid.to_string());

    let tareas = r.body["tareas"].as_array().unwrap();
    assert_eq!(tareas.len(), 1, "{tareas:?}");
    let t = &tareas[0];
    assert_eq!(t["task_id"], open_task);
    assert_eq!(t["priority"], "CRITICA");
    assert_eq!(t["estado"], "en_curso");
    assert!(t["codigo"].as_str().unwrap().starts_with("EMG-"));
    assert!(
        (330..337).contains(&t["distance_m"].as_i64().unwrap()),
        "{t}"
    );
    assert!(t["entity_id"].is_string());

    // Legacy alias answers the same.
    let alias = path.replace("/geo/map/view", "/geo/geo/map/view");
    let r2 = app.get(&alias, Some(&sup.token)).await;
    assert_eq!(r2.status, StatusCode::OK);
    assert_eq!(r2.body, r.body);

    // Small radius: nothing.
    let r = app
        .get(
            &format!(
                "/api/v1/geo/map/view?center_lat={}&center_lng={}&radius_m=100",
                SOL.0, SOL.1
            ),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.body, json!({"usuarios": [], "tareas": []}));
}

#[tokio::test]
async fn map_view_validates_the_query() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    for (q, field) in [
        ("center_lat=91&center_lng=0", "center_lat"),
        ("center_lat=0&center_lng=-181", "center_lng"),
        ("center_lng=0", "center_lat"),
        ("center_lat=0", "center_lng"),
        ("center_lat=0&center_lng=0&radius_m=100001", "radius_m"),
        ("center_lat=abc&center_lng=0", "center_lat"),
    ] {
        let r = app
            .get(&format!("/api/v1/geo/map/view?{q}"), Some(&sup.token))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.text
        );
        assert_eq!(r.body["errors"][0]["loc"], json!(["query", field]), "{q}");
    }
    let r = app
        .get("/api/v1/geo/map/view?center_lat=0&center_lng=0", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
