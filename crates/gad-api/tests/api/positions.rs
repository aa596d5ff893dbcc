//! Positions at fleet scale: the group-commit writer (ordering, concurrency,
//! durability of what was answered), day partitions (created ahead, retention drops whole
//! days, the writer's safety net), the simplified trail, and the map socket (bounding box,
//! coalescing).

use std::time::{Duration, Instant};

use chrono::{Days, SecondsFormat, Utc};
use gad_store::positions::{self, Fix, Written};
use gad_testkit::TestApp;
use gad_testkit::ws::{Frame, WsClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn history(app: &TestApp, id: i64) -> Vec<(f64, f64)> {
    sqlx::query_as(
        "SELECT ST_Y(geom::geometry), ST_X(geom::geometry) FROM efectivo_ubicaciones
         WHERE efectivo_id = $1 ORDER BY recorded_at",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_older_fix_never_overwrites_a_newer_one() {
    let app = TestApp::spawn().await;
    let me = app.create_efectivo(None).await;
    let id = me.efectivo_id.unwrap();
    let path = format!("/api/v1/efectivos/{id}/ubicacion");
    let now = Utc::now();
    let newer = now - chrono::Duration::seconds(10);
    let older = now - chrono::Duration::seconds(60);

    let r = app
        .put(
            &path,
            Some(&me.token),
            json!({"lat": 40.0, "lng": -3.0, "recorded_at": ts(newer)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ubicacion"]["lat"], 40.0);
    // The older fix arrives late: stored in the history, the position stays the newer one.
    let r = app
        .put(
            &path,
            Some(&me.token),
            json!({"lat": 41.0, "lng": -4.0, "recorded_at": ts(older)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ubicacion"]["lat"], 40.0, "{}", r.text);
    assert_eq!(
        r.body["ubicacion"]["updated_at"],
        json!(newer.to_rfc3339_opts(SecondsFormat::Millis, true))
    );
    assert_eq!(history(&app, id).await, vec![(41.0, -4.0), (40.0, -3.0)]);

    // Inside one batch, in either order, the newest recorded_at wins.
    let t0 = gad_service::ingest::micros(Utc::now());
    for (round, swap) in [(0i64, false), (1, true)] {
        let fix = |lat: f64, secs: i64| Fix {
            efectivo_id: id,
            lat,
            lng: 0.0,
            accuracy_m: None,
            heading: None,
            speed: None,
            recorded_at: t0 + chrono::Duration::seconds(round * 10 + secs),
        };
        let (old, new) = (fix(1.0, 1), fix(2.0, 2));
        let batch = if swap { vec![new, old] } else { vec![old, new] };
        let out = positions::write_batch(&app.pool, &batch).await.unwrap();
        let applied: Vec<(f64, bool, Option<f64>)> = batch
            .iter()
            .zip(&out)
            .map(|(f, w)| match w {
                Written::Stored { row, applied } => (f.lat, *applied, row.lat),
                Written::NotFound => panic!("not found"),
            })
            .collect();
        for (lat, ap, row_lat) in applied {
            assert_eq!(row_lat, Some(2.0), "swap={swap}");
            assert_eq!(ap, lat == 2.0, "swap={swap}");
        }
    }

    // Refused: from the future (beyond 60 s of skew) or older than the retention window.
    for (t, why) in [
        (now + chrono::Duration::seconds(120), "future"),
        (now - chrono::Duration::days(31), "retention"),
    ] {
        let r = app
            .put(
                &path,
                Some(&me.token),
                json!({"lat": 1.0, "lng": 1.0, "recorded_at": ts(t)}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            r.text
        );
        assert_eq!(r.body["errors"][0]["loc"], json!(["body", "recorded_at"]));
    }
    let r = app
        .put(
            &path,
            Some(&me.token),
            json!({"lat": 1.0, "lng": 1.0, "recorded_at": "yesterday"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

#[tokio::test]
async fn concurrent_updates_are_all_committed_and_batched() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(app.create_efectivo(None).await.efectivo_id.unwrap());
    }
    let base = Utc::now() - chrono::Duration::seconds(30);
    let mut reqs = Vec::new();
    for k in 0..10i64 {
        for (i, id) in ids.iter().enumerate() {
            let body = json!({
                "lat": 40.0 + k as f64 * 0.001, "lng": -3.0 - i as f64 * 0.001,
                "recorded_at": ts(base + chrono::Duration::seconds(k)),
            });
            let path = format!("/api/v1/efectivos/{id}/ubicacion");
            let token = sup.token.clone();
            let app = &app;
            reqs.push(async move { app.put(&path, Some(&token), body).await });
        }
    }
    let answers = futures::future::join_all(reqs).await;
    assert!(
        answers.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM efectivo_ubicaciones")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 200);
    // Group commit: 200 fixes arriving together share transactions (the history's ids come
    // from one sequence, the rows of one batch share their transaction id).
    let txs: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM efectivo_ubicaciones")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(txs < 200, "{txs} transactions for 200 fixes");
    // Every officer ends on its newest fix.
    for (i, id) in ids.iter().enumerate() {
        let r = app
            .get(&format!("/api/v1/efectivos/{id}"), Some(&sup.token))
            .await;
        assert!((r.body["ubicacion"]["lat"].as_f64().unwrap() - 40.009).abs() < 1e-9);
        assert!(
            (r.body["ubicacion"]["lng"].as_f64().unwrap() - (-3.0 - i as f64 * 0.001)).abs() < 1e-9
        );
    }
}

#[tokio::test]
async fn trail_is_simplified_to_max_points() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let id = app.create_efectivo(None).await.efectivo_id.unwrap();
    // 24 h at one fix per 10 s: east for 12 h, then north for 12 h (an L with its corner at
    // fix 4320).
    sqlx::query(
        "INSERT INTO efectivo_ubicaciones (efectivo_id, geom, recorded_at)
         SELECT $1, ST_SetSRID(ST_MakePoint(
                    -3.0 + LEAST(g, 4320) * 1e-5, 40.0 + GREATEST(g - 4320, 0) * 1e-5), 4326)::geography,
                $2::timestamptz + g * interval '10 seconds'
         FROM generate_series(0, 8639) g",
    )
    .bind(id)
    .bind(Utc::now() - chrono::Duration::hours(24))
    .execute(&app.pool)
    .await
    .unwrap();
    let path = format!("/api/v1/efectivos/{id}/ubicaciones");
    let desde = ts(Utc::now() - chrono::Duration::hours(25));
    let r = app
        .get(
            &format!("{path}?desde={desde}&max_points=100"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total_puntos"], 8640);
    assert_eq!(r.body["truncado"], true);
    let pts = r.body["puntos"].as_array().unwrap();
    assert!(pts.len() >= 2 && pts.len() <= 100, "{}", pts.len());
    assert_eq!(pts[0]["lng"], -3.0);
    assert!((pts.last().unwrap()["lat"].as_f64().unwrap() - 40.04319).abs() < 1e-9);
    let times: Vec<&str> = pts
        .iter()
        .map(|p| p["recorded_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");
    // Three points: the two ends and the corner.
    let r = app
        .get(
            &format!("{path}?desde={desde}&max_points=3"),
            Some(&sup.token),
        )
        .await;
    let pts = r.body["puntos"].as_array().unwrap();
    assert_eq!(pts.len(), 3, "{}", r.text);
    assert!((pts[1]["lng"].as_f64().unwrap() - (-3.0 + 0.0432)).abs() < 1e-9);
    assert!((pts[1]["lat"].as_f64().unwrap() - 40.0).abs() < 1e-9);
    // Default budget (5000) on the same window: simplified too, within it.
    let r = app
        .get(&format!("{path}?desde={desde}"), Some(&sup.token))
        .await;
    let n = r.body["puntos"].as_array().unwrap().len();
    assert!((2..=5000).contains(&n), "{n}");
    assert_eq!(r.body["truncado"], true);
    // A window over 48 h is pre-sampled in SQL first: every fix counted, the budget holds.
    let desde3 = ts(Utc::now() - chrono::Duration::hours(72));
    let r = app
        .get(
            &format!("{path}?desde={desde3}&max_points=100"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total_puntos"], 8640);
    let pts = r.body["puntos"].as_array().unwrap();
    assert!(pts.len() >= 2 && pts.len() <= 100, "{}", pts.len());
    assert_eq!(pts[0]["lng"], -3.0);
    // A short window is answered whole.
    let recent = ts(Utc::now() - chrono::Duration::seconds(95));
    let r = app
        .get(
            &format!("{path}?desde={recent}&max_points=100"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.body["truncado"], false, "{}", r.text);
    assert_eq!(
        r.body["puntos"].as_array().unwrap().len() as i64,
        r.body["total_puntos"].as_i64().unwrap()
    );
    // max_points is 2–5000.
    for bad in ["1", "5001", "x"] {
        let r = app
            .get(&format!("{path}?max_points={bad}"), Some(&sup.token))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(r.body["errors"][0]["loc"], json!(["query", "max_points"]));
    }
}

async fn exists(app: &TestApp, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn part(d: chrono::NaiveDate) -> String {
    format!("efectivo_ubicaciones_p{}", d.format("%Y%m%d"))
}

#[tokio::test]
async fn partitions_are_created_ahead_and_retention_drops_whole_days() {
    let app = TestApp::spawn().await;
    let id = app.create_efectivo(None).await.efectivo_id.unwrap();
    let today = Utc::now().date_naive();
    let days = app.state.config.location_retention_days as u64;
    let report = gad_service::partitions::maintain(&app.state.ctx)
        .await
        .unwrap();
    assert!(report.dropped.is_empty(), "{report:?}");
    for ahead in 0..=gad_service::partitions::AHEAD_DAYS {
        assert!(
            exists(&app, &part(today + Days::new(ahead))).await,
            "+{ahead}"
        );
    }
    // A day past the retention (made by hand) with rows, and a day just inside it.
    let old = today - Days::new(days + 3);
    let kept = today - Days::new(days);
    positions::ensure_partitions(&app.pool, old, old)
        .await
        .unwrap();
    for (day, n) in [(old, 5000), (kept, 7), (today, 3)] {
        sqlx::query(
            "INSERT INTO efectivo_ubicaciones (efectivo_id, geom, recorded_at)
             SELECT $1, ST_SetSRID(ST_MakePoint(0, 0), 4326)::geography,
                    $2::date::timestamp AT TIME ZONE 'UTC' + interval '1 hour'
             FROM generate_series(1, $3)",
        )
        .bind(id)
        .bind(day)
        .bind(n)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    // Another instance retiring days (holding the lock): this one skips the drop.
    let mut other = app.pool.acquire().await.unwrap();
    assert!(positions::try_lock_retention(&mut other).await.unwrap());
    let report = gad_service::partitions::maintain(&app.state.ctx)
        .await
        .unwrap();
    assert!(report.dropped.is_empty(), "{report:?}");
    assert!(exists(&app, &part(old)).await);
    positions::unlock_retention(&mut other).await.unwrap();
    drop(other);
    let report = gad_service::partitions::maintain(&app.state.ctx)
        .await
        .unwrap();
    assert_eq!(report.dropped, vec![part(old)]);
    // The retirement is audited (issue 18: every retention run), by the server's own role.
    let audited: serde_json::Value = sqlx::query_scalar(
        "SELECT new_values FROM audit_logs WHERE event_type = 'retention_partitions_dropped'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited["dropped"], serde_json::json!([part(old)]));
    assert!(
        !exists(&app, &part(old)).await,
        "the whole day table is gone"
    );
    assert!(exists(&app, &part(kept)).await);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM efectivo_ubicaciones")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 10);
    let again = gad_service::partitions::maintain(&app.state.ctx)
        .await
        .unwrap();
    assert_eq!((again.created, again.dropped.len()), (0, 0));

    // Safety net: today's partition missing (job not run yet) → the writer creates it, 200.
    sqlx::raw_sql(&format!(
        "ALTER TABLE efectivo_ubicaciones DETACH PARTITION {0}; DROP TABLE {0}",
        part(today)
    ))
    .execute(&app.pool)
    .await
    .unwrap();
    let sup = app.create_user(2).await;
    let r = app
        .put(
            &format!("/api/v1/efectivos/{id}/ubicacion"),
            Some(&sup.token),
            json!({"lat": 1.0, "lng": 2.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(exists(&app, &part(today)).await);
    assert!(history(&app, id).await.contains(&(1.0, 2.0)));
}

/// Location events of `id` received during `window`, with their arrival instants.
async fn location_events(ws: &mut WsClient, window: Duration) -> Vec<(Instant, Value)> {
    let deadline = tokio::time::Instant::now() + window;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.next(left).await {
            Frame::Json(v) if v["event_type"] == "efectivo_location_update" => {
                out.push((Instant::now(), v))
            }
            Frame::Json(_) => {}
            _ => return out,
        }
    }
}

/// Reads frames until the snapshot is complete; returns the officer ids in it.
async fn snapshot_ids(ws: &mut WsClient) -> Vec<i64> {
    let mut ids = Vec::new();
    loop {
        let f = ws
            .wait_for("system_status", Duration::from_secs(5))
            .await
            .unwrap();
        for e in f["data"]["efectivos"].as_array().unwrap() {
            ids.push(e["id"].as_i64().unwrap());
        }
        if f["data"]["part"] == f["data"]["parts"] {
            return ids;
        }
    }
}

// A 1 km box around Puerta del Sol.
const BOX: [f64; 4] = [-3.709, 40.412, -3.697, 40.421];

#[tokio::test]
async fn bbox_subscription_filters_events_and_the_snapshot() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let inside = app.create_efectivo(Some((40.4168, -3.7038))).await;
    let outside = app.create_efectivo(Some((40.45, -3.60))).await;
    let (i_id, o_id) = (inside.efectivo_id.unwrap(), outside.efectivo_id.unwrap());

    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    let (_ack, _snap) = ws.handshake().await;
    ws.send_json(&json!({"event_type": "subscribe", "data": {"bbox": BOX}}))
        .await;
    let ok = ws.next_json(Duration::from_secs(5)).await;
    assert_eq!(ok["event_type"], "notification", "{ok}");
    assert_eq!(snapshot_ids(&mut ws).await, vec![i_id]);

    // Both move (each stays on its side): only the one inside reaches the socket.
    for (u, id, lat, lng) in [
        (&outside, o_id, 40.451, -3.601),
        (&inside, i_id, 40.4169, -3.7039),
    ] {
        let r = app
            .put(
                &format!("/api/v1/efectivos/{id}/ubicacion"),
                Some(&u.token),
                json!({"lat": lat, "lng": lng}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let got = location_events(&mut ws, Duration::from_millis(1500)).await;
    let who: Vec<i64> = got
        .iter()
        .map(|(_, v)| v["data"]["efectivo_id"].as_i64().unwrap())
        .collect();
    assert_eq!(who, vec![i_id]);

    // The same box at connect time: the first snapshot honours it.
    let q = format!("bbox={},{},{},{}", BOX[0], BOX[1], BOX[2], BOX[3]);
    let headers = vec![("authorization".to_string(), format!("Bearer {}", sup.token))];
    let mut ws2 = WsClient::connect_with(&app, &q, &headers).await.unwrap();
    assert_eq!(
        ws2.next_json(Duration::from_secs(5)).await["event_type"],
        "connection_ack"
    );
    assert_eq!(snapshot_ids(&mut ws2).await, vec![i_id]);
    // Clearing the box brings everyone back.
    ws2.send_json(&json!({"event_type": "subscribe", "data": {"bbox": null}}))
        .await;
    let mut all = snapshot_ids(&mut ws2).await;
    all.sort_unstable();
    assert_eq!(all, vec![i_id, o_id]);
    // A bad box is refused and changes nothing.
    for bad in [json!([1, 2, 3]), json!([0, 10, 1, 5]), json!("x")] {
        ws2.send_json(&json!({"event_type": "subscribe", "data": {"bbox": bad}}))
            .await;
        let e = ws2.wait_for("error", Duration::from_secs(5)).await.unwrap();
        assert!(
            e["data"]["error"]
                .as_str()
                .unwrap()
                .starts_with("Invalid bbox"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn location_events_are_coalesced_to_one_per_officer_per_second() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let me = app.create_efectivo(Some((40.0, -3.0))).await;
    let id = me.efectivo_id.unwrap();
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;

    // 20 fixes, 100 ms apart (~2 s, more on a loaded machine).
    let sender = {
        let base = app.base.clone();
        let token = me.token.clone();
        let client = app.client.clone();
        tokio::spawn(async move {
            for k in 0..20 {
                let r = client
                    .put(format!("{base}/api/v1/efectivos/{id}/ubicacion"))
                    .bearer_auth(&token)
                    .json(&json!({"lat": 40.0 + k as f64 * 0.0001, "lng": -3.0}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Read while the fixes are sent, then long enough for the last held one to go out.
    let start = Instant::now();
    let mut got = Vec::new();
    while !sender.is_finished() {
        got.extend(location_events(&mut ws, Duration::from_millis(200)).await);
    }
    got.extend(location_events(&mut ws, Duration::from_millis(1500)).await);
    let elapsed = start.elapsed().as_secs_f64();
    sender.await.unwrap();
    assert!(
        got.len() >= 2 && got.len() as f64 <= elapsed + 1.0,
        "{} events for 20 fixes in {elapsed:.1} s",
        got.len()
    );
    for w in got.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= Duration::from_millis(900),
            "{gap:?} between two events"
        );
    }
    // The last event carries the last fix (nothing is lost at the end, only in between).
    let last = &got.last().unwrap().1;
    assert!(
        (last["data"]["lat"].as_f64().unwrap() - 40.0019).abs() < 1e-9,
        "{last}"
    );
}

/// Coordinates a browser sends (shortest round-trip decimals, 17 significant digits) that a
/// best-effort JSON float parser reads one unit in the last place off.
const EXACT: [&str; 3] = [
    "-58.405472667025364",
    "-58.408210144480684",
    "-58.400626900334316",
];

/// What an officer sends is what is stored, answered and broadcast, to the last bit: the map
/// and the history must not disagree with the device (a browser test compares exactly).
#[tokio::test]
async fn coordinates_are_kept_to_the_last_bit() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let me = app.create_efectivo(None).await;
    let id = me.efectivo_id.unwrap();
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    let _ = ws.handshake().await;
    let exact: Vec<f64> = EXACT.iter().map(|s| s.parse().unwrap()).collect();

    // The one-fix route, the body written by hand so no client library rounds it first.
    let r = app
        .send_raw(
            reqwest::Method::PUT,
            &format!("/api/v1/efectivos/{id}/ubicacion"),
            Some(&me.token),
            &format!(r#"{{"lat": -34.5, "lng": {}}}"#, EXACT[0]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains(EXACT[0]), "answer: {}", r.text);
    let event = ws
        .wait_for("efectivo_location_update", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(event.to_string().contains(EXACT[0]), "event: {event}");

    // The gateway route.
    let fixes: Vec<String> = EXACT[1..]
        .iter()
        .enumerate()
        .map(|(i, lng)| format!(r#"{{"efectivo_id": {id}, "lat": -34.{i}, "lng": {lng}}}"#))
        .collect();
    let r = app
        .send_raw(
            reqwest::Method::POST,
            "/api/v1/ubicaciones",
            Some(&sup.token),
            &format!(r#"{{"ubicaciones": [{}]}}"#, fixes.join(",")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let stored: Vec<u64> = history(&app, id)
        .await
        .iter()
        .map(|(_, lng)| lng.to_bits())
        .collect();
    let sent: Vec<u64> = exact.iter().map(|x| x.to_bits()).collect();
    assert_eq!(stored, sent, "history {:?}", history(&app, id).await);
}

#[tokio::test]
async fn a_gateway_batch_is_committed_fix_by_fix_with_the_same_rules() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let a = app.create_efectivo(None).await;
    let b = app.create_efectivo(None).await;
    let (ia, ib) = (a.efectivo_id.unwrap(), b.efectivo_id.unwrap());
    let now = Utc::now();
    let at = |s: i64| ts(now - chrono::Duration::seconds(s));
    let mut ws = WsClient::connect(&app, Some(&sup.token)).await;
    let _ = ws.handshake().await;
    let lote = json!({"ubicaciones": [
        {"efectivo_id": ia, "lat": 40.0, "lng": -3.0, "recorded_at": at(30)},
        {"efectivo_id": ia, "lat": 40.1, "lng": -3.1, "recorded_at": at(10)},
        {"efectivo_id": ia, "lat": 40.2, "lng": -3.2, "recorded_at": at(20)},
        {"efectivo_id": ib, "lat": 41.0, "lng": -4.0, "speed": 1.5},
        {"efectivo_id": 987_654_321, "lat": 1.0, "lng": 1.0},
    ]});
    let r = app
        .post("/api/v1/ubicaciones", Some(&sup.token), lote)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["aplicadas"], 2, "{}", r.text);
    assert_eq!(r.body["solo_historial"], 2, "{}", r.text);
    assert_eq!(r.body["no_encontradas"], 1, "{}", r.text);
    let kinds: Vec<&str> = r.body["resultados"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["resultado"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "solo_historial",
            "aplicada",
            "solo_historial",
            "aplicada",
            "no_encontrado"
        ]
    );
    // Committed before the answer: the history in recorded_at order, the newest fix is the position.
    assert_eq!(
        history(&app, ia).await,
        vec![(40.0, -3.0), (40.2, -3.2), (40.1, -3.1)]
    );
    let r = app
        .get(&format!("/api/v1/efectivos/{ia}"), Some(&sup.token))
        .await;
    assert_eq!(r.body["ubicacion"]["lat"], 40.1, "{}", r.text);
    // The map hears of both officers that moved, as with the single route.
    let heard: Vec<i64> = location_events(&mut ws, Duration::from_millis(500))
        .await
        .iter()
        .map(|(_, e)| e["data"]["efectivo_id"].as_i64().unwrap())
        .collect();
    assert!(heard.contains(&ia) && heard.contains(&ib), "{heard:?}");

    // One invalid fix refuses the whole request, and says which one.
    let r = app
        .post(
            "/api/v1/ubicaciones",
            Some(&sup.token),
            json!({"ubicaciones": [
                {"efectivo_id": ia, "lat": 10.0, "lng": 10.0},
                {"efectivo_id": ib, "lat": 95.0, "lng": 10.0},
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "ubicaciones", 1, "lat"])
    );
    let old = ts(now - chrono::Duration::days(400));
    let r = app
        .post(
            "/api/v1/ubicaciones",
            Some(&sup.token),
            json!({"ubicaciones": [{"efectivo_id": ia, "lat": 1.0, "lng": 1.0, "recorded_at": old}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "ubicaciones", 0, "recorded_at"])
    );
    let r = app
        .post(
            "/api/v1/ubicaciones",
            Some(&sup.token),
            json!({"ubicaciones": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        history(&app, ia).await.len(),
        3,
        "nothing of a refused request is stored"
    );

    // An officer may send its own fixes only.
    let own = json!({"ubicaciones": [{"efectivo_id": ia, "lat": 40.3, "lng": -3.3}]});
    let r = app.post("/api/v1/ubicaciones", Some(&a.token), own).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let other = json!({"ubicaciones": [{"efectivo_id": ib, "lat": 40.3, "lng": -3.3}]});
    let r = app.post("/api/v1/ubicaciones", Some(&a.token), other).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(
            "/api/v1/ubicaciones",
            None,
            json!({"ubicaciones": [{"efectivo_id": ia, "lat": 1.0, "lng": 1.0}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

#[tokio::test]
async fn a_supervisors_read_of_an_officers_trail_is_audited() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_efectivo(Some((-34.6, -58.38))).await;
    let id = officer.efectivo_id.unwrap();
    let reads = |resource: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<i64>, Option<String>, Value)>(
                "SELECT user_id, ip_address::text, new_values FROM audit_logs
                 WHERE event_type = 'efectivo_trail_read' AND resource_type = 'efectivo'
                   AND resource_id = $1::text ORDER BY chain_seq",
            )
            .bind(resource)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let r = app
        .get(
            &format!("/api/v1/efectivos/{id}/ubicaciones?max_points=50"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = reads(id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (who, ip, values) = &rows[0];
    assert_eq!(*who, Some(sup.id));
    assert!(ip.as_deref().is_some_and(|ip| ip.starts_with("127.0.0.1")));
    assert_eq!(values["max_points"], 50);
    assert_eq!(values["total_puntos"], r.body["total_puntos"]);
    assert_eq!(values["desde"], r.body["desde"]);
    assert_eq!(values["hasta"], r.body["hasta"]);
    // The officer sees who looked, in their own export.
    let r = app
        .get("/api/v1/gdpr/me/export", Some(&officer.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.body["auditoria"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["event_type"] == "efectivo_trail_read" && a["user_id"] == sup.id),
        "{}",
        r.body["auditoria"]
    );
    // A refused read (unknown officer) leaves no read behind; a supervisor reading their own
    // trail reads no one else's.
    let r = app
        .get("/api/v1/efectivos/999999/ubicaciones", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(reads(999_999).await.is_empty());
    let own = app.create_efectivo(None).await;
    sqlx::query("UPDATE usuarios SET nivel = 'LEVEL_2' WHERE id = $1")
        .bind(own.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let own_id = own.efectivo_id.unwrap();
    let r = app
        .get(
            &format!("/api/v1/efectivos/{own_id}/ubicaciones"),
            Some(&app.token_for(own.id, 2)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(reads(own_id).await.is_empty());
}
