//! Telegram links are credentials: minting a code needs the password again, codes are stored
//! hashed, and everything that ends a user's sessions (password change, deactivation, deletion,
//! level change, "log out everywhere") or an administrator's `"telegram_id": null` also ends the
//! link — audited, and queued for the bot to tell the chat.

use gad_testkit::{TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

static TG_IDS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(7_100_000_000);

/// Gives `u` a Telegram link as the bot's confirmed redemption leaves it; answers its id.
async fn link(app: &TestApp, u: &TestUser) -> i64 {
    let tg = TG_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sqlx::query("UPDATE usuarios SET telegram_id = $2 WHERE id = $1")
        .bind(u.id)
        .bind(tg)
        .execute(&app.pool)
        .await
        .unwrap();
    tg
}

async fn telegram_id_of(app: &TestApp, user_id: i64) -> Option<i64> {
    sqlx::query_scalar("SELECT telegram_id FROM usuarios WHERE id = $1")
        .bind(user_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The unlink was audited (with the Telegram id sealed, never in clear) and the chat's notice
/// is queued for the bot with `motivo`.
async fn assert_unlink_recorded(app: &TestApp, user_id: i64, tg: i64, motivo: &str) {
    let rows: Vec<(Option<Value>, Option<Value>)> = sqlx::query_as(
        "SELECT old_values, new_values FROM audit_logs
         WHERE event_type = 'telegram_unlinked' AND resource_type = 'usuario' AND resource_id = $1",
    )
    .bind(user_id.to_string())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "one telegram_unlinked audit row");
    let (old, new) = &rows[0];
    let stored = format!("{old:?}{new:?}");
    assert!(
        !stored.contains(&tg.to_string()),
        "Telegram id in clear: {stored}"
    );
    assert!(old.as_ref().is_some_and(|o| o.get("telegram_id").is_some()));
    let notices: Vec<(i64, String)> = sqlx::query_as(
        "SELECT telegram_id, motivo FROM telegram_notices WHERE usuario_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(notices, vec![(tg, motivo.to_string())]);
}

#[tokio::test]
async fn minting_a_link_code_requires_the_current_password() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let path = "/api/v1/users/me/telegram-link";
    let r = app.post(path, Some(&u.token), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "current_password"])
    );
    let r = app
        .post(path, Some(&u.token), json!({"current_password": "guess"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body, json!({"detail": "Current password is incorrect"}));
    let r = app
        .post(
            path,
            Some(&u.token),
            json!({"current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["code"].as_str().unwrap().len(), 8);
}

#[tokio::test]
async fn a_wrong_password_when_minting_a_link_code_counts_toward_the_login_lockout() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    for _ in 0..5 {
        let r = app
            .post(
                "/api/v1/users/me/telegram-link",
                Some(&u.token),
                json!({"current_password": "guess"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
    let r = app
        .post(
            "/api/v1/users/me/telegram-link",
            Some(&u.token),
            json!({"current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::LOCKED, "{}", r.text);
    assert_eq!(
        app.login(&u.email, &u.password).await.status,
        StatusCode::LOCKED
    );
}

#[tokio::test]
async fn link_codes_are_stored_hashed() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/users/me/telegram-link",
            Some(&u.token),
            json!({"current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let code = r.body["code"].as_str().unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code FROM telegram_link_codes WHERE user_id = $1")
            .bind(u.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, vec![hex::encode(Sha256::digest(code.as_bytes()))]);
}

#[tokio::test]
async fn get_me_shows_whether_telegram_is_linked() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let r = app.get("/api/v1/users/me", Some(&u.token)).await;
    assert_eq!(r.body["telegram_vinculado"], json!(false), "{}", r.text);
    link(&app, &u).await;
    let r = app.get("/api/v1/users/me", Some(&u.token)).await;
    assert_eq!(r.body["telegram_vinculado"], json!(true), "{}", r.text);
}

#[tokio::test]
async fn an_own_password_change_unlinks_telegram() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let tg = link(&app, &u).await;
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&u.token),
            json!({"password": "changed-pass-123", "current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["telegram_vinculado"], json!(false));
    assert_eq!(telegram_id_of(&app, u.id).await, None);
    assert_unlink_recorded(&app, u.id, tg, "password_changed").await;
}

#[tokio::test]
async fn an_administrator_password_reset_unlinks_telegram() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    let tg = link(&app, &u).await;
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"password": "reset-by-admin-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["telegram_id"], Value::Null);
    assert_unlink_recorded(&app, u.id, tg, "password_changed").await;
}

#[tokio::test]
async fn deactivation_unlinks_telegram() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    let tg = link(&app, &u).await;
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"verificado": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(telegram_id_of(&app, u.id).await, None);
    assert_unlink_recorded(&app, u.id, tg, "deactivated").await;
}

#[tokio::test]
async fn a_level_change_unlinks_telegram() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    let tg = link(&app, &u).await;
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"nivel": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(telegram_id_of(&app, u.id).await, None);
    assert_unlink_recorded(&app, u.id, tg, "level_changed").await;

    // Changing other fields keeps the link.
    let other = app.create_user(1).await;
    link(&app, &other).await;
    let r = app
        .put(
            &format!("/api/v1/users/{}", other.id),
            Some(&admin.token),
            json!({"nombre": "Otro", "nivel": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(telegram_id_of(&app, other.id).await.is_some());
}

#[tokio::test]
async fn deletion_unlinks_telegram() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    let tg = link(&app, &u).await;
    let r = app
        .delete(&format!("/api/v1/users/{}", u.id), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(telegram_id_of(&app, u.id).await, None);
    assert_unlink_recorded(&app, u.id, tg, "deleted").await;
}

#[tokio::test]
async fn an_administrator_clears_telegram_id_with_null() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    let tg = link(&app, &u).await;
    // Absent keeps the link…
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"telefono": "1155550000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["telegram_id"], json!(tg));
    // …null removes it.
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"telegram_id": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["telegram_id"], Value::Null);
    assert_eq!(r.body["telegram_vinculado"], json!(false));
    assert_eq!(telegram_id_of(&app, u.id).await, None);
    assert_unlink_recorded(&app, u.id, tg, "administrator").await;
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_and_unlinks_telegram() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let tg = link(&app, &u).await;
    let other_session = app.login(&u.email, &u.password).await;
    assert_eq!(
        other_session.status,
        StatusCode::OK,
        "{}",
        other_session.text
    );
    let other_token = other_session.body["access_token"].as_str().unwrap();
    let r = app
        .post("/api/v1/auth/logout-everywhere", Some(&u.token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"status": "logged_out"}));
    for token in [u.token.as_str(), other_token] {
        let r = app.get("/api/v1/users/me", Some(token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    assert_eq!(telegram_id_of(&app, u.id).await, None);
    assert_unlink_recorded(&app, u.id, tg, "logged_out_everywhere").await;
    // A new login works.
    assert_eq!(
        app.login(&u.email, &u.password).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ending_sessions_also_voids_unredeemed_link_codes() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/users/me/telegram-link",
            Some(&u.token),
            json!({"current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post("/api/v1/auth/logout-everywhere", Some(&u.token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let usable: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM telegram_link_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(u.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(usable, 0);
}
