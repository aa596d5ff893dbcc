//! Nearest-first queries where PostGIS refuses its own index order (`store::nearest`): officers
//! and emergencies within ~1e-11° of 0°. The KNN index's distance for such points can exceed the
//! exact one, and PostgreSQL stops the query ("index returned tuples in wrong order"); every
//! nearest-first route must still answer, nearest first, never 500. (Found by the OpenAPI
//! fuzzer: an emergency at lat -1.29e-101, lng -1.18e-38.)

use gad_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// 2,003 available officers on a grid of 0.001° around (0°, 0°) — enough that the planner walks
/// the GiST index for the nearest one — plus three at coordinates a hair from zero.
async fn seed_around_null_island(app: &TestApp) {
    crate::hardening::seed_officers(app, 2003, -0.01, -0.05).await;
    sqlx::query(
        "UPDATE efectivos e SET geom = ST_SetSRID(ST_MakePoint(v.lng, v.lat), 4326)::geography
         FROM (VALUES (1, 1.1754943508222875e-38::float8, 0::float8), (2, 0, 1e-30), (3, 1e-12, -1e-12)) v(n, lng, lat)
         WHERE e.id = (SELECT max(id) FROM efectivos) - 3 + v.n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE efectivos")
        .execute(&app.pool)
        .await
        .unwrap();
}

/// Points a hair from (0°, 0°), as (lat, lng): what the fuzzer sent, and its neighbours.
const TINY: [(f64, f64); 4] = [
    (-1.2919835596230985e-101, -1.1754943508222875e-38),
    (1e-7, 1e-7),
    (1e-30, 0.0),
    (0.0, 1.1754943508222875e-38),
];

/// The spherical distance (metres, what `<->` orders by) from (lat, lng) to the nearest
/// available officer.
async fn nearest_distance(app: &TestApp, lat: f64, lng: f64) -> f64 {
    sqlx::query_scalar(
        "SELECT min(ST_Distance(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, false))
         FROM efectivos WHERE estado_disponibilidad = 'DISPONIBLE' AND deleted_at IS NULL",
    )
    .bind(lng)
    .bind(lat)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn nearest_first_routes_answer_at_null_island() {
    let app = TestApp::spawn().await;
    seed_around_null_island(&app).await;
    let sup = app.create_user(2).await;

    for (i, (lat, lng)) in TINY.into_iter().enumerate() {
        let q = format!("lat={lat}&lng={lng}&radius_m=13292.5");
        // Suggestions: nearest first.
        let r = app
            .get(
                &format!("/api/v1/tasks/emergency/suggestions?{q}"),
                Some(&sup.token),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "suggestions at {q}: {}", r.text);
        let d: Vec<f64> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["distance_m"].as_f64().unwrap())
            .collect();
        // Ordered on the sphere (what `<->` measures), reported on the spheroid: the two agree
        // within 1 % (0.7 % here at the equator, between a north and an east neighbour).
        assert!(
            !d.is_empty() && d.windows(2).all(|w| w[0] <= w[1] * 1.01 + 1e-6),
            "{d:?}"
        );
        // The map's surroundings and the list's near=.
        let r = app
            .get(
                &format!("/api/v1/geo/map/view?center_lat={lat}&center_lng={lng}&radius_m=5000"),
                Some(&sup.token),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "map view at {q}: {}", r.text);
        let r = app
            .get(
                &format!("/api/v1/efectivos?near_lat={lat}&near_lng={lng}&radius_m=5000"),
                Some(&sup.token),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "list near {q}: {}", r.text);

        // The emergency goes to the nearest available officer (on the sphere, as `<->`).
        let expected = nearest_distance(&app, lat, lng).await;
        let r = app
            .post(
                "/api/v1/tasks/emergency",
                Some(&sup.token),
                json!({"lat": lat, "lng": lng, "radius_m": 13292.5}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "emergency at {q}: {}",
            r.text
        );
        let got: f64 = sqlx::query_scalar(
            "SELECT ST_Distance(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, false)
             FROM efectivos WHERE id = $3",
        )
        .bind(lng)
        .bind(lat)
        .bind(r.body["assigned_efectivo_id"].as_i64().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert!(
            (got - expected).abs() < 0.01,
            "dispatched at {got} m, nearest at {expected} m"
        );

        // A decline calls the next nearest, inside the answer's transaction.
        let task = r.body["task_id"].as_i64().unwrap();
        let r = app
            .post(
                &format!("/api/v1/tasks/{task}/ack"),
                Some(&sup.token),
                json!({"accept": false, "motivo": "Prueba"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "decline at {q}: {}", r.text);
        assert!(
            r.body["next"]["efectivo_id"].as_i64().is_some(),
            "{}",
            r.text
        );

        // The same emergency again with an idempotency key (the dispatch inside a transaction).
        let r = app
            .client
            .post(app.url("/api/v1/tasks/emergency"))
            .bearer_auth(&sup.token)
            .header("Idempotency-Key", format!("cero-{i}"))
            .json(&json!({"lat": lat, "lng": lng, "radius_m": 13292.5}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "keyed emergency at {q}");
    }
}
