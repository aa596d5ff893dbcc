//! Alertmanager webhook (issue 19): a firing alert posted with the webhook secret reaches the
//! level-2+ sockets as an `alert`; a wrong or missing secret is 401; a malformed payload is 422.

use std::time::Duration;

use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ROUTE: &str = "/api/v1/alerts/alertmanager";
const SECRET: &str = "alertmanager-webhook-secret-0123456789-abcdef";

async fn app_with_secret() -> TestApp {
    TestApp::spawn_with(Options::default().env("ALERTMANAGER_WEBHOOK_TOKEN", SECRET)).await
}

async fn socket(app: &TestApp, u: &TestUser) -> WsClient {
    let mut c = WsClient::connect(app, Some(&u.token)).await;
    c.handshake().await;
    c
}

/// What Alertmanager 0.25 posts for one firing alert of deploy/alerts.yml.
fn firing(alertname: &str, severity: &str) -> Value {
    json!({
        "receiver": "gad",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": alertname, "severity": severity, "instance": "gad1:8000", "job": "gad"},
            "annotations": {
                "summary": "gad instance gad1:8000 is not answering /metrics",
                "description": "Prometheus cannot scrape gad1:8000 for 1 minute."
            },
            "startsAt": "2026-12-01T04:00:00.000Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
            "fingerprint": "c0ffee0123456789"
        }],
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname, "severity": severity},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
        "truncatedAlerts": 0
    })
}

fn alerts_of(frames: &[Value]) -> Vec<&Value> {
    frames
        .iter()
        .filter(|f| f["event_type"] == "alert")
        .collect()
}

