//! Login trust: login CSRF, device cookies against lockout abuse, and the second factor.

use gad_testkit::{Resp, TestApp};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn form_login_from_a_cross_site_origin_is_refused() {
    let app = TestApp::spawn().await;
    let u = app.create_user(2).await;
    let post = |origin: String| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("origin", origin)
            .form(&[
                ("username", u.email.as_str()),
                ("password", u.password.as_str()),
            ])
            .send()
    };
    let r = TestApp::read(post("https://evil.example".into()).await.unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "Cross-site request refused"}));
    assert!(
        r.header("set-cookie").is_none(),
        "no session for the attacker's page"
    );
    let r = TestApp::read(post("null".into()).await.unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = TestApp::read(post(format!("http://{}", app.addr)).await.unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "same origin signs in: {}", r.text);
    // No Origin (curl, tools): still accepted.
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// `gad_device=<value>` from a login answer's `Set-Cookie` headers.
fn device_cookie(r: &Resp) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("gad_device="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no device cookie in {:?}", r.headers))
        .to_string()
}

/// A form login presenting `cookie` (a browser that kept it).
async fn login_with(app: &TestApp, email: &str, password: &str, cookie: Option<&str>) -> Resp {
    let mut rb = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .form(&[("username", email), ("password", password)]);
    if let Some(c) = cookie {
        rb = rb.header("cookie", c);
    }
    TestApp::read(rb.send().await.unwrap()).await
}

#[tokio::test]
async fn an_anonymous_flood_locks_new_clients_while_the_owners_device_still_logs_in() {
    let app = TestApp::spawn().await;
    let u = app.create_user(2).await;
    let other = app.create_user(2).await;
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::OK);
    let mine = device_cookie(&r);
    let set = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("gad_device="))
        .unwrap()
        .to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(set.contains(part), "device cookie lacks {part}: {set}");
    }
    let theirs = device_cookie(&app.login(&other.email, &other.password).await);

    // An outsider floods the account.
    for i in 1..=5 {
        let r = app.login(&u.email, "wrong-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::LOCKED, "a new client is locked out");
    // Another account's device cookie does not open this one.
    let r = login_with(&app, &u.email, &u.password, Some(&theirs)).await;
    assert_eq!(r.status, StatusCode::LOCKED);
    // A tampered cookie neither.
    let forged = format!("{}x", mine);
    let r = login_with(&app, &u.email, &u.password, Some(&forged)).await;
    assert_eq!(r.status, StatusCode::LOCKED);

    // The owner's browser still signs in, and renews its cookie.
    let r = login_with(&app, &u.email, &u.password, Some(&mine)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(device_cookie(&r), mine);
    assert!(r.body["access_token"].is_string());
    // The lock still holds for new clients.
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::LOCKED);
}

#[tokio::test]
async fn guessing_with_a_stolen_device_cookie_locks_that_cookie() {
    let app = TestApp::spawn().await;
    let u = app.create_user(3).await;
    let stolen = device_cookie(&app.login(&u.email, &u.password).await);
    for i in 1..=5 {
        let r = login_with(&app, &u.email, "wrong-password", Some(&stolen)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = login_with(&app, &u.email, &u.password, Some(&stolen)).await;
    assert_eq!(r.status, StatusCode::LOCKED, "the cookie is locked");
    assert!(r.body["locked_until"].is_string());
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM audit_logs WHERE user_id = $1 ORDER BY id")
            .bind(u.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(events.contains(&"device_locked".to_string()), "{events:?}");
}
