//! Issue 13: what breaks at real scale, under abuse and after a session ends. Each test here
//! failed on the code before the fix (real server, real PostgreSQL and Redis).

use std::time::{Duration, Instant};

use gad_testkit::ws::{Frame, WsClient};
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(5);

/// `n` located, available officers on a grid of 0.001° north-east of (lat, lng), inserted in
/// one statement.
pub(crate) async fn seed_officers(app: &TestApp, n: i64, lat: f64, lng: f64) {
    sqlx::query(
        "WITH u AS (
            INSERT INTO usuarios (email, dni, nombre, apellido, nivel, hashed_password, verificado)
            SELECT 'bulk' || g || '@gad.test', 'BULK-' || g, 'Bulk', 'Officer ' || g, 'LEVEL_1', 'x', true
            FROM generate_series(1, $1::bigint) g
            RETURNING id)
         INSERT INTO efectivos (usuario_id, codigo_interno, unidad, estado_disponibilidad, geom, ubicacion_updated_at)
         SELECT u.id, 'BULK-' || u.id, 'Unidad Norte', 'DISPONIBLE',
                ST_SetSRID(ST_MakePoint($3 + (u.id % 100) * 0.001, $2 + (u.id / 100) * 0.001), 4326)::geography, now()
         FROM u",
    )
    .bind(n)
    .bind(lat)
    .bind(lng)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn socket(app: &TestApp, u: &TestUser) -> WsClient {
    let mut c = WsClient::connect(app, Some(&u.token)).await;
    let ack = c.next_json(T).await;
    assert_eq!(ack["event_type"], "connection_ack", "{ack}");
    c
}

/// Reads the whole snapshot (every `system_status` part); returns the parts.
async fn read_snapshot(c: &mut WsClient) -> Vec<Value> {
    let mut parts = Vec::new();
    loop {
        let f = c.next(T).await;
        let Frame::Json(v) = f else {
            panic!("snapshot interrupted after {} parts: {f:?}", parts.len());
        };
        if v["event_type"] != "system_status" {
            continue;
        }
        let done = v["data"]["part"] == v["data"]["parts"] || v["data"].get("part").is_none();
        parts.push(v);
        if done {
            return parts;
        }
    }
}

// 1. The supervisor's live picture at command-centre scale.
#[tokio::test]
async fn a_supervisor_gets_a_city_sized_snapshot_in_bounded_parts_and_stays_connected() {
    let app = TestApp::spawn().await;
    seed_officers(&app, 1800, -34.6, -58.4).await;
    let admin = app.create_user(3).await;
    let mut c = socket(&app, &admin).await;
    let parts = read_snapshot(&mut c).await;
    let n = parts.len();
    assert!(n >= 4, "1 800 officers need several frames, got {n}");
    let mut ids = std::collections::HashSet::new();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["data"]["part"], i + 1);
        assert_eq!(p["data"]["parts"], n);
        let size = p.to_string().len();
        assert!(size <= 64 * 1024, "part {i} is {size} bytes");
        let efs = p["data"]["efectivos"].as_array().unwrap();
        assert!(efs.len() <= 500);
        for e in efs {
            ids.insert(e["id"].as_i64().unwrap());
        }
        assert!(p["data"]["emergencias_activas"].is_array());
    }
    assert_eq!(ids.len(), 1800, "every located officer, once");
    // Still open and answering.
    c.send_json(&json!({"event_type": "ping"})).await;
    let pong = c.wait_for("pong", T).await;
    assert!(pong.is_some(), "socket still alive after the snapshot");
}

