//! Identity and access: login, lockout, revocation, rehash, cookie, error bodies.

use gad_testkit::{Options, TestApp, assert_contract_headers};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn login_with_form_and_json_case_insensitive_email() {
    let app = TestApp::spawn().await;
    let u = app.create_user(2).await;
    let r = app.login(&u.email.to_uppercase(), &u.password).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(r.body["expires_in"], 1800);
    let token = r.body["access_token"].as_str().unwrap().to_string();
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with(&format!("access_token={token}")));
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"] {
        assert!(cookie.contains(part), "cookie lacks {part}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "development cookies are not Secure"
    );
    let me = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], u.id);
    assert!(me.body.get("hashed_password").is_none() && me.body.get("password").is_none());
    let ultimo: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT ultimo_acceso FROM usuarios WHERE id = $1")
            .bind(u.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(ultimo.is_some(), "ultimo_acceso set on login");

    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": u.email, "password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": u.email, "password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn login_missing_fields_is_422_with_loc() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/api/v1/auth/login", None, json!({"username": "a@b.c"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["detail"], "Validation Error");
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "password"]));
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .form(&[("password", "x")])
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "username"]));
}

#[tokio::test]
async fn wrong_credentials_401_then_lockout_423_then_unlock_after_window() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let r = app.login("nobody@test.gad", "whatever-123").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"detail": "Incorrect email or password"}));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_contract_headers(&r, true);

    for i in 1..=5 {
        let r = app.login(&u.email, "wrong-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (fails, locked): (i32, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT intentos_fallidos, bloqueado_hasta FROM usuarios WHERE id = $1")
            .bind(u.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(fails, 5);
    let locked = locked.expect("locked after 5 failures");
    let mins = (locked - chrono::Utc::now()).num_minutes();
    assert!((29..=30).contains(&mins), "lock is 30 min, got {mins}");

    // Locked: even the right password gets 423 with Retry-After and locked_until.
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::LOCKED);
    assert_eq!(
        r.body["detail"],
        "Cuenta bloqueada temporalmente por intentos fallidos"
    );
    assert!(r.body["locked_until"].as_str().unwrap().ends_with('Z'));
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 1700 && retry <= 1800, "{retry}");

    // The window passes.
    sqlx::query("UPDATE usuarios SET bloqueado_hasta = now() - interval '1 second' WHERE id = $1")
        .bind(u.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::OK);
    let (fails, locked): (i32, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT intentos_fallidos, bloqueado_hasta FROM usuarios WHERE id = $1")
            .bind(u.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((fails, locked), (0, None), "success resets the counters");

    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM audit_logs WHERE user_id = $1 ORDER BY id")
            .bind(u.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(events.contains(&"login_failed".to_string()));
    assert!(events.contains(&"account_locked".to_string()));
    assert!(events.contains(&"login_locked".to_string()));
    assert!(events.contains(&"login_success".to_string()));
}

#[tokio::test]
async fn unverified_or_deleted_users_get_no_token() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    sqlx::query("UPDATE usuarios SET verificado = false WHERE id = $1")
        .bind(u.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.login(&u.email, &u.password).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": "Inactive user"}));
    // An existing token of an unverified user → 403 Inactive user.
    let r = app.get("/api/v1/users/me", Some(&u.token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": "Inactive user"}));

    let v = app.create_user(1).await;
    sqlx::query("UPDATE usuarios SET deleted_at = now() WHERE id = $1")
        .bind(v.id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.login(&v.email, &v.password).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn auth_error_bodies_follow_the_contract() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/users/me", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"detail": "Not authenticated"}));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    for bad in ["garbage", "a.b.c"] {
        let r = app.get("/api/v1/users/me", Some(bad)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, json!({"detail": "Could not validate credentials"}));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    // Token of an unknown user.
    let ghost = app.token_for(987_654, 3);
    let r = app.get("/api/v1/users/me", Some(&ghost)).await;
    assert_eq!(r.body, json!({"detail": "Could not validate credentials"}));
    // Expired token (signed with the right key).
    let claims = gad_api::auth::Claims {
        sub: "1".into(),
        exp: chrono::Utc::now().timestamp() - 10,
        iat: 0,
        jti: uuid::Uuid::new_v4().to_string(),
        nivel: 3,
        iss: "gad".into(),
    };
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(app.state.config.jwt_secret.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.get("/api/v1/users/me", Some(&expired)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Level too low.
    let l1 = app.create_user(1).await;
    let r = app.get("/api/v1/users", Some(&l1.token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "The user doesn't have enough privileges"})
    );
    // Authentication before validation: bad body without token → 401, not 422.
    let r = app.post("/api/v1/users", None, json!({"email": 5})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post("/api/v1/users", Some(&l1.token), json!({"email": 5}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cookie_auth_and_cross_site_unsafe_requests() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let cookie = format!("access_token={}", u.token);
    let r = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Unsafe method by cookie with a foreign Origin → refused.
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": "Cross-site request refused"}));
    // Same origin → accepted.
    let origin = format!("http://{}", app.addr);
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_on_every_instance_and_clears_cookie() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_with(Options::sibling_of(&a)).await;
    let u = a.create_user(2).await;
    let token = a.login(&u.email, &u.password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        b.get("/api/v1/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let r = a.post("/api/v1/auth/logout", Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "logged_out"}));
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    for app in [&a, &b] {
        let r = app.get("/api/v1/users/me", Some(&token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, json!({"detail": "Could not validate credentials"}));
    }
    // Other tokens of the same user still work.
    let other = a.login(&u.email, &u.password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        b.get("/api/v1/users/me", Some(&other)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn legacy_bcrypt_hash_verifies_and_is_rehashed_to_argon2id() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let legacy = bcrypt::hash("legacy-password-1", 4).unwrap();
    assert!(legacy.starts_with("$2b$"));
    sqlx::query("UPDATE usuarios SET hashed_password = $2 WHERE id = $1")
        .bind(u.id)
        .bind(&legacy)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.login(&u.email, "legacy-password-1").await;
    assert_eq!(r.status, StatusCode::OK);
    let stored: String = sqlx::query_scalar("SELECT hashed_password FROM usuarios WHERE id = $1")
        .bind(u.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(
        app.login(&u.email, "legacy-password-1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.login(&u.email, "wrong-password").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn long_passwords_are_not_truncated() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let long = "p".repeat(100);
    let r = app.post("/api/v1/users", Some(&admin.token), json!({
        "email": "long@test.gad", "password": long, "nombre": "L", "apellido": "P", "dni": "LP1", "verificado": true
    })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let almost = format!("{}q", "p".repeat(99));
    assert_eq!(
        app.login("long@test.gad", &almost).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("long@test.gad", &long).await.status,
        StatusCode::OK
    );
}
