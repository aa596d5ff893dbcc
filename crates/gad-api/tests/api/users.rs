//! Users API: levels, conflicts, self-service, soft delete.

use gad_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn new_user(email: &str, dni: &str) -> serde_json::Value {
    json!({"email": email, "password": "password-123", "nombre": "Nuevo", "apellido": "Usuario", "dni": dni, "verificado": true})
}

#[tokio::test]
async fn admin_creates_users_with_201_location_and_409_on_duplicates() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin.token),
            new_user("Nuevo@Test.gad", "111"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/users/{id}").as_str())
    );
    assert_eq!(r.body["email"], "nuevo@test.gad");
    assert_eq!(r.body["nivel"], 1);
    assert!(r.body["uuid"].is_string());
    assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(r.body.get("hashed_password").is_none());

    let r = app
        .post(
            "/api/v1/users",
            Some(&admin.token),
            new_user("NUEVO@test.gad", "222"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"detail": "email already exists", "field": "email"})
    );
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin.token),
            new_user("otro@test.gad", "111"),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"detail": "dni already exists", "field": "dni"})
    );
    let mut b = new_user("t1@test.gad", "333");
    b["telegram_id"] = json!(42);
    assert_eq!(
        app.post("/api/v1/users", Some(&admin.token), b)
            .await
            .status,
        StatusCode::CREATED
    );
    let mut b = new_user("t2@test.gad", "444");
    b["telegram_id"] = json!(42);
    let r = app.post("/api/v1/users", Some(&admin.token), b).await;
    assert_eq!(
        r.body,
        json!({"detail": "telegram_id already exists", "field": "telegram_id"})
    );

    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'user_created' AND user_id = $1",
    )
    .bind(admin.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audits, 2);
}

#[tokio::test]
async fn create_user_validation_is_422_with_fields() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let r = app.post("/api/v1/users", Some(&admin.token), json!({
        "email": "not-an-email", "password": "short", "nombre": "", "apellido": "A", "dni": "1", "nivel": 7
    })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errs = r.body["errors"].as_array().unwrap();
    assert_eq!(errs[0]["loc"], json!(["body", "nivel"]));
    let r = app.post("/api/v1/users", Some(&admin.token), json!({
        "email": "not-an-email", "password": "short", "nombre": "", "apellido": "A", "dni": "1"
    })).await;
    let locs: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"][1].clone())
        .collect();
    assert_eq!(
        locs,
        vec![json!("email"), json!("password"), json!("nombre")]
    );
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin.token),
            json!({"email": "x@y.z"}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["type"], "missing");
}

