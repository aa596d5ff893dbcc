//! Address search over the demo gazetteer (deploy/demo/lugares.geojson): house numbers
//! interpolated along street segments, intersections, fuzzy place names, the reverse search,
//! validation, and the external geocoder (asked first, fallen back from, cached).

use std::time::Duration;

use gad_testkit::fake_geocoder::{FakeGeocoder, Mode};
use gad_testkit::{Options, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The demo grid (deploy/demo/gen_lugares.py): Alem's longitude and one block westwards;
/// Rivadavia's latitude and one block northwards.
const LNG0: f64 = -58.3705;
const DLNG: f64 = 0.00123;
const LAT0: f64 = -34.6081;
const DLAT: f64 = 0.0011;
const CORRIENTES_LAT: f64 = LAT0 + 4.0 * DLAT;

const DEMO: &str = include_str!("../../../../deploy/demo/lugares.geojson");

async fn with_demo(app: &TestApp) {
    let read = gad_service::lugares::import::leer_geojson(DEMO).unwrap();
    assert!(read.rechazos.is_empty(), "{:?}", read.rechazos);
    gad_service::lugares::importar(&app.state.ctx, &read.filas, false)
        .await
        .unwrap();
}

async fn buscar(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let path = format!("/api/v1/geo/buscar?q={}", form_urlencoded_q(q));
    let r = app.get(&path, Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
    r.body.as_array().unwrap().clone()
}

fn form_urlencoded_q(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn near(v: &Value, lat: f64, lng: f64, tol: f64) -> bool {
    (v["lat"].as_f64().unwrap() - lat).abs() < tol && (v["lng"].as_f64().unwrap() - lng).abs() < tol
}

#[tokio::test]
async fn geo_buscar_interpolates_a_house_number_along_its_segment() {
    let app = TestApp::spawn().await;
    with_demo(&app).await;
    let officer = app.create_user(1).await;
    // Corrientes 1000–1500 runs five blocks west from Carlos Pellegrini's neighbour (index 10):
    // 1234 is 2.34 blocks further.
    let want_lng = LNG0 - 12.34 * DLNG;
    for q in [
        "Av. Corrientes 1234",
        "corrientes al 1234",
        "Corientes 1234",
    ] {
        let r = buscar(&app, &officer.token, q).await;
        assert_eq!(r[0]["tipo"], "direccion", "{q}: {r:?}");
        assert_eq!(r[0]["nombre"], "Av. Corrientes 1234", "{q}");
        assert!(near(&r[0], CORRIENTES_LAT, want_lng, 1e-6), "{q}: {r:?}");
    }
    // A number on a north-running street: Florida 250 is 2.5 blocks north of Rivadavia.
    let r = buscar(&app, &officer.token, "Florida 250").await;
    assert_eq!(r[0]["nombre"], "Florida 250");
    assert!(
        near(&r[0], LAT0 + 2.5 * DLAT, LNG0 - 4.0 * DLNG, 1e-6),
        "{r:?}"
    );
    // A number beyond every segment is no address; the street itself still matches by name.
    let r = buscar(&app, &officer.token, "Corrientes 98000").await;
    assert!(r.iter().all(|l| l["tipo"] != "direccion"), "{r:?}");
}

#[tokio::test]
async fn geo_buscar_finds_intersections() {
    let app = TestApp::spawn().await;
    with_demo(&app).await;
    let officer = app.create_user(1).await;
    for (q, lat, lng) in [
        ("Corrientes y Florida", CORRIENTES_LAT, LNG0 - 4.0 * DLNG),
        (
            "Lavalle esquina Maipú",
            LAT0 + 5.0 * DLAT,
            LNG0 - 5.0 * DLNG,
        ),
        ("tucuman e esmeralda", LAT0 + 6.0 * DLAT, LNG0 - 6.0 * DLNG),
        (
            "Av. Córdoba & Paraná",
            LAT0 + 8.0 * DLAT,
            LNG0 - 14.0 * DLNG,
        ),
    ] {
        let r = buscar(&app, &officer.token, q).await;
        assert_eq!(r[0]["tipo"], "interseccion", "{q}: {r:?}");
        assert!(near(&r[0], lat, lng, 1e-6), "{q}: {r:?}");
        // Neighbouring segments meeting at the crossing give one answer, not two.
        let same = r
            .iter()
            .filter(|l| l["tipo"] == "interseccion" && near(l, lat, lng, 1e-6))
            .count();
        assert_eq!(same, 1, "{q}: {r:?}");
    }
    let r = buscar(&app, &officer.token, "Corrientes y Florida").await;
    assert_eq!(r[0]["nombre"], "Av. Corrientes y Florida");
    // Two parallel streets never cross: no intersection is made up.
    let r = buscar(&app, &officer.token, "Corrientes y Lavalle").await;
    assert!(r.iter().all(|l| l["tipo"] != "interseccion"), "{r:?}");
}

#[tokio::test]
async fn geo_buscar_finds_places_by_partial_or_misspelt_names() {
    let app = TestApp::spawn().await;
    with_demo(&app).await;
    let officer = app.create_user(1).await;
    for (q, want) in [
        ("Obelisco", "Obelisco"),
        ("obelsico", "Obelisco"),
        ("teatro colon", "Teatro Colón"),
        (
            "Hospital Clinicas",
            "Hospital de Clínicas José de San Martín",
        ),
        ("comisaria 1-a", "Comisaría Vecinal 1-A"),
        ("Pza. de Mayo", "Plaza de Mayo"),
    ] {
        let r = buscar(&app, &officer.token, q).await;
        assert_eq!(r[0]["nombre"], want, "{q}: {r:?}");
        assert_eq!(r[0]["tipo"], "lugar", "{q}");
    }
    // A street by name appears once (not once per segment).
    let r = buscar(&app, &officer.token, "Tucumán").await;
    assert_eq!(r[0]["nombre"], "Tucumán");
    assert_eq!(r[0]["tipo"], "calle");
    assert_eq!(r.iter().filter(|l| l["nombre"] == "Tucumán").count(), 1);
    // limit bounds the answer; nothing alike is an empty list.
    let r = app
        .get(
            "/api/v1/geo/buscar?q=hospital&limit=2",
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2, "{}", r.text);
    assert!(buscar(&app, &officer.token, "zzzqqqxxx").await.is_empty());
}

#[tokio::test]
async fn geo_inverso_names_the_street_and_number_or_a_close_place() {
    let app = TestApp::spawn().await;
    with_demo(&app).await;
    let officer = app.create_user(1).await;
    // ~5 m north of Corrientes 1234.
    let (lat, lng) = (CORRIENTES_LAT + 0.00005, LNG0 - 12.34 * DLNG);
    let r = app
        .get(
            &format!("/api/v1/geo/inverso?lat={lat}&lng={lng}"),
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["nombre"], "Av. Corrientes 1234", "{}", r.text);
    assert_eq!(r.body["tipo"], "direccion");
    assert!(near(&r.body, CORRIENTES_LAT, lng, 1e-6), "{}", r.text);
    let d = r.body["distancia_m"].as_f64().unwrap();
    assert!((4.0..7.0).contains(&d), "{d}");
    // Beside the Obelisco the place names the spot, not the avenue it stands on.
    let r = app
        .get(
            "/api/v1/geo/inverso?lat=-34.60375&lng=-58.38159",
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.body["nombre"], "Obelisco", "{}", r.text);
    assert_eq!(r.body["tipo"], "lugar");
    // Far from everything: 404.
    let r = app
        .get(
            "/api/v1/geo/inverso?lat=-34.7&lng=-58.5",
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn geo_buscar_refuses_bad_queries_with_422() {
    let app = TestApp::spawn().await;
    let officer = app.create_user(1).await;
    let long = "a".repeat(201);
    for (path, field) in [
        ("/api/v1/geo/buscar?q=a".to_string(), "q"),
        ("/api/v1/geo/buscar?q=%20%20a%20".to_string(), "q"),
        (format!("/api/v1/geo/buscar?q={long}"), "q"),
        ("/api/v1/geo/buscar".to_string(), "q"),
        ("/api/v1/geo/buscar?q=obelisco&limit=0".to_string(), "limit"),
        (
            "/api/v1/geo/buscar?q=obelisco&limit=21".to_string(),
            "limit",
        ),
        ("/api/v1/geo/inverso?lat=91&lng=0".to_string(), "lat"),
        ("/api/v1/geo/inverso?lat=0".to_string(), "lng"),
    ] {
        let r = app.get(&path, Some(&officer.token)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.text
        );
        assert_eq!(
            r.body["errors"][0]["loc"],
            json!(["query", field]),
            "{path}"
        );
    }
    let ok = format!("/api/v1/geo/buscar?q={}", "a".repeat(200));
    assert_eq!(
        app.get(&ok, Some(&officer.token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/geo/buscar?q=obelisco", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn with_geocoder(fake: &FakeGeocoder, kind: &str) -> TestApp {
    TestApp::spawn_with(
        Options::default()
            .env("GEOCODER_URL", &fake.url())
            .env("GEOCODER_KIND", kind)
            .env("GEOCODER_TIMEOUT_MS", "300"),
    )
    .await
}

#[tokio::test]
async fn geo_buscar_asks_the_external_geocoder_first_and_falls_back_to_the_gazetteer() {
    let fake = FakeGeocoder::start().await;
    fake.answer_search(
        json!([{"lat": "-34.6000", "lon": "-58.3900", "category": "amenity",
        "type": "police", "display_name": "Comisaría externa, Buenos Aires"}]),
    );
    let app = with_geocoder(&fake, "nominatim").await;
    with_demo(&app).await;
    let officer = app.create_user(1).await;

    let r = buscar(&app, &officer.token, "Obelisco").await;
    assert_eq!(
        r,
        vec![
            json!({"nombre": "Comisaría externa, Buenos Aires", "tipo": "lugar", "lat": -34.6, "lng": -58.39})
        ]
    );
    let asked = fake.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].path, "/search");
    assert!(asked[0].query.contains("q=Obelisco"), "{:?}", asked[0]);
    assert!(asked[0].query.contains("format=jsonv2"), "{:?}", asked[0]);
    // The intake's reading of an address goes the same way.
    let first = gad_service::lugares::geocode_first(&app.state.ctx, "Obelisco")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.nombre, "Comisaría externa, Buenos Aires");

    // Failing, stalling past the timeout, or answering nothing: the gazetteer answers.
    fake.set_mode(Mode::Fail);
    let r = buscar(&app, &officer.token, "Teatro Colon").await;
    assert_eq!(r[0]["nombre"], "Teatro Colón");
    fake.set_mode(Mode::Stall(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let r = buscar(&app, &officer.token, "Corrientes 1234").await;
    assert_eq!(r[0]["nombre"], "Av. Corrientes 1234");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    fake.set_mode(Mode::Answer);
    fake.answer_search(json!([]));
    let r = buscar(&app, &officer.token, "Plaza San Martin").await;
    assert_eq!(r[0]["nombre"], "Plaza San Martín");
    // Obelisco, the intake's Obelisco (another limit), and the three fallbacks.
    assert_eq!(fake.requests().len(), 5);

    // Reverse: the geocoder's place, with the distance from the asked point.
    fake.answer_reverse(
        json!({"lat": "-34.6010", "lon": "-58.3800", "category": "highway",
        "type": "primary", "display_name": "Avenida externa"}),
    );
    let r = app
        .get(
            "/api/v1/geo/inverso?lat=-34.6&lng=-58.38",
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["nombre"], "Avenida externa");
    assert_eq!(r.body["tipo"], "calle");
    let d = r.body["distancia_m"].as_f64().unwrap();
    assert!((110.0..112.0).contains(&d), "{d}");
    // Its failure: the gazetteer's answer.
    fake.set_mode(Mode::Fail);
    let r = app
        .get(
            "/api/v1/geo/inverso?lat=-34.60375&lng=-58.38159",
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.body["nombre"], "Obelisco", "{}", r.text);
}

#[tokio::test]
async fn geo_buscar_speaks_photon() {
    let fake = FakeGeocoder::start().await;
    fake.answer_search(json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-58.38, -34.6]},
         "properties": {"street": "Avenida Corrientes", "housenumber": "1234", "city": "Buenos Aires"}}]}));
    let app = with_geocoder(&fake, "photon").await;
    let officer = app.create_user(1).await;
    let r = buscar(&app, &officer.token, "Corrientes 1234").await;
    assert_eq!(r[0]["nombre"], "Avenida Corrientes 1234, Buenos Aires");
    assert_eq!(r[0]["tipo"], "direccion");
    assert_eq!(fake.requests()[0].path, "/api");
}

#[tokio::test]
async fn geo_buscar_caches_answers_per_normalised_query() {
    let fake = FakeGeocoder::start().await;
    fake.answer_search(
        json!([{"lat": "-34.6", "lon": "-58.38", "display_name": "Obelisco externo"}]),
    );
    let app = with_geocoder(&fake, "nominatim").await;
    let officer = app.create_user(1).await;
    for q in ["Obelisco", "obelisco", "  OBELISCO ", "Obélisco"] {
        let r = buscar(&app, &officer.token, q).await;
        assert_eq!(r[0]["nombre"], "Obelisco externo", "{q}");
    }
    assert_eq!(fake.requests().len(), 1, "{:?}", fake.requests());
    // Another limit is another answer.
    app.get(
        "/api/v1/geo/buscar?q=obelisco&limit=3",
        Some(&officer.token),
    )
    .await;
    assert_eq!(fake.requests().len(), 2);
    // An import may change the answers: the cache is dropped.
    gad_service::lugares::importar(&app.state.ctx, &[], false)
        .await
        .unwrap();
    buscar(&app, &officer.token, "obelisco").await;
    assert_eq!(fake.requests().len(), 3);
}
