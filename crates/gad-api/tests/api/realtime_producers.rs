//! Realtime producers end to end: events created by real HTTP calls reach the right sockets,
//! across instances, exactly once.

use std::collections::HashMap;
use std::time::Duration;

use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn socket(app: &TestApp, u: &TestUser) -> WsClient {
    let mut c = WsClient::connect(app, Some(&u.token)).await;
    c.handshake().await;
    c
}

async fn wait_redis_fanout(app: &TestApp) {
    let start = std::time::Instant::now();
    while app.state.hub.fanout_mode() != "redis" {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "fan-out never reached redis mode"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn of_type<'a>(frames: &'a [Value], t: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["event_type"] == t).collect()
}

fn assert_unique_ids(frames: &[Value]) {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for f in frames {
        *ids.entry(f["message_id"].as_str().unwrap_or(""))
            .or_default() += 1;
    }
    assert!(
        ids.values().all(|n| *n == 1),
        "duplicate message_id in {frames:?}"
    );
}

#[tokio::test]
async fn emergency_over_http_alerts_supervisors_and_the_assigned_officer_only() {
    let app = TestApp::spawn().await;
    let supervisor = app.create_user(2).await;
    let officer = app.create_efectivo(Some((-34.6037, -58.3816))).await;
    let unrelated = app.create_efectivo(None).await;
    let caller = app.create_user(1).await;
    let mut sup = socket(&app, &supervisor).await;
    let mut off = socket(&app, &officer).await;
    let mut unr = socket(&app, &unrelated).await;

    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&caller.token),
            json!({"lat": -34.6040, "lng": -58.3820}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let task_id = r.body["task_id"].clone();
    assert_eq!(r.body["assigned_efectivo_id"], officer.efectivo_id.unwrap());

    let frames = sup.collect(Duration::from_millis(800)).await;
    assert_eq!(of_type(&frames, "alert").len(), 1, "supervisor: {frames:?}");
    let created = of_type(&frames, "task_created");
    assert_eq!(created.len(), 1, "supervisor task_created: {frames:?}");
    assert_eq!(created[0]["data"]["id"], task_id);
    // Issue 14: an emergency's task_created carries the same Tarea wire object as GET /tasks/{id}.
    let stored = app
        .get(&format!("/api/v1/tasks/{task_id}"), Some(&supervisor.token))
        .await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text);
    assert_eq!(created[0]["data"], stored.body, "event vs GET");
    assert_eq!(stored.body["es_emergencia"], true);
    assert_unique_ids(&frames);

    let frames = off.collect(Duration::from_millis(500)).await;
    assert_eq!(
        of_type(&frames, "alert").len(),
        1,
        "assigned officer: {frames:?}"
    );

    let frames = unr.collect(Duration::from_millis(300)).await;
    assert!(
        of_type(&frames, "alert").is_empty() && of_type(&frames, "task_created").is_empty(),
        "unrelated officer got {frames:?}"
    );
}

#[tokio::test]
async fn task_created_over_http_on_a_reaches_b_once_and_its_delegado_not_others() {
    let a = TestApp::spawn_with_redis().await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    wait_redis_fanout(&a).await;
    wait_redis_fanout(&b).await;
    let creator = a.create_user(2).await;
    let watcher = b.create_user(2).await;
    let delegado = b.create_efectivo(None).await;
    let unrelated = b.create_efectivo(None).await;
    let mut w = socket(&b, &watcher).await;
    let mut d = socket(&b, &delegado).await;
    let mut u = socket(&b, &unrelated).await;

    let r = a.create_task(&creator, delegado.id, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].clone();

    let frames = w.collect(Duration::from_millis(1200)).await;
    let created = of_type(&frames, "task_created");
    assert_eq!(
        created.len(),
        1,
        "supervisor on B must see task_created exactly once: {frames:?}"
    );
    assert_eq!(created[0]["data"]["id"], id);
    assert_unique_ids(&frames);
    let frames = d.collect(Duration::from_millis(500)).await;
    assert_eq!(
        of_type(&frames, "task_created").len(),
        1,
        "delegado: {frames:?}"
    );
    let frames = u.collect(Duration::from_millis(300)).await;
    assert!(
        of_type(&frames, "task_created").is_empty(),
        "unrelated officer got {frames:?}"
    );

    // A status change over HTTP on A → task_status_changed on B.
    let r = a
        .post(
            &format!("/api/v1/tasks/{id}/status"),
            Some(&creator.token),
            json!({"estado": "en_curso"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let frames = w.collect(Duration::from_millis(1200)).await;
    assert_eq!(
        of_type(&frames, "task_status_changed").len(),
        1,
        "{frames:?}"
    );
    let frames = d.collect(Duration::from_millis(500)).await;
    assert_eq!(
        of_type(&frames, "task_status_changed").len(),
        1,
        "{frames:?}"
    );
}
