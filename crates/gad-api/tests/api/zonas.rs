//! Jurisdictions: zones validated by PostGIS, the containing-zone lookup, tasks and emergencies
//! placed in their zone, and supervisors scoped to their comisarías.

use gad_testkit::{Resp, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A rectangle as a GeoJSON Polygon: [lng0, lat0] to [lng1, lat1].
pub(crate) fn rect(lng0: f64, lat0: f64, lng1: f64, lat1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lng0, lat0], [lng1, lat0], [lng1, lat1], [lng0, lat1], [lng0, lat0]]]})
}

pub(crate) async fn zona(
    app: &TestApp,
    admin: &TestUser,
    nombre: &str,
    tipo: &str,
    padre: Option<i64>,
    g: Value,
) -> Resp {
    app.post(
        "/api/v1/zonas",
        Some(&admin.token),
        json!({"nombre": nombre, "tipo": tipo, "padre_id": padre, "geometria": g}),
    )
    .await
}

pub(crate) async fn zona_id(
    app: &TestApp,
    admin: &TestUser,
    nombre: &str,
    tipo: &str,
    padre: Option<i64>,
    g: Value,
) -> i64 {
    let r = zona(app, admin, nombre, tipo, padre, g).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().unwrap()
}

/// Comisaría A around the test site, its cuadrante A1, and comisaría B to the east.
pub(crate) struct Mapa {
    pub a: i64,
    pub a1: i64,
    pub b: i64,
}

/// A point inside A1 (and A).
pub(crate) const EN_A1: (f64, f64) = (-34.6037, -58.3816);
/// A point inside A but outside A1.
pub(crate) const EN_A: (f64, f64) = (-34.615, -58.395);
/// A point inside B.
pub(crate) const EN_B: (f64, f64) = (-34.60, -58.34);
/// A point outside every zone.
pub(crate) const FUERA: (f64, f64) = (-34.70, -58.50);

pub(crate) async fn mapa(app: &TestApp, admin: &TestUser) -> Mapa {
    let a = zona_id(
        app,
        admin,
        "Comisaría 1ª",
        "comisaria",
        None,
        rect(-58.40, -34.62, -58.36, -34.58),
    )
    .await;
    let a1 = zona_id(
        app,
        admin,
        "Cuadrante 1-A",
        "cuadrante",
        Some(a),
        rect(-58.39, -34.61, -58.37, -34.59),
    )
    .await;
    let b = zona_id(
        app,
        admin,
        "Comisaría 2ª",
        "comisaria",
        None,
        rect(-58.36, -34.62, -58.32, -34.58),
    )
    .await;
    Mapa { a, a1, b }
}

fn loc(r: &Resp) -> Value {
    r.body["errors"][0]["loc"].clone()
}

