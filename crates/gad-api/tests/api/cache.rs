//! Cache layer and `/api/v1/cache/*` (contract §11): level 3 only, Redis or memory, survives a
//! Redis cut.

use std::time::Duration;

use gad_service::cache::CacheSource;
use gad_testkit::chaos::ChaosProxy;
use gad_testkit::{Options, TestApp};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn cache_endpoints_require_level_3() {
    let app = TestApp::spawn().await;
    let l1 = app.create_user(1).await;
    let l2 = app.create_user(2).await;
    let paths = [
        ("GET", "/api/v1/cache/stats"),
        ("POST", "/api/v1/cache/invalidate/a"),
        ("POST", "/api/v1/cache/invalidate-pattern/a*"),
        ("POST", "/api/v1/cache/clear"),
    ];
    for (m, p) in paths {
        let call = |t: Option<String>| {
            let app = &app;
            async move {
                if m == "GET" {
                    app.get(p, t.as_deref()).await
                } else {
                    app.post(p, t.as_deref(), json!({})).await
                }
            }
        };
        let r = call(None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{p}");
        assert_eq!(r.body["detail"], "Not authenticated");
        for u in [&l1, &l2] {
            let r = call(Some(u.token.clone())).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{p}");
            assert_eq!(r.body["detail"], "The user doesn't have enough privileges");
        }
    }
}

async fn exercise_endpoints(app: &TestApp, backend: &str) {
    let admin = app.create_user(3).await;
    let t = Some(admin.token.as_str());
    let c = &app.state.cache;
    c.set(
        "stats:user:5:days:30",
        &json!({"n": 1}),
        Duration::from_secs(60),
    )
    .await;
    c.set(
        "stats:user:5:days:7",
        &json!({"n": 2}),
        Duration::from_secs(60),
    )
    .await;
    c.set(
        "stats:user:50:days:7",
        &json!({"n": 3}),
        Duration::from_secs(60),
    )
    .await;
    c.set("other", &json!("x"), Duration::from_secs(60)).await;
    let (v, src) = c.get("stats:user:5:days:7").await.unwrap();
    assert_eq!(v, json!({"n": 2}));
    assert_eq!(src.as_str(), backend);
    assert!(c.get("missing").await.is_none());

    let s = app.get("/api/v1/cache/stats", t).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(s.body["connected"], true);
    assert_eq!(s.body["backend"], backend);
    assert_eq!(s.body["keys_count"], 4, "{}", s.text);
    assert_eq!(s.body["prefix"], app.state.config.redis_namespace.as_str());
    assert!(s.body["keyspace_hits"].as_u64().unwrap() >= 1);
    assert!(s.body["keyspace_misses"].as_u64().unwrap() >= 1);
    assert!(s.body["hit_rate"].as_f64().is_some());
    assert!(s.body["evicted_keys"].as_u64().is_some());

    let r = app
        .post("/api/v1/cache/invalidate/other", t, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"message": "Key 'other' eliminada del caché"})
    );
    let r = app
        .post("/api/v1/cache/invalidate/other", t, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "Key 'other' no existía en el caché"})
    );

    let r = app
        .post(
            "/api/v1/cache/invalidate-pattern/stats:user:5:*",
            t,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"message": "Patrón 'stats:user:5:*' invalidado", "deleted_count": 2})
    );
    assert!(c.get("stats:user:5:days:30").await.is_none());
    assert!(c.get("stats:user:50:days:7").await.is_some());

    let r = app.post("/api/v1/cache/clear", t, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"message": "Caché limpiado exitosamente"}));
    assert!(c.get("stats:user:50:days:7").await.is_none());
    let s = app.get("/api/v1/cache/stats", t).await;
    assert_eq!(s.body["keys_count"], 0);
}

#[tokio::test]
async fn cache_endpoints_work_in_memory() {
    let app = TestApp::spawn().await;
    exercise_endpoints(&app, "memory").await;
}

#[tokio::test]
async fn cache_endpoints_work_on_redis_and_values_are_shared() {
    let app = TestApp::spawn_with_redis().await;
    exercise_endpoints(&app, "redis").await;
    let sibling = TestApp::spawn_with(Options::sibling_of(&app)).await;
    app.state
        .cache
        .set("shared", &json!([1, 2]), Duration::from_secs(30))
        .await;
    let (v, src) = sibling.state.cache.get("shared").await.unwrap();
    assert_eq!((v, src), (json!([1, 2]), CacheSource::Redis));
    // Another deployment (namespace) does not see it, and its clear does not touch it.
    let stranger = TestApp::spawn_with_redis().await;
    assert!(stranger.state.cache.get("shared").await.is_none());
    stranger.state.cache.clear().await;
    assert!(app.state.cache.get("shared").await.is_some());
}

#[tokio::test]
async fn values_expire_after_their_ttl() {
    for app in [TestApp::spawn().await, TestApp::spawn_with_redis().await] {
        let c = &app.state.cache;
        c.set("short", &json!(1), Duration::from_secs(1)).await;
        assert!(c.get("short").await.is_some());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(c.get("short").await.is_none());
    }
}

#[tokio::test]
async fn cache_survives_a_redis_cut_and_uses_redis_again_after() {
    let proxy = ChaosProxy::start("127.0.0.1:6379").await;
    let app = TestApp::spawn_with(Options {
        redis: true,
        redis_url: Some(format!("redis://{}/0", proxy.addr)),
        ..Default::default()
    })
    .await;
    let admin = app.create_user(3).await;
    let t = Some(admin.token.as_str());
    let c = &app.state.cache;
    c.set("k", &json!("before"), Duration::from_secs(60)).await;
    assert_eq!(c.get("k").await.unwrap().1, CacheSource::Redis);

    proxy.cut();
    // The proxy drops open connections within ~20 ms.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // First call may spend the timeout discovering the outage; none may fail.
    assert!(c.get("k").await.is_none());
    c.set("k2", &json!("during"), Duration::from_secs(60)).await;
    assert_eq!(
        c.get("k2").await.unwrap(),
        (json!("during"), CacheSource::Memory)
    );
    for (m, p) in [
        ("GET", "/api/v1/cache/stats"),
        ("POST", "/api/v1/cache/invalidate-pattern/zz*"),
        ("POST", "/api/v1/cache/clear"),
    ] {
        let r = if m == "GET" {
            app.get(p, t).await
        } else {
            app.post(p, t, json!({})).await
        };
        assert_eq!(r.status, StatusCode::OK, "{p} {}", r.text);
    }
    let s = app.get("/api/v1/cache/stats", t).await;
    assert_eq!(s.body["backend"], "memory");

    proxy.restore();
    assert!(app.state.redis.wait_up(Duration::from_secs(10)).await);
    // The value written before the cut is still in Redis (clear ran on memory only).
    assert_eq!(
        c.get("k").await.unwrap(),
        (json!("before"), CacheSource::Redis)
    );
    let s = app.get("/api/v1/cache/stats", t).await;
    assert_eq!(s.body["backend"], "redis");
}
