//! The command centre's pages and assets (issue 16) and the officer trail endpoint.

use gad_testkit::TestApp;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, COOKIE, IF_NONE_MATCH};
use serde_json::json;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn session(token: &str) -> String {
    format!("access_token={token}")
}

async fn page(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut rb = no_redirects().get(app.url(path));
    if let Some(t) = token {
        rb = rb.header(COOKIE, session(t));
    }
    rb.send().await.unwrap()
}

fn location(r: &reqwest::Response) -> &str {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn root_and_pages_redirect_by_session_and_level() {
    let app = TestApp::spawn().await;
    let l1 = app.create_user(1).await;
    let l2 = app.create_user(2).await;
    let l3 = app.create_user(3).await;

    let r = page(&app, "/", None).await;
    assert!(r.status().is_redirection());
    assert_eq!(location(&r), "/login");
    let r = page(&app, "/", Some(&l2.token)).await;
    assert_eq!(location(&r), "/dashboard");
    // A forged or stale cookie is no session.
    let r = page(&app, "/", Some("not-a-jwt")).await;
    assert_eq!(location(&r), "/login");

    let r = page(&app, "/login", Some(&l2.token)).await;
    assert_eq!(
        location(&r),
        "/dashboard",
        "signed-in supervisor skips the login page"
    );
    let r = page(&app, "/login", Some(&l1.token)).await;
    assert_eq!(r.status(), StatusCode::OK, "level 1 sees the login page");

    for p in [
        "/dashboard",
        "/tareas",
        "/estadisticas",
        "/turnos",
        "/admin",
    ] {
        let r = page(&app, p, None).await;
        assert_eq!(location(&r), "/login", "{p} without session");
        let r = page(&app, p, Some(&l1.token)).await;
        assert_eq!(location(&r), "/login?motivo=supervisores", "{p} as level 1");
    }
    for p in ["/dashboard", "/tareas", "/estadisticas", "/turnos"] {
        let r = page(&app, p, Some(&l2.token)).await;
        assert_eq!(r.status(), StatusCode::OK, "{p} as level 2");
        let html = r.text().await.unwrap();
        assert!(!html.contains("/admin\""), "{p}: no admin link for level 2");
    }
    let r = page(&app, "/admin", Some(&l2.token)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-testid=\"forbidden\"")
    );
    let r = page(&app, "/admin", Some(&l3.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("href=\"/admin\""));
    assert!(html.contains("data-testid=\"admin-users\""));
}

#[tokio::test]
async fn pages_have_a_strict_csp_and_no_inline_script() {
    let app = TestApp::spawn().await;
    let l2 = app.create_user(2).await;
    let r = page(&app, "/dashboard", Some(&l2.token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("img-src 'self' data: https://*.tile.openstreetmap.org"),
        "{csp}"
    );
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    // Every script is an external file with a cache-busting version; none is inline.
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(scripts.len() >= 5, "{html}");
    for s in &scripts {
        let tag = &s[..s.find('>').unwrap()];
        assert!(
            tag.contains(" src=\"/assets/") && tag.contains("?v="),
            "{tag}"
        );
        assert!(
            s[s.find('>').unwrap() + 1..].starts_with("</script>"),
            "inline script: {s}"
        );
    }
    assert!(!html.contains(" style=\""), "no inline style attribute");
    assert!(html.contains("data-tile-url=\"https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png\""));
    assert!(html.contains("data-testid=\"map\""));
    assert!(html.contains("data-testid=\"unit-list\""));
    assert!(html.contains("data-testid=\"live-status\""));

    // The login page is public and has no navigation.
    let r = page(&app, "/login", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("content-security-policy"));
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"login-form\""));
    assert!(!html.contains("data-testid=\"logout\""));
}