#[tokio::test]
async fn invalid_and_malformed_geometries_are_422_at_geometria_with_the_reason() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    // A bow tie: the ring crosses itself.
    let bowtie = json!({"type": "Polygon", "coordinates": [[[-58.40, -34.60], [-58.38, -34.58], [-58.38, -34.60], [-58.40, -34.58], [-58.40, -34.60]]]});
    let r = zona(&app, &admin, "Moño", "comisaria", None, bowtie).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "geometria"]));
    assert!(
        r.body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .starts_with("Self-intersection"),
        "{}",
        r.text
    );
    // A hole outside its shell: valid structure, invalid geometry.
    let hole_outside = json!({"type": "Polygon", "coordinates": [
        [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
        [[2, 2], [3, 2], [3, 3], [2, 3], [2, 2]]]});
    let r = zona(&app, &admin, "Agujero", "otra", None, hole_outside).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "geometria"]));
    assert!(
        r.body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("Hole"),
        "{}",
        r.text
    );
    for malformed in [
        json!({"type": "Point", "coordinates": [-58.4, -34.6]}),
        json!({"type": "Polygon", "coordinates": [[[-58.40, -34.60], [-58.38, -34.58], [-58.38, -34.60], [-58.41, -34.61]]]}),
        json!({"type": "Polygon", "coordinates": "x"}),
        json!("POLYGON((0 0, 1 0, 1 1, 0 0))"),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 95], [0, 0]]]}),
    ] {
        let r = zona(&app, &admin, "Mal", "otra", None, malformed.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{malformed}: {}",
            r.text
        );
        assert_eq!(loc(&r), json!(["body", "geometria"]), "{malformed}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM zonas")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn zones_crud_with_parents_lookup_smallest_first_and_audit() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let l1 = app.create_user(1).await;
    let r = zona(&app, &sup, "X", "comisaria", None, rect(0.0, 0.0, 1.0, 1.0)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let m = mapa(&app, &admin).await;

    // A cuadrante outside its comisaría, without one, or under a cuadrante: 422.
    let r = zona(
        &app,
        &admin,
        "Fuera",
        "cuadrante",
        Some(m.a),
        rect(-58.35, -34.61, -58.33, -34.59),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "geometria"]));
    let r = zona(
        &app,
        &admin,
        "Huérfano",
        "cuadrante",
        None,
        rect(-58.39, -34.61, -58.38, -34.60),
    )
    .await;
    assert_eq!(loc(&r), json!(["body", "padre_id"]), "{}", r.text);
    let r = zona(
        &app,
        &admin,
        "Nieto",
        "cuadrante",
        Some(m.a1),
        rect(-58.385, -34.605, -58.38, -34.60),
    )
    .await;
    assert_eq!(loc(&r), json!(["body", "padre_id"]), "{}", r.text);
    let r = zona(
        &app,
        &admin,
        "Sin padre",
        "comisaria",
        Some(m.b),
        rect(-58.35, -34.61, -58.34, -34.60),
    )
    .await;
    assert_eq!(loc(&r), json!(["body", "padre_id"]), "{}", r.text);

    // The point lookup: smallest first; level 1 may read.
    let r = app
        .get(
            &format!("/api/v1/zonas?lat={}&lng={}", EN_A1.0, EN_A1.1),
            Some(&l1.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<i64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![m.a1, m.a]);
    assert_eq!(r.body[0]["tipo"], "cuadrante");
    assert_eq!(r.body[0]["padre_id"], m.a);
    assert_eq!(r.body[0]["geometria"]["type"], "MultiPolygon");
    let r = app
        .get(
            &format!("/api/v1/zonas?lat={}&lng={}", FUERA.0, FUERA.1),
            Some(&l1.token),
        )
        .await;
    assert_eq!(r.body, json!([]));
    let r = app.get("/api/v1/zonas?lat=-34.6", Some(&l1.token)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .get("/api/v1/zonas?tipo=comisaria", Some(&l1.token))
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);

    // The layer.
    let r = app.get("/api/v1/zonas/geojson", Some(&l1.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["type"], "FeatureCollection");
    let f = r.body["features"].as_array().unwrap();
    assert_eq!(f.len(), 3);
    let a1 = f.iter().find(|f| f["properties"]["id"] == m.a1).unwrap();
    assert_eq!(a1["properties"]["padre"], "Comisaría 1ª");
    assert_eq!(a1["properties"]["nombre"], "Cuadrante 1-A");

    // A comisaría cannot shrink out from under its cuadrantes, nor be deleted with them.
    let r = app
        .put(
            &format!("/api/v1/zonas/{}", m.a),
            Some(&admin.token),
            json!({"nombre": "Comisaría 1ª", "tipo": "comisaria", "geometria": rect(-58.40, -34.62, -58.385, -34.58)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app
        .delete(&format!("/api/v1/zonas/{}", m.a), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .put(
            &format!("/api/v1/zonas/{}", m.a),
            Some(&admin.token),
            json!({"nombre": "Comisaría Primera", "tipo": "comisaria", "geometria": rect(-58.41, -34.62, -58.36, -34.58)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["nombre"], "Comisaría Primera");
    let r = app
        .delete(&format!("/api/v1/zonas/{}", m.a1), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .get(&format!("/api/v1/zonas/{}", m.a1), Some(&l1.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .delete(&format!("/api/v1/zonas/{}", m.a), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM audit_logs WHERE resource_type = 'zona' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            "zone_created",
            "zone_created",
            "zone_created",
            "zone_updated",
            "zone_deleted",
            "zone_deleted"
        ]
    );
}

#[tokio::test]
async fn tasks_and_emergencies_carry_their_zone_and_lists_filter_by_it() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let m = mapa(&app, &admin).await;
    app.create_efectivo(Some((EN_A1.0 + 0.001, EN_A1.1))).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&sup.token),
            json!({"lat": EN_A1.0, "lng": EN_A1.1, "descripcion": "robo"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let emg = r.body["task_id"].as_i64().unwrap();
    let t = app
        .get(&format!("/api/v1/tasks/{emg}"), Some(&sup.token))
        .await;
    assert_eq!(t.body["zona_id"], m.a1, "{}", t.text);
    assert_eq!(t.body["comisaria_id"], m.a);

    let r = app
        .create_task(
            &sup,
            sup.id,
            json!({"ubicacion_lat": EN_B.0, "ubicacion_lon": EN_B.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["zona_id"], m.b);
    assert_eq!(r.body["comisaria_id"], m.b);
    let tb = r.body["id"].as_i64().unwrap();
    let r = app.create_task(&sup, sup.id, json!({})).await;
    assert_eq!(r.body["zona_id"], Value::Null);
    assert_eq!(r.body["comisaria_id"], Value::Null);

    // Moving the task moves its zone.
    let r = app
        .put(
            &format!("/api/v1/tasks/{tb}"),
            Some(&sup.token),
            json!({"ubicacion_lat": EN_A.0, "ubicacion_lon": EN_A.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["zona_id"], m.a);
    assert_eq!(r.body["comisaria_id"], m.a);

    let ids = |r: &Resp| -> Vec<i64> {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let r = app
        .get(&format!("/api/v1/tasks?zona_id={}", m.a), Some(&sup.token))
        .await;
    assert_eq!(ids(&r), vec![tb, emg]);
    let r = app
        .get(&format!("/api/v1/tasks?zona_id={}", m.a1), Some(&sup.token))
        .await;
    assert_eq!(ids(&r), vec![emg]);
    let r = app
        .get(&format!("/api/v1/tasks?zona_id={}", m.b), Some(&sup.token))
        .await;
    assert_eq!(ids(&r), Vec::<i64>::new());
}

#[tokio::test]
async fn a_supervisor_with_comisarias_sees_their_tasks_by_default() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup_a = app.create_user(2).await;
    let sup_all = app.create_user(2).await;
    let m = mapa(&app, &admin).await;

    let r = app
        .put(
            &format!("/api/v1/users/{}/zonas", sup_a.id),
            Some(&sup_a.token),
            json!({"zona_ids": [m.a]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .put(
            &format!("/api/v1/users/{}/zonas", sup_a.id),
            Some(&admin.token),
            json!({"zona_ids": [m.a, m.a1]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(loc(&r), json!(["body", "zona_ids", 1]));
    let r = app
        .put(
            &format!("/api/v1/users/{}/zonas", sup_a.id),
            Some(&admin.token),
            json!({"zona_ids": [m.a]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .get(
            &format!("/api/v1/users/{}/zonas", sup_a.id),
            Some(&admin.token),
        )
        .await;
    assert_eq!(r.body, json!({"usuario_id": sup_a.id, "zona_ids": [m.a]}));
    let r = app
        .get("/api/v1/users/999999/zonas", Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let task = |at: (f64, f64)| {
        let app = &app;
        let admin = &admin;
        async move {
            let r = app
                .create_task(
                    admin,
                    admin.id,
                    json!({"ubicacion_lat": at.0, "ubicacion_lon": at.1}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.body["id"].as_i64().unwrap()
        }
    };
    let ta = task(EN_A1).await;
    let tb = task(EN_B).await;
    let tf = task(FUERA).await;
    let ids = |r: &Resp| -> Vec<i64> {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let r = app.get("/api/v1/tasks", Some(&sup_a.token)).await;
    assert_eq!(
        ids(&r),
        vec![tf, ta],
        "A's and those outside every zone, not B's"
    );
    let r = app
        .get("/api/v1/tasks?toda_la_ciudad=true", Some(&sup_a.token))
        .await;
    assert_eq!(ids(&r), vec![tf, tb, ta]);
    let r = app.get("/api/v1/tasks", Some(&sup_all.token)).await;
    assert_eq!(ids(&r), vec![tf, tb, ta]);
    let r = app.get("/api/v1/tasks", Some(&admin.token)).await;
    assert_eq!(ids(&r), vec![tf, tb, ta]);
    // A comisaría assigned to a supervisor cannot be deleted (its cuadrante gone first).
    let r = app
        .delete(&format!("/api/v1/zonas/{}", m.a1), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .delete(&format!("/api/v1/zonas/{}", m.a), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let _ = m.b;
}

#[tokio::test]
async fn emergency_alerts_reach_the_supervisors_of_their_comisaria_and_unzoned_ones_reach_all() {
    use gad_testkit::ws::WsClient;
    use std::time::Duration;
    const T: Duration = Duration::from_secs(5);

    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup_a = app.create_user(2).await;
    let sup_b = app.create_user(2).await;
    let sup_city = app.create_user(2).await;
    let caller = app.create_user(2).await;
    let m = mapa(&app, &admin).await;
    for (u, z) in [(&sup_a, m.a), (&sup_b, m.b)] {
        let r = app
            .put(
                &format!("/api/v1/users/{}/zonas", u.id),
                Some(&admin.token),
                json!({"zona_ids": [z]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    app.create_efectivo(Some((EN_A1.0 + 0.001, EN_A1.1))).await;
    app.create_efectivo(Some((FUERA.0 + 0.001, FUERA.1))).await;
    let mut ws = Vec::new();
    for u in [&sup_a, &sup_b, &sup_city, &admin] {
        let mut c = WsClient::connect(&app, Some(&u.token)).await;
        c.wait_for("system_status", T).await.unwrap();
        ws.push(c);
    }
    // Let every snapshot part arrive before the alerts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let raise = |at: (f64, f64)| {
        let app = &app;
        let caller = &caller;
        async move {
            let r = app
                .post(
                    "/api/v1/tasks/emergency",
                    Some(&caller.token),
                    json!({"lat": at.0, "lng": at.1, "descripcion": "auxilio"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.body["task_id"].as_i64().unwrap()
        }
    };
    let in_a = raise(EN_A1).await;
    let outside = raise(FUERA).await;
    let mut first = Vec::new();
    for c in ws.iter_mut() {
        let a = c.wait_for("alert", T).await.expect("an alert");
        first.push(a["data"]["task_id"].as_i64().unwrap());
    }
    // A's supervisor, the unassigned one and level 3 get A's emergency first; B's supervisor
    // gets only the one outside every zone.
    assert_eq!(first, vec![in_a, outside, in_a, in_a]);
    for (i, c) in ws.iter_mut().enumerate() {
        if i == 1 {
            continue;
        }
        let a = c.wait_for("alert", T).await.expect("the second alert");
        assert_eq!(a["data"]["task_id"], outside, "socket {i}");
    }
}
