//! Administrative commands and the audit trail (contract §14).

use std::time::Duration;

use gad_testkit::{TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CMD: &str = "/api/v1/admin/agent/command";

#[tokio::test]
async fn admin_routes_require_level_3() {
    let app = TestApp::spawn().await;
    let l2 = app.create_user(2).await;
    let r = app.post(CMD, None, json!({"action": "cache_clear"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(CMD, Some(&l2.token), json!({"action": "cache_clear"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Authorisation before validation.
    let r = app
        .post(CMD, Some(&l2.token), json!({"action": "nope"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/admin/audit", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/admin/audit", Some(&l2.token)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn unknown_action_is_422_listing_the_allowed_ones() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let r = app
        .post(CMD, Some(&admin.token), json!({"action": "reboot"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let e = &r.body["errors"][0];
    assert_eq!(e["loc"], json!(["body", "action"]));
    for a in ["broadcast", "cache_clear", "audit_purge"] {
        assert!(e["msg"].as_str().unwrap().contains(a), "{e}");
    }
    let r = app.post(CMD, Some(&admin.token), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "action"]));
    let r = app
        .post(
            CMD,
            Some(&admin.token),
            json!({"action": "broadcast", "payload": {"title": "t", "content": "c", "audience": "everybody"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "payload", "audience"])
    );
    let r = app
        .post(
            CMD,
            Some(&admin.token),
            json!({"action": "broadcast", "payload": {"content": "c"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["errors"][0]["loc"],
        json!(["body", "payload", "title"])
    );
}

#[tokio::test]
async fn cache_clear_command_clears_and_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    app.state
        .cache
        .set("x", &json!(1), Duration::from_secs(60))
        .await;
    let r = app
        .post(CMD, Some(&admin.token), json!({"action": "cache_clear"}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["status"], "accepted");
    assert_eq!(
        r.body["message"],
        "Administrative command 'cache_clear' has been accepted and logged"
    );
    assert!(r.body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.body["result"]["cleared"], true);
    assert!(app.state.cache.get("x").await.is_none());

    let r = app
        .get(
            &format!(
                "/api/v1/admin/audit?event_type=admin_command&user_id={}",
                admin.id
            ),
            Some(&admin.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = r.body.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["resource_type"], "admin_command");
    assert_eq!(row["resource_id"], "cache_clear");
    assert_eq!(row["user_id"], admin.id);
    assert_eq!(row["ip_address"], "127.0.0.1");
    assert_eq!(row["new_values"]["action"], "cache_clear");
    assert!(row["uuid"].as_str().is_some());
    for f in ["created_at", "updated_at", "retention_until"] {
        assert!(row[f].as_str().unwrap().ends_with('Z'), "{f}");
    }
}

#[tokio::test]
async fn audit_purge_deletes_only_expired_rows() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    // Rows past their retention can only be made by the owner (the insert fixes it otherwise).
    gad_testkit::audit::insert_expired_rows(&app.db_url, &["old_event", "old_event"]).await;
    sqlx::query("INSERT INTO audit_logs (event_type) VALUES ('kept_event')")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app
        .post(CMD, Some(&admin.token), json!({"action": "audit_purge"}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["result"]["deleted_count"], 2);
    let left: Vec<String> = sqlx::query_scalar("SELECT event_type FROM audit_logs ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!left.contains(&"old_event".to_string()));
    assert!(left.contains(&"kept_event".to_string()));
    assert!(left.contains(&"admin_command".to_string()));
}

#[tokio::test]
async fn broadcast_is_accepted_for_every_audience() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let ef = app.create_efectivo(None).await;
    for audience in ["all", "supervisores", "efectivos", "unidad:Unidad Test"] {
        let r = app
            .post(
                CMD,
                Some(&admin.token),
                json!({"action": "broadcast", "payload": {"title": "Aviso", "content": "Reunión a las 10", "level": "info", "audience": audience}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{audience}: {}", r.text);
        assert_eq!(r.body["result"]["audience"], audience);
        if audience.starts_with("unidad:") {
            assert!(r.body["result"]["unidad_recipients"].as_u64().unwrap() >= 1);
        }
    }
    let _ = ef;
    let r = app
        .get(
            "/api/v1/admin/audit?resource_id=broadcast&limit=2",
            Some(&admin.token),
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn audit_filters_by_time_and_paginates() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    sqlx::query(
        "INSERT INTO audit_logs (event_type, resource_type, resource_id, created_at) VALUES
         ('t_ev', 'tarea', '1', '2026-01-01T10:00:00Z'), ('t_ev', 'tarea', '2', '2026-01-02T10:00:00Z'),
         ('t_ev', 'usuario', '3', '2026-01-03T10:00:00Z')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let t = Some(admin.token.as_str());
    let r = app.get("/api/v1/admin/audit?event_type=t_ev", t).await;
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3", "2", "1"]);
    let r = app
        .get("/api/v1/admin/audit?event_type=t_ev&desde=2026-01-02T00:00:00Z&hasta=2026-01-02T23:00:00Z", t)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["created_at"], "2026-01-02T10:00:00.000Z");
    let r = app
        .get(
            "/api/v1/admin/audit?event_type=t_ev&resource_type=tarea&skip=1&limit=1",
            t,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["resource_id"], "1");
    let r = app.get("/api/v1/admin/audit?limit=0", t).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.get("/api/v1/admin/audit?desde=yesterday", t).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "desde"]));
}

#[tokio::test]
async fn a_broadcast_reaches_the_officers_as_a_message_with_delivery_records() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let linked = app.create_efectivo(None).await;
    let unlinked = app.create_efectivo(None).await;
    sqlx::query("UPDATE usuarios SET telegram_id = 9200001 WHERE id = $1")
        .bind(linked.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app
        .post(
            CMD,
            Some(&admin.token),
            json!({"action": "broadcast", "payload": {"title": "Aviso", "content": "Reunión a las 10", "level": "critical"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["result"]["event_type"], "notification");
    assert_eq!(r.body["result"]["audience"], "all");
    let id = r.body["result"]["mensaje_id"]
        .as_i64()
        .expect("the broadcast names its message");
    let m = app
        .get(&format!("/api/v1/mensajes/{id}"), Some(&admin.token))
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["destino"], json!({"todos": true}));
    assert_eq!(m.body["texto"], "Aviso\n\nReunión a las 10");
    assert_eq!(m.body["prioridad"], "urgente");
    assert_eq!(m.body["autor_usuario_id"], admin.id);
    let estado = |ef: &TestUser| {
        m.body["destinatarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["efectivo_id"] == ef.efectivo_id.unwrap())
            .map(|d| d["estado"].as_str().unwrap().to_string())
    };
    assert_eq!(estado(&linked).as_deref(), Some("pendiente"), "{}", m.text);
    assert_eq!(estado(&unlinked).as_deref(), Some("fallido"), "{}", m.text);

    // To the supervisors only: the desk's notification, no message to officers.
    let r = app
        .post(
            CMD,
            Some(&admin.token),
            json!({"action": "broadcast", "payload": {"title": "Aviso", "content": "Solo mesa", "audience": "supervisores"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["result"]["mensaje_id"], Value::Null);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM mensajes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}
