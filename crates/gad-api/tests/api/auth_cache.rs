//! The per-instance cache of authenticated sessions: a cached request does not read its user,
//! and every change to what a session carries reaches the other instance's cache within a
//! second through the Redis fan-out channel (two instances of one deployment).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::json;

/// A route that does not read the caller's user itself (the profile does, and would refuse a
/// deleted user whatever the cache says).
const TASKS: &str = "/api/v1/tasks?limit=1";

/// What the acceptance allows between a change on one instance and its effect on the other.
const WITHIN: Duration = Duration::from_secs(1);

fn hits(app: &TestApp) -> u64 {
    app.state.metrics.auth_cache_hits.load(Ordering::Relaxed)
}

fn misses(app: &TestApp) -> u64 {
    app.state.metrics.auth_cache_misses.load(Ordering::Relaxed)
}

/// Two instances of one deployment (same database, same Redis namespace), both subscribed.
async fn two_instances(opts: Options) -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(opts).await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    a.wait_redis_fanout().await;
    b.wait_redis_fanout().await;
    (a, b)
}

async fn token_of(app: &TestApp, u: &TestUser) -> String {
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_string()
}

/// `path` answers `want` to `token` on `app`, and the second time from the session cache.
async fn cached(app: &TestApp, path: &str, token: &str, want: StatusCode) {
    let r = app.get(path, Some(token)).await;
    assert_eq!(r.status, want, "{}", r.text);
    let before = hits(app);
    let r = app.get(path, Some(token)).await;
    assert_eq!(r.status, want, "{}", r.text);
    assert_eq!(hits(app), before + 1, "the second request is a cache hit");
}

