//! Government rate limiter (contract §10): classes, limits, headers, exact 429 body, trusted
//! proxies, Redis sharing between instances, and degradation when Redis fails.

use std::time::Duration;

use gad_testkit::chaos::ChaosProxy;
use gad_testkit::{Options, Resp, TestApp, assert_contract_headers};
use reqwest::StatusCode;

fn limited(extra: &[(&str, &str)]) -> Options {
    let mut o = Options::default().env("RATE_LIMITING_ENABLED", "true");
    for (k, v) in extra {
        o = o.env(k, v);
    }
    o
}

/// Where a monitoring probe comes from (through the trusted local proxy), so its requests do not
/// count in the window a test is measuring.
const PROBE: (&str, &str) = ("x-forwarded-for", "198.51.100.250");

async fn get_xff(app: &TestApp, path: &str, header: (&str, &str)) -> Resp {
    let r = app
        .client
        .get(app.url(path))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    TestApp::read(r).await
}

fn assert_429(r: &Resp, limit: u32) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(
        r.header("x-ratelimit-limit"),
        Some(limit.to_string().as_str())
    );
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-window"), Some("60"));
    assert_eq!(
        r.header("x-ratelimit-policy"),
        Some("government_citizen_protection")
    );
    assert_eq!(r.header("x-government-service"), Some("GRUPO_GAD"));
    assert_contract_headers(r, true);
    let b = &r.body;
    assert_eq!(b["error"], "rate_limit_exceeded");
    assert_eq!(
        b["message"],
        "Ha excedido el límite de solicitudes para servicios gubernamentales."
    );
    assert_eq!(
        b["details"],
        "Los servicios digitales tienen límites para garantizar disponibilidad equitativa."
    );
    assert_eq!(b["retry_after_seconds"].as_u64(), Some(retry));
    assert_eq!(b["rate_limit"].as_u64(), Some(limit as u64));
    assert_eq!(b["window_seconds"], 60);
    assert_eq!(b["government_service"], "GRUPO_GAD");
    assert_eq!(
        b["citizen_support"],
        "Para asistencia, contacte soporte ciudadano."
    );
    let ts = b["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z') && ts.len() == 20,
        "timestamp {ts}"
    );
    assert_eq!(b.as_object().unwrap().len(), 9, "{b}");
}

