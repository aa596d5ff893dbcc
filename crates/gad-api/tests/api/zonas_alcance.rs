//! Figures and the audit trail by jurisdiction: the overview of one zone, of a supervisor's
//! comisarías by default, of the whole city on request; the audit entries about one zone's tasks.

use gad_testkit::{Resp, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::zonas::{EN_A, EN_A1, EN_B, FUERA, mapa};

async fn task_at(app: &TestApp, admin: &TestUser, at: (f64, f64)) -> i64 {
    let r = app
        .create_task(
            admin,
            admin.id,
            json!({"ubicacion_lat": at.0, "ubicacion_lon": at.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().unwrap()
}

fn sum(v: &Value) -> i64 {
    v.as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum()
}

/// (live tasks, located officers) of an overview answer.
fn cifras(r: &Resp) -> (i64, i64) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (
        sum(&r.body["tareas"]["por_estado"]),
        r.body["efectivos"]["con_ubicacion"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn the_overview_counts_a_supervisors_comisarias_by_default_and_the_city_on_request() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup_a = app.create_user(2).await;
    let sup_all = app.create_user(2).await;
    let m = mapa(&app, &admin).await;
    let r = app
        .put(
            &format!("/api/v1/users/{}/zonas", sup_a.id),
            Some(&admin.token),
            json!({"zona_ids": [m.a]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Tasks: 2 in A (one of them in A1), 3 in B, 1 outside every zone.
    for at in [EN_A1, EN_A, EN_B, EN_B, EN_B, FUERA] {
        task_at(&app, &admin, at).await;
    }
    // Located officers: 1 in A1, 2 in B, 1 outside every zone; and one without a position.
    for at in [Some(EN_A1), Some(EN_B), Some(EN_B), Some(FUERA), None] {
        app.create_efectivo(at).await;
    }

    let get = |path: String, who: &TestUser| {
        let app = &app;
        let token = who.token.clone();
        async move { app.get(&path, Some(&token)).await }
    };
    let ov = "/api/v1/stats/overview";
    assert_eq!(
        cifras(&get(ov.into(), &sup_a).await),
        (3, 2),
        "A's and what lies outside every comisaría, not B's"
    );
    assert_eq!(
        cifras(&get(format!("{ov}?toda_la_ciudad=true"), &sup_a).await),
        (6, 4)
    );
    assert_eq!(cifras(&get(ov.into(), &sup_all).await), (6, 4));
    assert_eq!(cifras(&get(ov.into(), &admin).await), (6, 4));
    assert_eq!(
        cifras(&get(format!("{ov}?zona_id={}", m.b), &admin).await),
        (3, 2)
    );
    assert_eq!(
        cifras(&get(format!("{ov}?zona_id={}", m.a), &admin).await),
        (2, 1),
        "a comisaría counts its cuadrantes' tasks"
    );
    assert_eq!(
        cifras(&get(format!("{ov}?zona_id={}", m.a1), &admin).await),
        (1, 1)
    );
    // A zone filter narrows the jurisdiction, as on the task list: B is outside A's.
    assert_eq!(
        cifras(&get(format!("{ov}?zona_id={}", m.b), &sup_a).await),
        (0, 0)
    );
    assert_eq!(
        cifras(&get(format!("{ov}?zona_id={}&toda_la_ciudad=true", m.b), &sup_a).await),
        (3, 2)
    );
    let r = get(format!("{ov}?zona_id=999999"), &admin).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "zona_id"]));
}

#[tokio::test]
async fn a_supervisor_reads_their_own_comisarias_and_an_officer_nobody_elses() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup_a = app.create_user(2).await;
    let officer = app.create_user(1).await;
    let m = mapa(&app, &admin).await;
    app.put(
        &format!("/api/v1/users/{}/zonas", sup_a.id),
        Some(&admin.token),
        json!({"zona_ids": [m.a]}),
    )
    .await;
    let r = app
        .get(
            &format!("/api/v1/users/{}/zonas", sup_a.id),
            Some(&sup_a.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"usuario_id": sup_a.id, "zona_ids": [m.a]}));
    let r = app
        .get(
            &format!("/api/v1/users/{}/zonas", sup_a.id),
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .get(
            &format!("/api/v1/users/{}/zonas", officer.id),
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.body, json!({"usuario_id": officer.id, "zona_ids": []}));
}

#[tokio::test]
async fn the_audit_trail_by_zone_keeps_the_entries_about_that_zones_tasks() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let m = mapa(&app, &admin).await;
    let ta = task_at(&app, &admin, EN_A1).await;
    let tb = task_at(&app, &admin, EN_B).await;
    let tf = task_at(&app, &admin, FUERA).await;
    for t in [ta, tb] {
        let r = app
            .post(
                &format!("/api/v1/tasks/{t}/notas"),
                Some(&admin.token),
                json!({"texto": "Vecino informa novedades"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let about = |r: &Resp| -> Vec<(String, String)> {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let task = if e["resource_type"] == "tarea" {
                    e["resource_id"].as_str().unwrap().to_string()
                } else {
                    e["new_values"]["task_id"].to_string()
                };
                (e["event_type"].as_str().unwrap().to_string(), task)
            })
            .collect()
    };
    let all = about(
        &app.get("/api/v1/admin/audit?limit=500", Some(&admin.token))
            .await,
    );
    assert!(all.iter().any(|(_, t)| *t == tb.to_string()), "{all:?}");
    assert!(all.iter().any(|(_, t)| *t == tf.to_string()), "{all:?}");

    for zona in [m.a, m.a1] {
        let rows = about(
            &app.get(
                &format!("/api/v1/admin/audit?zona_id={zona}&limit=500"),
                Some(&admin.token),
            )
            .await,
        );
        assert!(
            rows.iter().all(|(_, t)| *t == ta.to_string()),
            "only A's task: {rows:?}"
        );
        let events: Vec<&str> = rows.iter().map(|(e, _)| e.as_str()).collect();
        assert!(events.contains(&"task_created"), "{events:?}");
        assert!(events.contains(&"task_note_added"), "{events:?}");
    }
    let rows = about(
        &app.get(
            &format!("/api/v1/admin/audit?zona_id={}&limit=500", m.b),
            Some(&admin.token),
        )
        .await,
    );
    assert!(
        !rows.is_empty() && rows.iter().all(|(_, t)| *t == tb.to_string()),
        "{rows:?}"
    );

    let r = app
        .get("/api/v1/admin/audit?zona_id=999999", Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "zona_id"]));
}
