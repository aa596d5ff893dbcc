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

/// The authenticator app: the TOTP of an enrolment's `otpauth://` URI.
fn authenticator(enrolment: &Resp) -> totp_rs::TOTP {
    let uri = enrolment.body["otpauth_uri"].as_str().unwrap();
    totp_rs::TOTP::from_url(uri).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Enrols and confirms `u`'s second factor; answers the authenticator and the recovery codes.
async fn enrolled(app: &TestApp, u: &gad_testkit::TestUser) -> (totp_rs::TOTP, Vec<String>) {
    let r = app
        .post("/api/v1/users/me/totp", Some(&u.token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = authenticator(&r);
    // The code of the previous step: the login below uses the current one.
    let code = t.generate(now() - 30);
    let r = app
        .post(
            "/api/v1/users/me/totp/confirmar",
            Some(&u.token),
            json!({"code": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let codes = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (t, codes)
}

#[tokio::test]
async fn enrolment_answers_an_otpauth_uri_and_qr_and_changes_nothing_until_confirmed() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let r = app
        .post("/api/v1/users/me/totp", Some(&u.token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/GAD:"), "{uri}");
    assert!(r.body["qr_svg"].as_str().unwrap().contains("<svg"));
    // Not confirmed: login gives a token as before.
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["access_token"].is_string());
    // A wrong code does not confirm.
    let r = app
        .post(
            "/api/v1/users/me/totp/confirmar",
            Some(&u.token),
            json!({"code": "000000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let secret: Vec<u8> =
        sqlx::query_scalar("SELECT secret_sealed FROM usuario_totp WHERE usuario_id = $1")
            .bind(u.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let t = authenticator(
        &app.post("/api/v1/users/me/totp", Some(&u.token), json!({}))
            .await,
    );
    assert!(
        !secret
            .windows(t.secret.len())
            .any(|w| w == t.secret.as_slice()),
        "the secret is not stored in clear"
    );
}

#[tokio::test]
async fn an_enrolled_user_needs_a_code_after_the_password_and_a_code_works_once() {
    let app = TestApp::spawn().await;
    let u = app.create_user(2).await;
    let (t, _) = enrolled(&app, &u).await;
    for json_body in [false, true] {
        let r = if json_body {
            app.post(
                "/api/v1/auth/login",
                None,
                json!({"username": u.email, "password": u.password}),
            )
            .await
        } else {
            app.login(&u.email, &u.password).await
        };
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["totp_required"], true);
        assert!(r.body.get("access_token").is_none(), "no token yet");
        assert!(r.header("set-cookie").is_none(), "no cookie yet");
        assert!(r.body["challenge"].as_str().is_some_and(|c| c.len() >= 32));
    }
    let challenge = app.login(&u.email, &u.password).await.body["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    let code = t.generate(now());
    let r = app
        .post(
            "/api/v1/auth/totp",
            None,
            json!({"challenge": challenge, "code": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.body["access_token"].as_str().unwrap().to_string();
    assert!(r.header("set-cookie").unwrap().starts_with("access_token="));
    assert_eq!(
        app.get("/api/v1/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    // The challenge is used.
    let r = app
        .post(
            "/api/v1/auth/totp",
            None,
            json!({"challenge": challenge, "code": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The same code with a fresh challenge: a replay.
    let challenge = app.login(&u.email, &u.password).await.body["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            "/api/v1/auth/totp",
            None,
            json!({"challenge": challenge, "code": code}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a code is accepted once"
    );
    // An expired challenge.
    sqlx::query("UPDATE totp_challenges SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app
        .post(
            "/api/v1/auth/totp",
            None,
            json!({"challenge": challenge, "code": t.generate(now() + 30)}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "challenges live 5 minutes"
    );
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_wrong_codes_count_toward_the_lockout() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let (_, codes) = enrolled(&app, &u).await;
    assert_eq!(codes.len(), 10);
    let challenge = || async {
        app.login(&u.email, &u.password).await.body["challenge"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let c = challenge().await;
    let r = app
        .post(
            "/api/v1/auth/totp",
            None,
            json!({"challenge": c, "code": codes[0]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = challenge().await;
    let r = app
        .post(
            "/api/v1/auth/totp",
            None,
            json!({"challenge": c, "code": codes[0]}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a recovery code is single use"
    );
    // The password step and the spent code above count (2): three more wrong codes reach 5.
    for i in 0..3 {
        let r = app
            .post(
                "/api/v1/auth/totp",
                None,
                json!({"challenge": c, "code": "123456"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "wrong code {i}");
    }
    let r = app
        .post(
            "/api/v1/auth/totp",
            None,
            json!({"challenge": c, "code": codes[1]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::LOCKED, "{}", r.text);
}

#[tokio::test]
async fn a_required_level_without_enrolment_only_reaches_the_profile_enrolment_and_logout() {
    let app =
        TestApp::spawn_with(gad_testkit::Options::default().env("TOTP_REQUIRED_LEVEL", "3")).await;
    let admin = app.create_user(3).await;
    let supervisor = app.create_user(2).await;
    let r = app.login(&admin.email, &admin.password).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totp_enrolment_required"], true);
    let token = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let r = app.get("/api/v1/users", Some(&token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "totp_enrolment_required"}));
    let r = app.get("/api/v1/stats/overview", Some(&token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Below the level: untouched.
    let r = app.login(&supervisor.email, &supervisor.password).await;
    assert!(r.body.get("totp_enrolment_required").is_none());
    let st = r.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/users", Some(st)).await.status,
        StatusCode::OK
    );
    // Enrolling with the restricted session lifts the restriction.
    let admin_session = gad_testkit::TestUser {
        token: token.clone(),
        ..admin.clone()
    };
    enrolled(&app, &admin_session).await;
    assert_eq!(
        app.get("/api/v1/users", Some(&token)).await.status,
        StatusCode::OK
    );
    let r = app
        .post("/api/v1/auth/logout", Some(&token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn an_administrator_resets_a_lost_factor_and_the_reset_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    enrolled(&app, &u).await;
    assert_eq!(
        app.login(&u.email, &u.password).await.body["totp_required"],
        true
    );
    let r = app
        .delete(&format!("/api/v1/users/{}/totp", u.id), Some(&u.token))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "level 3 only");
    let r = app
        .delete(&format!("/api/v1/users/{}/totp", u.id), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"user_id": u.id, "tenia_totp": true}));
    let r = app.login(&u.email, &u.password).await;
    assert!(r.body["access_token"].is_string(), "{}", r.text);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'totp_reset' AND user_id = $1",
    )
    .bind(admin.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}