#[tokio::test]
async fn the_101st_general_request_is_rejected_with_contract_headers_and_body() {
    let app = TestApp::spawn_with(limited(&[])).await;
    for i in 1..=100u32 {
        let r = app.get("/api/v1/no-such-thing", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "request {i}");
        assert_eq!(r.header("x-ratelimit-limit"), Some("100"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some((100 - i).to_string().as_str())
        );
        assert_eq!(r.header("x-ratelimit-window"), Some("60"));
        assert_eq!(r.header("x-government-service"), Some("GRUPO_GAD"));
    }
    let r = app.get("/api/v1/tasks", None).await;
    assert_429(&r, 100);
    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.contains("rate_limit_rejected_total{class=\"general_api\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn health_metrics_docs_are_never_limited() {
    let app = TestApp::spawn_with(limited(&[("RATE_LIMIT_GENERAL", "2")])).await;
    for _ in 0..5 {
        for p in [
            "/health",
            "/health/live",
            "/api/v1/health",
            "/api/v1/health/ready",
            "/metrics",
            "/api/v1/metrics/prometheus",
            "/docs",
            "/redoc",
            "/openapi.json",
            "/api/v1/openapi.json",
        ] {
            let r = app.get(p, None).await;
            assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "{p}");
            assert!(r.header("x-ratelimit-limit").is_none(), "{p}");
        }
    }
    // The general class still limits at 2.
    assert_eq!(
        app.get("/api/v1/x", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/x", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_429(&app.get("/api/v1/x", None).await, 2);
}

#[tokio::test]
async fn spoofed_forwarded_headers_from_untrusted_peer_do_not_change_the_key() {
    let app = TestApp::spawn_with(limited(&[
        ("RATE_LIMIT_GENERAL", "3"),
        ("TRUSTED_PROXY_HOSTS", "10.9.9.9/32"),
    ]))
    .await;
    for i in 0..3 {
        let r = get_xff(
            &app,
            "/api/v1/x",
            ("x-forwarded-for", &format!("198.51.100.{i}")),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let r = get_xff(&app, "/api/v1/x", ("x-forwarded-for", "203.0.113.77")).await;
    assert_429(&r, 3);
    let r = get_xff(&app, "/api/v1/x", ("x-real-ip", "203.0.113.78")).await;
    assert_429(&r, 3);
}

#[tokio::test]
async fn forwarded_for_from_trusted_peer_is_the_key_read_from_the_right() {
    // Default TRUSTED_PROXY_HOSTS contains 127.0.0.1, the test client's address.
    let app = TestApp::spawn_with(limited(&[("RATE_LIMIT_GENERAL", "2")])).await;
    let xff = ("x-forwarded-for", "203.0.113.5");
    assert_eq!(
        get_xff(&app, "/api/v1/x", xff).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_xff(&app, "/api/v1/x", xff).await.status,
        StatusCode::NOT_FOUND
    );
    assert_429(&get_xff(&app, "/api/v1/x", xff).await, 2);
    // A spoofed left entry does not help: the rightmost untrusted entry is the client.
    let spoof = ("x-forwarded-for", "1.2.3.4, 203.0.113.5");
    assert_429(&get_xff(&app, "/api/v1/x", spoof).await, 2);
    // Trusted proxies to the right are skipped.
    let chained = ("x-forwarded-for", "203.0.113.5, 127.0.0.1");
    assert_429(&get_xff(&app, "/api/v1/x", chained).await, 2);
    // Another client behind the proxy has its own window.
    let other = ("x-forwarded-for", "203.0.113.6");
    let r = get_xff(&app, "/api/v1/x", other).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("1"));
    let r = get_xff(&app, "/api/v1/x", ("x-real-ip", "203.0.113.9")).await;
    assert_eq!(r.header("x-ratelimit-remaining"), Some("1"));
    // And the proxy's own address (no header) too.
    let r = app.get("/api/v1/x", None).await;
    assert_eq!(r.header("x-ratelimit-remaining"), Some("1"));
}

#[tokio::test]
async fn disabled_limiter_admits_everything_without_headers() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("RATE_LIMITING_ENABLED", "false")
            .env("RATE_LIMIT_GENERAL", "1"),
    )
    .await;
    for _ in 0..5 {
        let r = app.get("/api/v1/x", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.header("x-ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn classes_have_their_own_configurable_limits() {
    let app = TestApp::spawn_with(limited(&[
        ("RATE_LIMIT_GENERAL", "5"),
        ("RATE_LIMIT_ADMIN", "2"),
        ("RATE_LIMIT_CITIZEN", "3"),
        ("RATE_LIMIT_AUTH", "1"),
    ]))
    .await;
    for _ in 0..2 {
        let r = app.get("/api/v1/cache/stats", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.header("x-ratelimit-limit"), Some("2"));
    }
    assert_429(&app.get("/api/v1/admin/audit", None).await, 2);
    for _ in 0..3 {
        assert_eq!(
            app.get("/api/v1/tramites/1", None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_429(&app.get("/api/v1/servicios", None).await, 3);
    let r = app.login("nobody@test.gad", "wrong-password").await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_429(&app.login("nobody@test.gad", "wrong-password").await, 1);
    // The general class is untouched by the others.
    let r = app.get("/api/v1/x", None).await;
    assert_eq!(r.header("x-ratelimit-remaining"), Some("4"));
    let m = app.get("/metrics", None).await.text;
    for class in ["admin_services", "citizen_services", "auth"] {
        assert!(
            m.contains(&format!("rate_limit_rejected_total{{class=\"{class}\"}} 1")),
            "{class}: {m}"
        );
    }
}

#[tokio::test]
async fn two_instances_sharing_redis_enforce_one_combined_limit() {
    let a = TestApp::spawn_with(Options {
        redis: true,
        ..limited(&[("RATE_LIMIT_GENERAL", "6")])
    })
    .await;
    assert!(a.state.redis.is_up());
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    assert!(b.state.redis.is_up());
    let mut admitted = 0;
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = app.get("/api/v1/x", None).await;
        assert!(!r.status.is_server_error());
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_429(&r, 6);
        } else {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 6);
    // Both instances now refuse.
    assert_429(&a.get("/api/v1/x", None).await, 6);
    assert_429(&b.get("/api/v1/x", None).await, 6);
    // A monitoring probe from another address (the probe is rate limited too).
    let d = get_xff(&a, "/api/v1/health/detailed", PROBE).await;
    assert_eq!(d.body["checks"]["rate_limiter"]["backend"], "redis");
}

async fn wait_for(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn redis_cut_falls_back_to_local_limits_and_recovery_is_picked_up() {
    let proxy = ChaosProxy::start("127.0.0.1:6379").await;
    let app = TestApp::spawn_with(Options {
        redis: true,
        redis_url: Some(format!("redis://{}/0", proxy.addr)),
        ..limited(&[("RATE_LIMIT_GENERAL", "5")])
    })
    .await;
    assert!(app.state.redis.is_up());
    for _ in 0..3 {
        assert_eq!(
            app.get("/api/v1/x", None).await.status,
            StatusCode::NOT_FOUND
        );
    }

    proxy.cut();
    // The proxy drops open connections within ~20 ms.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = app.get("/api/v1/x", None).await;
        assert!(!r.status.is_server_error(), "{} {}", r.status, r.text);
        statuses.push(r.status);
    }
    // Local window starts empty: 5 admitted, then limited locally.
    let admitted = statuses
        .iter()
        .filter(|s| **s == StatusCode::NOT_FOUND)
        .count();
    let rejected = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((admitted, rejected), (5, 7), "{statuses:?}");
    assert!(!app.state.redis.is_up());
    // A monitoring probe from another address (the probe is rate limited too).
    let d = get_xff(&app, "/api/v1/health/detailed", PROBE).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body["checks"]["rate_limiter"]["backend"], "memory");
    assert!(
        app.get("/metrics", None)
            .await
            .text
            .contains("\nredis_up 0\n")
    );

    proxy.restore();
    wait_for("redis back", async || {
        app.get("/metrics", None)
            .await
            .text
            .contains("\nredis_up 1\n")
    })
    .await;
    // A monitoring probe from another address (the probe is rate limited too).
    let d = get_xff(&app, "/api/v1/health/detailed", PROBE).await;
    assert_eq!(d.body["checks"]["rate_limiter"]["backend"], "redis");
    // The shared window again: 3 counted before the cut, so 2 more are admitted.
    let r = app.get("/api/v1/x", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(
        app.get("/api/v1/x", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_429(&app.get("/api/v1/x", None).await, 5);
}

#[tokio::test]
async fn detailed_and_government_health_are_limited_and_pool_sizes_are_for_the_desk_only() {
    let app = TestApp::spawn_with(limited(&[("RATE_LIMIT_GENERAL", "2")])).await;
    for _ in 0..2 {
        let r = app.get("/api/v1/health/detailed", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let db = &r.body["checks"]["database"];
        assert_eq!(db["status"], "ok");
        assert!(
            db.get("pool_size").is_none() && db.get("pool_idle").is_none(),
            "{db}"
        );
    }
    assert_429(&app.get("/api/v1/health/government", None).await, 2);
    let r = app.get("/health/detailed", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);

    let open = TestApp::spawn().await;
    let sup = open.create_user(2).await;
    let officer = open.create_user(1).await;
    let r = open
        .get("/api/v1/health/detailed", Some(&officer.token))
        .await;
    assert!(r.body["checks"]["database"].get("pool_size").is_none());
    let r = open.get("/api/v1/health/detailed", Some(&sup.token)).await;
    assert!(
        r.body["checks"]["database"]["pool_size"].is_u64(),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn docs_answers_200_itself_without_a_redirect() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    // Its relative links resolve under /docs/.
    assert!(page.contains(r#"<base href="/docs/">"#), "{page}");
    let r = client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("/api/v1/openapi.json"));
    let r = client
        .get(app.url("/docs/swagger-ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