/// Polls `path` on `app` until it answers `want`; fails past `WITHIN`.
async fn answers_within(app: &TestApp, path: &str, token: &str, want: StatusCode) -> Duration {
    let start = Instant::now();
    loop {
        let r = app.get(path, Some(token)).await;
        if r.status == want {
            let took = start.elapsed();
            assert!(took <= WITHIN, "took {took:?}");
            return took;
        }
        assert!(
            start.elapsed() <= WITHIN,
            "{path} still answers {} after {WITHIN:?}: {}",
            r.status,
            r.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_cached_session_does_not_read_the_user_and_is_counted_on_metrics() {
    let app = TestApp::spawn_with_redis().await;
    let u = app.create_user(2).await;
    let (h0, m0) = (hits(&app), misses(&app));
    for _ in 0..5 {
        let r = app.get("/api/v1/users/me", Some(&u.token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // One read from the database, then four answers from the cache.
    assert_eq!(misses(&app) - m0, 1);
    assert_eq!(hits(&app) - h0, 4);
    let m = app.get("/metrics", None).await.text;
    assert!(m.contains("\nauth_cache_hits_total "), "{m}");
    assert!(m.contains("\nauth_cache_misses_total "), "{m}");
    // A refused token is never cached: each attempt reads again and is refused again.
    let other = app.create_user(1).await;
    sqlx::query("UPDATE usuarios SET verificado = false WHERE id = $1")
        .bind(other.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let m0 = misses(&app);
    for _ in 0..2 {
        let r = app.get("/api/v1/users/me", Some(&other.token)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    assert_eq!(misses(&app) - m0, 2);
}

#[tokio::test]
async fn with_a_zero_ttl_or_without_redis_every_request_reads_the_user() {
    let off = TestApp::spawn_with(Options::with_redis().env("AUTH_CACHE_TTL_SECONDS", "0")).await;
    let plain = TestApp::spawn().await;
    for app in [&off, &plain] {
        let u = app.create_user(1).await;
        let (h0, m0) = (hits(app), misses(app));
        for _ in 0..3 {
            let r = app.get("/api/v1/users/me", Some(&u.token)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
        assert_eq!(hits(app) - h0, 0);
        assert_eq!(misses(app) - m0, 3);
    }
}

#[tokio::test]
async fn a_ttl_above_five_seconds_is_refused() {
    let mut m = std::collections::HashMap::new();
    m.insert("ENVIRONMENT".to_string(), "development".to_string());
    m.insert(
        "JWT_SECRET_KEY".to_string(),
        "test-secret-key-that-is-long-enough-0123456789".to_string(),
    );
    m.insert("AUTH_CACHE_TTL_SECONDS".to_string(), "6".to_string());
    let e = gad_api::Config::from_map(&m).unwrap_err();
    assert!(e.contains("AUTH_CACHE_TTL_SECONDS"), "{e}");
}

#[tokio::test]
async fn logout_on_one_instance_refuses_the_token_on_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let u = a.create_user(1).await;
    let token = token_of(&a, &u).await;
    cached(&a, "/api/v1/users/me", &token, StatusCode::OK).await;
    let r = b.post("/api/v1/auth/logout", Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, "/api/v1/users/me", &token, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn logout_everywhere_on_one_instance_revokes_on_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let u = a.create_user(1).await;
    let token = token_of(&a, &u).await;
    let other = token_of(&b, &u).await;
    cached(&a, "/api/v1/users/me", &token, StatusCode::OK).await;
    let r = b
        .post("/api/v1/auth/logout-everywhere", Some(&other), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, "/api/v1/users/me", &token, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_password_change_on_one_instance_ends_the_other_sessions_there_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let u = a.create_user(1).await;
    let token = token_of(&a, &u).await;
    let changer = token_of(&b, &u).await;
    cached(&a, "/api/v1/users/me", &token, StatusCode::OK).await;
    let r = b
        .put(
            "/api/v1/users/me",
            Some(&changer),
            json!({"current_password": u.password, "password": "another-password-456"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, "/api/v1/users/me", &token, StatusCode::UNAUTHORIZED).await;
    // The session the change returned works on the other instance.
    let fresh = r.body["access_token"].as_str().unwrap();
    assert_eq!(
        a.get("/api/v1/users/me", Some(fresh)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_level_change_on_one_instance_is_seen_on_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let admin = b.create_user(3).await;
    let u = a.create_user(2).await;
    let token = token_of(&a, &u).await;
    // A supervisor lists users; an officer may not.
    cached(&a, "/api/v1/users", &token, StatusCode::OK).await;
    let r = b
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"nivel": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, "/api/v1/users", &token, StatusCode::FORBIDDEN).await;
    let me = a.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(
        me.body["nivel"],
        b.get(&format!("/api/v1/users/{}", u.id), Some(&admin.token))
            .await
            .body["nivel"]
    );
}

#[tokio::test]
async fn a_deactivation_on_one_instance_refuses_on_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let admin = b.create_user(3).await;
    let u = a.create_user(1).await;
    let token = token_of(&a, &u).await;
    cached(&a, "/api/v1/users/me", &token, StatusCode::OK).await;
    let r = b
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"verificado": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, "/api/v1/users/me", &token, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_deletion_on_one_instance_refuses_on_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let admin = b.create_user(3).await;
    let u = a.create_user(1).await;
    let token = token_of(&a, &u).await;
    cached(&a, TASKS, &token, StatusCode::OK).await;
    let r = b
        .delete(&format!("/api/v1/users/{}", u.id), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, TASKS, &token, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn an_erasure_on_one_instance_refuses_on_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let admin = b.create_user(3).await;
    let u = a.create_user(1).await;
    let token = token_of(&a, &u).await;
    cached(&a, TASKS, &token, StatusCode::OK).await;
    let r = b
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", u.id),
            Some(&admin.token),
            json!({"motivo": "Solicitud del titular"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, TASKS, &token, StatusCode::UNAUTHORIZED).await;
}

/// Enrols and confirms the second factor of the session `token` on `app`.
async fn enrol(app: &TestApp, token: &str) {
    let r = app
        .post("/api/v1/users/me/totp", Some(token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = totp_rs::TOTP::from_url(r.body["otpauth_uri"].as_str().unwrap()).unwrap();
    let r = app
        .post(
            "/api/v1/users/me/totp/confirmar",
            Some(token),
            json!({"code": t.generate_current().unwrap()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn second_factor_enrolment_and_reset_on_one_instance_reach_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis().env("TOTP_REQUIRED_LEVEL", "2")).await;
    let admin = b.create_user(3).await;
    let u = a.create_user(2).await;
    // Owes the second factor: the list of users is out of reach, on A from the cache.
    cached(&a, "/api/v1/users", &u.token, StatusCode::FORBIDDEN).await;
    enrol(&b, &u.token).await;
    answers_within(&a, "/api/v1/users", &u.token, StatusCode::OK).await;
    cached(&a, "/api/v1/users", &u.token, StatusCode::OK).await;
    // The administrator owes the factor too (level 3 ≥ 2) before resetting anyone's.
    enrol(&b, &admin.token).await;
    let r = b
        .delete(&format!("/api/v1/users/{}/totp", u.id), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    answers_within(&a, "/api/v1/users", &u.token, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn linking_an_officer_on_one_instance_reaches_the_other_within_a_second() {
    let (a, b) = two_instances(Options::with_redis()).await;
    let admin = b.create_user(3).await;
    let u = a.create_user(1).await;
    cached(&a, "/api/v1/users/me", &u.token, StatusCode::OK).await;
    let r = b
        .post(
            "/api/v1/efectivos",
            Some(&admin.token),
            json!({"usuario_id": u.id, "codigo_interno": format!("EF-{}", u.id)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    // An officer reads its own record only: A must know the session is now this officer's.
    answers_within(
        &a,
        &format!("/api/v1/efectivos/{id}"),
        &u.token,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn without_the_channel_the_ttl_alone_bounds_what_another_instance_misses() {
    // Redis configured but unreachable: the cache is on and nothing crosses between instances.
    let dead = Options {
        redis: true,
        redis_url: Some("redis://127.0.0.1:1/0".into()),
        ..Default::default()
    }
    .env("AUTH_CACHE_TTL_SECONDS", "1");
    let a = TestApp::spawn_with(dead).await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    let u = a.create_user(1).await;
    let token = token_of(&a, &u).await;
    cached(&a, "/api/v1/users/me", &token, StatusCode::OK).await;
    let r = b.post("/api/v1/auth/logout", Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let start = Instant::now();
    loop {
        let r = a.get("/api/v1/users/me", Some(&token)).await;
        if r.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "stale past the TTL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