#[tokio::test]
async fn levels_on_users_routes() {
    let app = TestApp::spawn().await;
    let l1 = app.create_user(1).await;
    let l2 = app.create_user(2).await;
    let other = app.create_user(1).await;
    // L1: own profile yes, others 404, list 403, create 403.
    assert_eq!(
        app.get(&format!("/api/v1/users/{}", l1.id), Some(&l1.token))
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .get(&format!("/api/v1/users/{}", other.id), Some(&l1.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "The user with this id does not exist in the system"})
    );
    assert_eq!(
        app.get("/api/v1/users", Some(&l1.token)).await.status,
        StatusCode::FORBIDDEN
    );
    // L2: read all, but cannot create/update/delete.
    assert_eq!(
        app.get(&format!("/api/v1/users/{}", other.id), Some(&l2.token))
            .await
            .status,
        StatusCode::OK
    );
    let r = app.get("/api/v1/users/?limit=500", Some(&l2.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.as_array().unwrap().len() >= 3);
    assert_eq!(
        app.post("/api/v1/users", Some(&l2.token), new_user("x@t.gad", "9"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.put(
            &format!("/api/v1/users/{}", other.id),
            Some(&l2.token),
            json!({"nivel": 3})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&format!("/api/v1/users/{}", other.id), Some(&l2.token))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/v1/users?include_deleted=true", Some(&l2.token))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Unknown id → 404, bad id → 422 at path.
    assert_eq!(
        app.get("/api/v1/users/999999", Some(&l2.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app.get("/api/v1/users/abc", Some(&l2.token)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["path", "user_id"]));
}

#[tokio::test]
async fn list_filters_and_pagination() {
    let app = TestApp::spawn().await;
    let l2 = app.create_user(2).await;
    for _ in 0..3 {
        app.create_user(1).await;
    }
    let r = app
        .get("/api/v1/users?nivel=1&limit=2", Some(&l2.token))
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    assert!(r.body.as_array().unwrap().iter().all(|u| u["nivel"] == 1));
    let r = app
        .get("/api/v1/users?nivel=1&skip=2&limit=2", Some(&l2.token))
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = app
        .get(
            &format!("/api/v1/users?q={}", &l2.email[..8]),
            Some(&l2.token),
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/v1/users?limit=501", Some(&l2.token))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = app.get("/api/v1/users?skip=-1", Some(&l2.token)).await;
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "skip"]));
    let r = app.get("/api/v1/users?nivel=9", Some(&l2.token)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn me_updates_limited_fields_and_password_needs_current() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&u.token),
            json!({"telefono": "+5411555", "nivel": 3, "email": "hack@x.y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["telefono"], "+5411555");
    assert_eq!(r.body["nivel"], 1, "nobody raises their own level");
    assert_eq!(r.body["email"], u.email);
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&u.token),
            json!({"password": "new-password-1", "current_password": "wrong-one"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"detail": "Current password is incorrect"}));
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&u.token),
            json!({"password": "new-password-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .put(
            "/api/v1/users/me",
            Some(&u.token),
            json!({"password": "new-password-1", "current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.login(&u.email, "new-password-1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.login(&u.email, &u.password).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_updates_and_soft_deletes_revoking_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"nivel": 2, "nombre": "Cambiado"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["nivel"], 2);
    assert_eq!(r.body["nombre"], "Cambiado");
    assert_eq!(
        r.body["apellido"], "User",
        "partial update keeps other fields"
    );
    // The new level applies at once (the level is read from the database, not the token).
    assert_eq!(
        app.get("/api/v1/users", Some(&u.token)).await.status,
        StatusCode::OK
    );

    let r = app
        .delete(&format!("/api/v1/users/{}", u.id), Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["id"], u.id);
    assert!(r.body["deleted_at"].is_string());
    assert_eq!(
        app.get("/api/v1/users/me", Some(&u.token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Deleted means gone (404), as for tasks and efectivos; an administrator can still look it
    // up explicitly, a supervisor cannot.
    assert_eq!(
        app.get(&format!("/api/v1/users/{}", u.id), Some(&admin.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .get(
            &format!("/api/v1/users/{}?include_deleted=true", u.id),
            Some(&admin.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["deleted_at"].is_string());
    let sup = app.create_user(2).await;
    assert_eq!(
        app.get(
            &format!("/api/v1/users/{}?include_deleted=true", u.id),
            Some(&sup.token)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let list = app.get("/api/v1/users?limit=500", Some(&admin.token)).await;
    assert!(
        !list
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == u.id),
        "deleted users are not listed"
    );
    let list = app
        .get(
            "/api/v1/users?limit=500&include_deleted=true",
            Some(&admin.token),
        )
        .await;
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == u.id)
    );
    assert_eq!(
        app.delete(&format!("/api/v1/users/{}", u.id), Some(&admin.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM audit_logs WHERE user_id = $1 ORDER BY id")
            .bind(admin.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(events, vec!["user_updated", "user_deleted"]);
}

#[tokio::test]
async fn telegram_link_code() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/users/me/telegram-link",
            Some(&u.token),
            json!({"current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let code = r.body["code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    let exp = chrono::DateTime::parse_from_rfc3339(r.body["expires_at"].as_str().unwrap()).unwrap();
    let mins = (exp.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!((590..=600).contains(&mins));
    let owner: i64 = sqlx::query_scalar(
        "SELECT user_id FROM telegram_link_codes
         WHERE code = encode(sha256(convert_to($1, 'UTF8')), 'hex')",
    )
    .bind(code)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(owner, u.id);
}

/// The e-mail is read as an `Email`: refused with the contract's 422 (echoing what was sent),
/// on create and on update, listed with the other fields' errors.
#[tokio::test]
async fn email_is_read_as_an_address() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let u = app.create_user(1).await;
    let refused = |input: &str| {
        json!({"detail": "Validation Error", "errors": [{
            "type": "value_error", "loc": ["body", "email"],
            "msg": "value is not a valid email address", "input": input}]})
    };
    for bad in [" a@b.co", "a@b", "a@@b.co", "a@b.co.", "@b.co"] {
        let r = app
            .post(
                "/api/v1/users",
                Some(&admin.token),
                new_user(bad, "30111222"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(r.body, refused(bad));
        let r = app
            .put(
                &format!("/api/v1/users/{}", u.id),
                Some(&admin.token),
                json!({"email": bad}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(r.body, refused(bad));
    }
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"email": "x", "dni": ""}),
        )
        .await;
    let locs: Vec<&Value> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["loc"])
        .collect();
    assert_eq!(
        locs,
        vec![&json!(["body", "email"]), &json!(["body", "dni"])]
    );
    let r = app
        .put(
            &format!("/api/v1/users/{}", u.id),
            Some(&admin.token),
            json!({"email": "renamed@test.gad"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["email"], "renamed@test.gad");
}