#[tokio::test]
async fn a_firing_alert_reaches_level_2_and_3_sockets_as_an_alert_and_not_level_1() {
    let app = app_with_secret().await;
    let supervisor = app.create_user(2).await;
    let admin = app.create_user(3).await;
    let officer = app.create_efectivo(None).await;
    let mut sup = socket(&app, &supervisor).await;
    let mut adm = socket(&app, &admin).await;
    let mut off = socket(&app, &officer).await;

    let r = app
        .post(ROUTE, Some(SECRET), firing("GadInstanceDown", "critical"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["forwarded"], 1);

    let frames = sup.collect(Duration::from_millis(800)).await;
    let got = alerts_of(&frames);
    assert_eq!(got.len(), 1, "supervisor: {frames:?}");
    let d = &got[0]["data"];
    assert_eq!(d["source"], "alertmanager");
    assert_eq!(d["status"], "firing");
    assert_eq!(d["alertname"], "GadInstanceDown");
    assert_eq!(d["level"], "critical");
    assert_eq!(d["labels"]["instance"], "gad1:8000");
    assert_eq!(
        d["title"],
        "Alerta de monitoreo: gad instance gad1:8000 is not answering /metrics"
    );
    assert_eq!(d["starts_at"], "2026-12-01T04:00:00.000Z");
    assert!(d["ends_at"].is_null(), "firing alert has no end: {d}");
    assert_eq!(got[0]["topic"], "monitoreo");

    let frames = adm.collect(Duration::from_millis(300)).await;
    assert_eq!(alerts_of(&frames).len(), 1, "admin: {frames:?}");
    let frames = off.collect(Duration::from_millis(300)).await;
    assert!(alerts_of(&frames).is_empty(), "level 1 got {frames:?}");
}

#[tokio::test]
async fn every_alert_of_a_group_is_forwarded_and_a_resolved_one_is_info() {
    let app = app_with_secret().await;
    let supervisor = app.create_user(2).await;
    let mut sup = socket(&app, &supervisor).await;
    let mut body = firing("GadRedisDegraded", "warning");
    let mut resolved = body["alerts"][0].clone();
    resolved["status"] = json!("resolved");
    resolved["labels"]["alertname"] = json!("GadHighLatencyP99");
    resolved["endsAt"] = json!("2026-12-01T04:10:00Z");
    body["alerts"].as_array_mut().unwrap().push(resolved);

    let r = app.post(ROUTE, Some(SECRET), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["forwarded"], 2);
    let frames = sup.collect(Duration::from_millis(800)).await;
    let got = alerts_of(&frames);
    assert_eq!(got.len(), 2, "{frames:?}");
    let by_name = |n: &str| got.iter().find(|f| f["data"]["alertname"] == n).unwrap();
    assert_eq!(by_name("GadRedisDegraded")["data"]["level"], "warning");
    let res = &by_name("GadHighLatencyP99")["data"];
    assert_eq!(res["level"], "info");
    assert_eq!(res["status"], "resolved");
    assert_eq!(res["ends_at"], "2026-12-01T04:10:00.000Z");
    assert!(
        res["title"]
            .as_str()
            .unwrap()
            .starts_with("Alerta de monitoreo resuelta:")
    );
}

#[tokio::test]
async fn a_missing_or_wrong_secret_or_a_user_token_is_401_and_nothing_is_published() {
    let app = app_with_secret().await;
    let supervisor = app.create_user(2).await;
    let admin = app.create_user(3).await;
    let mut sup = socket(&app, &supervisor).await;

    let r = app
        .post(ROUTE, None, firing("GadInstanceDown", "critical"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["detail"], "Not authenticated");

    let wrong = format!("{SECRET}x");
    let near = format!("{}X", &SECRET[..SECRET.len() - 1]);
    for bad in [wrong.as_str(), near.as_str(), admin.token.as_str()] {
        let r = app
            .post(ROUTE, Some(bad), firing("GadInstanceDown", "critical"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}: {}", r.text);
        assert_eq!(r.body["detail"], "Could not validate credentials");
    }
    // A wrong secret is refused before the body is looked at.
    let r = app.post(ROUTE, Some(&wrong), json!({"nope": 1})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    let frames = sup.collect(Duration::from_millis(500)).await;
    assert!(alerts_of(&frames).is_empty(), "{frames:?}");
}

#[tokio::test]
async fn without_a_configured_secret_every_request_is_401() {
    let app = TestApp::spawn().await;
    let r = app
        .post(ROUTE, Some(SECRET), firing("GadInstanceDown", "critical"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["detail"], "Could not validate credentials");
}

#[tokio::test]
async fn malformed_payloads_are_422_with_the_failing_field() {
    let app = app_with_secret().await;
    let mut no_alertname = firing("X", "critical");
    no_alertname["alerts"][0]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("alertname");
    let mut bad_status = firing("X", "critical");
    bad_status["alerts"][0]["status"] = json!("burning");
    let mut bad_time = firing("X", "critical");
    bad_time["alerts"][0]["startsAt"] = json!("yesterday");
    let mut old_version = firing("X", "critical");
    old_version["version"] = json!("3");
    let mut empty = firing("X", "critical");
    empty["alerts"] = json!([]);
    let mut no_alerts = firing("X", "critical");
    no_alerts.as_object_mut().unwrap().remove("alerts");

    let cases: Vec<(Value, Vec<Value>)> = vec![
        (
            no_alertname,
            vec![
                json!("body"),
                json!("alerts"),
                json!(0),
                json!("labels"),
                json!("alertname"),
            ],
        ),
        (
            bad_status,
            vec![json!("body"), json!("alerts"), json!(0), json!("status")],
        ),
        (
            bad_time,
            vec![json!("body"), json!("alerts"), json!(0), json!("startsAt")],
        ),
        (old_version, vec![json!("body"), json!("version")]),
        (empty, vec![json!("body"), json!("alerts")]),
        (no_alerts, vec![json!("body"), json!("alerts")]),
        (json!([1, 2]), vec![json!("body")]),
    ];
    for (body, loc) in cases {
        let r = app.post(ROUTE, Some(SECRET), body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.body["errors"][0]["loc"], json!(loc), "{body}: {}", r.text);
    }
    let r = app
        .client
        .request(Method::POST, app.url(ROUTE))
        .bearer_auth(SECRET)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