// 2. dashboard_update is the stats overview, and rate limited per socket.
#[tokio::test]
async fn dashboard_update_is_the_stats_overview_and_at_most_one_per_second() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let ef = app.create_efectivo(Some((-34.6, -58.4))).await;
    for p in [1, 3, 5] {
        let r = app.create_task(&sup, ef.id, json!({"prioridad": p})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let http = app.get("/api/v1/stats/overview", Some(&sup.token)).await;
    assert_eq!(http.status, StatusCode::OK);
    let mut c = socket(&app, &sup).await;
    read_snapshot(&mut c).await;
    c.send_json(&json!({"event_type": "dashboard_update"}))
        .await;
    let ws = c
        .wait_for("dashboard_update", T)
        .await
        .expect("dashboard_update");
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("calculated_at");
        v
    };
    assert_eq!(
        strip(&ws["data"]),
        strip(&http.body),
        "one overview, one shape"
    );
    assert!(ws["data"]["tareas"]["por_prioridad"].get("1").is_none());
    // A second request within the second is refused with an error frame.
    c.send_json(&json!({"event_type": "dashboard_update"}))
        .await;
    let err = c.wait_for("error", T).await.expect("error frame");
    assert!(
        err["data"]["error"]
            .as_str()
            .unwrap()
            .contains("one per second"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.send_json(&json!({"event_type": "dashboard_update"}))
        .await;
    assert!(c.wait_for("dashboard_update", T).await.is_some());
}

// 3. Bodies cost what they carry; echoes are capped; passwords never echoed.
#[tokio::test]
async fn big_bodies_are_refused_by_route_and_errors_echo_little() {
    let app = TestApp::spawn().await;
    // 8 MiB array on login: refused by the 16 KiB login limit, by length and when chunked.
    let big = format!("[{}1]", "1,".repeat(4 * 1024 * 1024));
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text.len() < 200, "{}", r.text);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .as_bytes()
        .chunks(8 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // 20 KiB on login (over 16 KiB) is refused; 2 MiB on a JSON route (over 1 MiB) too.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(format!("{{\"username\": \"{}\"}}", "a".repeat(20 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let sup = app.create_user(2).await;
    let r = app
        .client
        .post(app.url("/api/v1/tasks"))
        .bearer_auth(&sup.token)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"titulo\": \"{}\"}}",
            "a".repeat(2 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A 12 KiB array where an object belongs: 422 whose echo is at most 200 bytes.
    let arr = format!("[{}1]", "1234567,".repeat(1500));
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(arr)
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let input = &r.body["errors"][0]["input"];
    assert!(
        input.to_string().len() <= 202,
        "echo is {} bytes",
        input.to_string().len()
    );
    // A long bad value inside an object: capped too.
    let r = app
        .post(
            "/api/v1/tasks",
            Some(&sup.token),
            json!({"titulo": "x", "tipo": "z".repeat(5000)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.len() < 1000, "{}", r.text);

    // Password fields are never echoed, whatever is wrong with them.
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "a@b.c", "password": ["secret-guess-1"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(!r.text.contains("secret-guess-1"), "{}", r.text);
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&sup.token),
            json!({"password": "short", "current_password": {"x": "secret-guess-2"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(!r.text.contains("secret-guess-2"), "{}", r.text);
}

// 4. Text PostgreSQL cannot store is a 422.
#[tokio::test]
async fn nul_characters_are_a_422_at_their_field_never_a_500() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let ef = app.create_efectivo(None).await;
    let r = app
        .post("/api/v1/tasks", Some(&admin.token), json!({"titulo": "a\u{0}b", "tipo": "patrullaje", "inicio_programado": "2026-12-01T10:00:00Z", "delegado_usuario_id": ef.id}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "titulo"]));
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin.token),
            json!({"email": "n@gad.test", "dni": "1", "nombre": "x\u{0}", "apellido": "y", "password": "long-enough-pass-1", "nivel": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "nombre"]));
    let r = app
        .put(
            &format!("/api/v1/efectivos/{}", ef.efectivo_id.unwrap()),
            Some(&admin.token),
            json!({"unidad": "\u{0}"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Query strings and forms too.
    let r = app
        .get("/api/v1/tasks?codigo=a%00b", Some(&admin.token))
        .await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    let r = app
        .get("/api/v1/tasks/by-code/a%00b", Some(&admin.token))
        .await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=a%00b&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.login(email, password).await.status
}

// 5. Lockout holds under parallel guesses, for unknown e-mails too, and for current_password.
#[tokio::test]
async fn parallel_guesses_verify_at_most_five_passwords() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = app.base.clone();
        let email = u.email.clone();
        let pass = if i == 13 {
            u.password.clone()
        } else {
            format!("wrong-{i}")
        };
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/auth/login"))
                .header("X-Forwarded-For", format!("198.51.100.{i}"))
                .form(&[("username", email), ("password", pass)])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut verified = 0;
    let mut locked = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED | StatusCode::OK => verified += 1,
            StatusCode::LOCKED => locked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(verified <= 5, "{verified} passwords verified");
    assert_eq!(verified + locked, 20);

    // Unknown e-mails: five failures, then 423 like a real account.
    for _ in 0..5 {
        assert_eq!(
            login_status(&app, "nobody@gad.test", "x").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login("nobody@gad.test", "x").await;
    assert_eq!(r.status, StatusCode::LOCKED, "{}", r.text);
    assert!(r.body["locked_until"].is_string());

    // Wrong current_password in PUT /users/me counts toward the same lockout.
    let v = app.create_user(1).await;
    for _ in 0..5 {
        let r = app
            .put(
                "/api/v1/users/me",
                Some(&v.token),
                json!({"password": "brand-new-pass-1", "current_password": "guess"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&v.token),
            json!({"password": "brand-new-pass-1", "current_password": v.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::LOCKED, "{}", r.text);
    assert_eq!(
        login_status(&app, &v.email, &v.password).await,
        StatusCode::LOCKED
    );
}

async fn expect_closed_1008(c: &mut WsClient, what: &str) {
    let start = Instant::now();
    loop {
        match c.next(Duration::from_secs(2)).await {
            Frame::Closed(Some((code, _))) => {
                assert_eq!(code, 1008, "{what}");
                return;
            }
            Frame::Closed(None) => panic!("{what}: closed without a close frame"),
            Frame::Timeout => panic!("{what}: still open after 2 s"),
            Frame::Json(_) => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{what}: not closed within 2 s"
        );
    }
}

// 6. Sessions end everywhere (two instances through Redis).
#[tokio::test]
async fn ending_a_session_closes_its_sockets_on_every_instance() {
    let a = TestApp::spawn_with_redis().await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    a.wait_redis_fanout().await;
    b.wait_redis_fanout().await;
    let admin = a.create_user(3).await;

    // Logout on A closes the user's socket on B.
    let u = a.create_user(1).await;
    let mut s = socket(&b, &u).await;
    let r = a
        .post("/api/v1/auth/logout", Some(&u.token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    expect_closed_1008(&mut s, "logout").await;

    // An admin's password reset, a deactivation, a demotion, a deletion: each closes.
    let cases: [(&str, Value); 3] = [
        ("password reset", json!({"password": "reset-by-admin-1"})),
        ("deactivation", json!({"verificado": false})),
        ("demotion", json!({"nivel": 1})),
    ];
    for (what, body) in cases {
        let u = a.create_user(2).await;
        let mut s = socket(&b, &u).await;
        let r = a
            .put(&format!("/api/v1/users/{}", u.id), Some(&admin.token), body)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
        expect_closed_1008(&mut s, what).await;
    }
    let u = a.create_user(1).await;
    let mut s = socket(&b, &u).await;
    let r = a
        .delete(&format!("/api/v1/users/{}", u.id), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    expect_closed_1008(&mut s, "deletion").await;

    // Own password change: other sessions end (token and socket); this one continues with
    // the token returned.
    let u = a.create_user(1).await;
    let other_token = a.login(&u.email, &u.password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut s = socket(&b, &u).await;
    let r = a
        .put(
            "/api/v1/users/me",
            Some(&u.token),
            json!({"password": "changed-pass-123", "current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    expect_closed_1008(&mut s, "own password change").await;
    let fresh = r.body["access_token"]
        .as_str()
        .expect("a fresh token")
        .to_string();
    assert_eq!(
        a.get("/api/v1/users/me", Some(&other_token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.get("/api/v1/users/me", Some(&u.token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        a.get("/api/v1/users/me", Some(&fresh)).await.status,
        StatusCode::OK
    );
    // A login right after the change (same second) gets a working token.
    let again = a.login(&u.email, "changed-pass-123").await;
    let t = again.body["access_token"].as_str().unwrap();
    assert_eq!(
        a.get("/api/v1/users/me", Some(t)).await.status,
        StatusCode::OK
    );
}

// 7. Dispatch only to officers who can receive it.
#[tokio::test]
async fn dispatch_skips_deleted_inactive_stale_and_the_caller() {
    let app = TestApp::spawn().await;
    let (lat, lng) = (-34.6037, -58.3816);
    let caller = app.create_efectivo(Some((lat, lng))).await;
    let deleted = app.create_efectivo(Some((lat + 0.0001, lng))).await;
    let inactive = app.create_efectivo(Some((lat + 0.0002, lng))).await;
    let stale = app.create_efectivo(Some((lat + 0.0003, lng))).await;
    let good = app.create_efectivo(Some((lat + 0.005, lng))).await;
    sqlx::query("UPDATE usuarios SET deleted_at = now() WHERE id = $1")
        .bind(deleted.id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE usuarios SET verificado = false WHERE id = $1")
        .bind(inactive.id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE efectivos SET ubicacion_updated_at = now() - interval '2 hours' WHERE id = $1",
    )
    .bind(stale.efectivo_id.unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let sup = app.create_user(2).await;
    let r = app
        .get(
            &format!("/api/v1/tasks/emergency/suggestions?lat={lat}&lng={lng}&limit=10"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<i64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["efectivo_id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&good.efectivo_id.unwrap()), "{ids:?}");
    for bad in [&deleted, &inactive, &stale] {
        assert!(!ids.contains(&bad.efectivo_id.unwrap()), "{ids:?}");
    }
    let r = app
        .get(
            &format!("/api/v1/geo/map/view?center_lat={lat}&center_lng={lng}&disponibles=true"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let on_map: Vec<i64> = r.body["usuarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["efectivo_id"].as_i64().unwrap())
        .collect();
    assert!(on_map.contains(&good.efectivo_id.unwrap()), "{on_map:?}");
    for bad in [&deleted, &inactive, &stale] {
        assert!(!on_map.contains(&bad.efectivo_id.unwrap()), "{on_map:?}");
    }
    // The caller (nearest of all) raises the emergency: the good officer is dispatched.
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&caller.token),
            json!({"lat": lat, "lng": lng}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["assigned_efectivo_id"], good.efectivo_id.unwrap());
    let task_id = r.body["task_id"].as_i64().unwrap();

    // Deleting the task (L3) returns its officer to disponible.
    let admin = app.create_user(3).await;
    let r = app
        .delete(&format!("/api/v1/tasks/{task_id}"), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let estado: String =
        sqlx::query_scalar("SELECT estado_disponibilidad::text FROM efectivos WHERE id = $1")
            .bind(good.efectivo_id.unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(estado, "DISPONIBLE");
}

// 8. Slow and greedy clients.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = TestApp::spawn_with(Options::default().env("HEADER_READ_TIMEOUT_SECONDS", "1")).await;
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("server closes within 5 s");
    let _ = n;
    assert!(start.elapsed() < Duration::from_secs(4));
    // A normal request still works.
    assert_eq!(app.get("/api/v1/health", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_is_free() {
    let app = TestApp::spawn_with(Options::default().env("MAX_CONNECTIONS", "2")).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        held.push(s); // keep-alive: the connection stays open
    }
    let third = tokio::time::timeout(
        Duration::from_millis(700),
        reqwest::Client::new().get(app.url("/api/v1/health")).send(),
    )
    .await;
    assert!(
        third.is_err(),
        "a third connection is not served while two are held"
    );
    drop(held);
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::Client::new().get(app.url("/api/v1/health")).send(),
    )
    .await
    .expect("served once a slot frees")
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_socket_may_subscribe_to_at_most_100_topics() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let mut c = socket(&app, &u).await;
    read_snapshot(&mut c).await;
    let topics: Vec<String> = (0..100).map(|i| format!("task:{i}")).collect();
    c.send_json(
        &json!({"event_type": "subscribe", "data": {"events": ["task_created"], "topics": topics}}),
    )
    .await;
    assert!(c.wait_for("notification", T).await.is_some());
    c.send_json(&json!({"event_type": "subscribe", "data": {"topics": ["task:100"]}}))
        .await;
    let e = c.wait_for("error", T).await.expect("error frame");
    assert!(e["data"]["error"].as_str().unwrap().contains("100"), "{e}");
}

#[test]
fn ipv6_clients_are_limited_by_their_64() {
    use gad_api::ratelimit::limit_key;
    let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: std::net::IpAddr = "2001:db8:1:2:bbbb:cccc:dddd:eeee".parse().unwrap();
    let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(limit_key(a), limit_key(b));
    assert_ne!(limit_key(a), limit_key(c));
    let v4: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    assert_eq!(limit_key(v4), v4);
    let mapped: std::net::IpAddr = "::ffff:203.0.113.9".parse().unwrap();
    assert_eq!(limit_key(mapped), v4);
}

// 9. No event lost in a burst: every event published on A reaches a socket on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_events_reaches_the_other_instance_without_loss() {
    use gad_service::events::{Audience, Event};
    let a = TestApp::spawn_with_redis().await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    a.wait_redis_fanout().await;
    b.wait_redis_fanout().await;
    let sup = b.create_user(2).await;
    let mut c = socket(&b, &sup).await;
    read_snapshot(&mut c).await;
    const EVENTS: usize = 15_000;
    let reader = tokio::spawn(async move {
        let mut got = 0usize;
        let deadline = Instant::now() + Duration::from_secs(60);
        while got < EVENTS && Instant::now() < deadline {
            match c.next(Duration::from_secs(5)).await {
                Frame::Json(v) if v["event_type"] == "task_created" => got += 1,
                Frame::Json(_) => {}
                other => panic!("socket ended after {got}: {other:?}"),
            }
        }
        got
    });
    // Faster than one PUBLISH round trip each, in bursts below a socket's queue.
    for chunk in 0..(EVENTS / 100) {
        for i in 0..100 {
            let t = crate::realtime::tarea((chunk * 100 + i) as i64, "T-burst");
            a.state
                .events
                .publish(Event::TaskCreated(t).to(Audience::Supervisors));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = reader.await.unwrap();
    assert_eq!(got, EVENTS, "events lost on the way to instance B");
}

// 10. Audit rows carry the client's address, not the proxy's.
#[tokio::test]
async fn audit_rows_record_the_forwarded_client_address() {
    let app =
        TestApp::spawn_with(Options::default().env("TRUSTED_PROXY_HOSTS", "127.0.0.1/32")).await;
    let u = app.create_user(1).await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("X-Forwarded-For", "203.0.113.77")
        .form(&[
            ("username", u.email.as_str()),
            ("password", u.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ip: String = sqlx::query_scalar(
        "SELECT host(ip_address) FROM audit_logs WHERE event_type = 'login_success' AND user_id = $1",
    )
    .bind(u.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(ip, "203.0.113.77");
}

#[tokio::test]
async fn a_request_stuck_past_the_timeout_gets_503_and_its_work_is_dropped() {
    let app = TestApp::spawn_with(Options::default().env("REQUEST_TIMEOUT_SECONDS", "1")).await;
    let u = app.create_user(1).await;
    // Another transaction holds the user's row: the update below waits on it.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM usuarios WHERE id = $1 FOR UPDATE")
        .bind(u.id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let start = Instant::now();
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&u.token),
            json!({"nombre": "Nuevo"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.body["detail"], "Request timed out");
    assert!(start.elapsed() < Duration::from_secs(4));
    blocker.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let nombre: String = sqlx::query_scalar("SELECT nombre FROM usuarios WHERE id = $1")
        .bind(u.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(
        nombre, "Nuevo",
        "the timed-out request's transaction rolled back"
    );
}

#[tokio::test]
async fn a_client_hanging_up_mid_request_does_not_cancel_the_work() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM usuarios WHERE id = $1 FOR UPDATE")
        .bind(u.id)
        .execute(&mut *blocker)
        .await
        .unwrap();
    // The client gives up (and closes its connection) while the update waits on the lock.
    let r = reqwest::Client::new()
        .put(app.url("/api/v1/users/me"))
        .bearer_auth(&u.token)
        .json(&json!({"nombre": "Terminado"}))
        .timeout(Duration::from_millis(400))
        .send()
        .await;
    assert!(r.is_err(), "the client timed out");
    tokio::time::sleep(Duration::from_millis(300)).await;
    blocker.rollback().await.unwrap();
    let start = Instant::now();
    loop {
        let nombre: String = sqlx::query_scalar("SELECT nombre FROM usuarios WHERE id = $1")
            .bind(u.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if nombre == "Terminado" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the request's work was cancelled with its connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