#[tokio::test]
async fn map_tile_url_is_configurable_and_validated() {
    let app = TestApp::spawn_with(
        gad_testkit::Options::default().env("MAP_TILE_URL", "http://127.0.0.1:9/t/{z}/{x}/{y}.png"),
    )
    .await;
    let l2 = app.create_user(2).await;
    let r = page(&app, "/dashboard", Some(&l2.token)).await;
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("img-src 'self' data: http://127.0.0.1:9;"),
        "{csp}"
    );
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("data-tile-url=\"http://127.0.0.1:9/t/{z}/{x}/{y}.png\"")
    );

    let mut env = std::collections::HashMap::new();
    env.insert(
        "DATABASE_URL".to_string(),
        "postgres://x@127.0.0.1/x".to_string(),
    );
    env.insert("JWT_SECRET_KEY".to_string(), "k".repeat(40) + "abcdefgh");
    env.insert(
        "MAP_TILE_URL".to_string(),
        "javascript:alert(1)".to_string(),
    );
    let err = gad_api::Config::from_map(&env).unwrap_err();
    assert!(err.contains("MAP_TILE_URL"), "{err}");
}

#[tokio::test]
async fn assets_are_versioned_gzipped_and_cacheable() {
    let app = TestApp::spawn().await;
    let l2 = app.create_user(2).await;
    let html = page(&app, "/dashboard", Some(&l2.token))
        .await
        .text()
        .await
        .unwrap();
    let start = html.find("/assets/vendor/leaflet/leaflet.js?v=").unwrap();
    let url = &html[start..start + html[start..].find('"').unwrap()];

    let client = no_redirects();
    let r = client
        .get(app.url(url))
        .header(ACCEPT_ENCODING, "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-encoding"], "gzip");
    assert_eq!(h["content-type"], "application/javascript; charset=utf-8");
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    let gz = r.bytes().await.unwrap();
    let plain = client
        .get(app.url(url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        gz.len() * 2 < plain.len(),
        "{} vs {}",
        gz.len(),
        plain.len()
    );
    assert!(plain.starts_with(b"/* @preserve"));

    // Conditional request → 304; a stale version is served but not cached for long.
    let etag = h["etag"].to_str().unwrap().to_string();
    let r = client
        .get(app.url(url))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = client
        .get(app.url("/assets/vendor/leaflet/leaflet.js?v=old"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-cache");

    // The licence travels with the vendored library; templates and unknown files do not exist.
    let r = app.get("/assets/vendor/leaflet/LICENSE", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("BSD 2-Clause License"));
    for p in [
        "/assets/pages/layout.html",
        "/assets/nope.js",
        "/assets/../Cargo.toml",
    ] {
        let r = app.get(p, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
    }
    // Every asset a page names exists.
    for page_path in ["/dashboard", "/tareas", "/estadisticas", "/turnos"] {
        let html = page(&app, page_path, Some(&l2.token))
            .await
            .text()
            .await
            .unwrap();
        for part in html.split("\"/assets/").skip(1) {
            let u = format!("/assets/{}", &part[..part.find('"').unwrap()]);
            assert_eq!(app.get(&u, None).await.status, StatusCode::OK, "{u}");
        }
    }
}

#[tokio::test]
async fn trail_returns_stored_positions_in_the_window() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let ef = app.create_efectivo(None).await;
    let id = ef.efectivo_id.unwrap();
    for (i, lat) in [40.41, 40.42, 40.43].iter().enumerate() {
        let r = app
            .put(
                &format!("/api/v1/efectivos/{id}/ubicacion"),
                Some(&ef.token),
                json!({"lat": lat, "lng": -3.70 - i as f64 * 0.01, "accuracy_m": 5.0}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // An old point outside the default 4-hour window.
    sqlx::query(
        "INSERT INTO efectivo_ubicaciones (efectivo_id, geom, recorded_at)
         VALUES ($1, ST_SetSRID(ST_MakePoint(-3.0, 40.0), 4326)::geography, now() - interval '6 hours')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();

    let path = format!("/api/v1/efectivos/{id}/ubicaciones");
    let r = app.get(&path, Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["efectivo_id"], id);
    assert_eq!(r.body["truncado"], false);
    let pts = r.body["puntos"].as_array().unwrap();
    assert_eq!(pts.len(), 3, "{}", r.text);
    let lats: Vec<f64> = pts.iter().map(|p| p["lat"].as_f64().unwrap()).collect();
    assert_eq!(lats, vec![40.41, 40.42, 40.43], "oldest first");
    assert!((pts[2]["lng"].as_f64().unwrap() - -3.72).abs() < 1e-9);
    assert_eq!(pts[0]["accuracy_m"], 5.0);
    assert!(pts[0]["recorded_at"].as_str().unwrap().ends_with('Z'));

    // An explicit window that reaches back 7 hours includes the old point first.
    let desde = (chrono::Utc::now() - chrono::Duration::hours(7))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = app
        .get(&format!("{path}?desde={desde}"), Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["puntos"].as_array().unwrap().len(), 4);
    assert_eq!(r.body["puntos"][0]["lat"], 40.0);

    // Level 1, even for itself: 403. Unknown officer: 404. Reversed window: 422.
    let r = app.get(&path, Some(&ef.token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get("/api/v1/efectivos/999999999/ubicaciones", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get(
            &format!("{path}?desde=2026-12-01T10:00:00Z&hasta=2026-12-01T09:00:00Z"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "hasta"]));
    let r = app
        .get(&format!("{path}?desde=ayer"), Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app
        .get(
            &format!("{path}?desde=2026-01-01T00:00:00Z&hasta=2026-12-01T00:00:00Z"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

#[tokio::test]
async fn admin_unlocks_a_locked_account() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let victim = app.create_user(2).await;
    for _ in 0..5 {
        let r = app.login(&victim.email, "wrong-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.login(&victim.email, &victim.password).await;
    assert_eq!(r.status, StatusCode::LOCKED, "{}", r.text);

    let path = format!("/api/v1/users/{}/unlock", victim.id);
    let r = app.post(&path, Some(&sup.token), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post(&path, Some(&admin.token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"user_id": victim.id, "estaba_bloqueado": true, "intentos_fallidos": 5})
    );
    let r = app.login(&victim.email, &victim.password).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Idempotent, audited, 404 for nobody.
    let r = app.post(&path, Some(&admin.token), json!({})).await;
    assert_eq!(r.body["estaba_bloqueado"], false);
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'user_unlocked' AND resource_id = $1",
    )
    .bind(victim.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(n, 2);
    let r = app
        .post(
            "/api/v1/users/999999999/unlock",
            Some(&admin.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The command centre needs the whole picture on connect: a supervisor's snapshot of more
/// officers than fit one 64 KiB frame arrives in parts that add up to every located officer.
#[tokio::test]
async fn large_snapshot_arrives_in_parts() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "WITH u AS (
            INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
            SELECT 'snap' || g || '@test.gad', 'SNAP' || g, 'Snap', 'Shot', 'LEVEL_1', 'x', true
            FROM generate_series(1, 1201) g RETURNING id)
         INSERT INTO efectivos (usuario_id, codigo_interno, estado_disponibilidad, geom, ubicacion_updated_at)
         SELECT id, 'SNAP-' || id, 'DISPONIBLE',
                ST_SetSRID(ST_MakePoint(-58.38 + id * 1e-5, -34.6), 4326)::geography, now()
         FROM u",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let sup = app.create_user(2).await;
    let mut ws = gad_testkit::ws::WsClient::connect(&app, Some(&sup.token)).await;
    let (_ack, first) = ws.handshake().await;
    let mut parts = vec![first];
    while parts.len() < 3 {
        let next = ws.next_json(std::time::Duration::from_secs(5)).await;
        assert_eq!(next["event_type"], "system_status", "{next}");
        parts.push(next);
    }
    let mut ids = std::collections::BTreeSet::new();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["data"]["part"], i + 1, "{}", p["data"]["part"]);
        assert_eq!(p["data"]["parts"], 3);
        assert!(p.to_string().len() < 64 * 1024);
        for e in p["data"]["efectivos"].as_array().unwrap() {
            ids.insert(e["id"].as_i64().unwrap());
        }
    }
    assert_eq!(ids.len(), 1201);
    // Live deltas follow the parts as usual.
    let extra = app.create_efectivo(None).await;
    let r = app
        .put(
            &format!("/api/v1/efectivos/{}/ubicacion", extra.efectivo_id.unwrap()),
            Some(&sup.token),
            json!({"lat": -34.61, "lng": -58.39}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let delta = ws
        .wait_for(
            "efectivo_location_update",
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("location delta");
    assert_eq!(delta["data"]["efectivo_id"], extra.efectivo_id.unwrap());
}
