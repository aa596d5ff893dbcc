//! The roster: shifts (overlap refused), patterns, clock-in lateness, leave, DUTY_MODE=turnos in
//! the one dispatch rule (dispatch, suggestions, backup, the map) and the missed clock-in alert.

use chrono::{Duration, Utc};
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SITE: (f64, f64) = (-34.6037, -58.3816);

fn at(mins_from_now: i64) -> String {
    gad_core::time::rfc3339(Utc::now() + Duration::minutes(mins_from_now))
}

async fn shift(app: &TestApp, sup: &TestUser, off: &TestUser, from: i64, to: i64) -> Value {
    let r = app
        .post(
            "/api/v1/turnos",
            Some(&sup.token),
            json!({"efectivo_id": off.efectivo_id.unwrap(), "inicio": at(from), "fin": at(to),
                   "unidad": "Móvil 1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn clock_in(app: &TestApp, by: &TestUser, turno: i64) -> gad_testkit::Resp {
    app.post(
        &format!("/api/v1/turnos/{turno}/ingreso"),
        Some(&by.token),
        json!({}),
    )
    .await
}

#[tokio::test]
async fn overlapping_shift_is_409_with_the_overlapping_one() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let off = app.create_efectivo(None).await;
    let first = shift(&app, &sup, &off, 60, 60 * 9).await;
    let r = app
        .post(
            "/api/v1/turnos",
            Some(&sup.token),
            json!({"efectivo_id": off.efectivo_id, "inicio": at(60 * 8), "fin": at(60 * 16)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["turno"]["id"], first["id"]);
    // Back to back is not an overlap; an officer may not write shifts; bad spans are 422.
    shift(&app, &sup, &off, 60 * 9, 60 * 17).await;
    let r = app
        .post(
            "/api/v1/turnos",
            Some(&off.token),
            json!({"efectivo_id": off.efectivo_id, "inicio": at(60 * 30), "fin": at(60 * 31)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    for (from, to) in [(60 * 40, 60 * 39), (60 * 40, 60 * 65)] {
        let r = app
            .post(
                "/api/v1/turnos",
                Some(&sup.token),
                json!({"efectivo_id": off.efectivo_id, "inicio": at(from), "fin": at(to)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.body["errors"][0]["loc"], json!(["body", "fin"]));
    }
    // An update into the other shift's time is refused the same way.
    let r = app
        .put(
            &format!("/api/v1/turnos/{}", first["id"]),
            Some(&sup.token),
            json!({"efectivo_id": off.efectivo_id, "inicio": at(60 * 2), "fin": at(60 * 10)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // The officer reads their own shifts only; the supervisor filters by officer.
    let other = app.create_efectivo(None).await;
    shift(&app, &sup, &other, 60, 120).await;
    let r = app.get("/api/v1/turnos", Some(&off.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = app
        .get(
            &format!("/api/v1/turnos?efectivo_id={}", other.efectivo_id.unwrap()),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = app
        .delete(&format!("/api/v1/turnos/{}", first["id"]), Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

#[tokio::test]
async fn pattern_creates_the_expected_count_or_nothing() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let a = app.create_efectivo(None).await;
    let b = app.create_efectivo(None).await;
    // 2027-01-04 is a Monday: two weeks of Monday, Wednesday, Friday for two officers.
    let r = app
        .post(
            "/api/v1/turnos/plantilla",
            Some(&sup.token),
            json!({"efectivo_ids": [a.efectivo_id, b.efectivo_id], "desde": "2027-01-04",
                   "hasta": "2027-01-17", "hora_inicio": "07:00", "duracion_horas": 8,
                   "patron": {"tipo": "dias_semana", "dias": [1, 3, 5]}, "unidad": "Móvil 7"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["creados"], 12);
    // 12×36 over ten days: a shift every other day, five in all.
    let c = app.create_efectivo(None).await;
    let r = app
        .post(
            "/api/v1/turnos/plantilla",
            Some(&sup.token),
            json!({"efectivo_ids": [c.efectivo_id], "desde": "2027-01-01", "hasta": "2027-01-10",
                   "hora_inicio": "19:00",
                   "patron": {"tipo": "ciclo", "trabajo_horas": 12, "descanso_horas": 36}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["creados"], 5);
    // A pattern that overlaps any existing shift writes nothing and lists the conflicts.
    let r = app
        .post(
            "/api/v1/turnos/plantilla",
            Some(&sup.token),
            json!({"efectivo_ids": [a.efectivo_id, c.efectivo_id], "desde": "2027-01-04",
                   "hasta": "2027-01-05", "hora_inicio": "10:00", "duracion_horas": 4,
                   "patron": {"tipo": "dias_semana", "dias": [1, 2]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["conflictos"].as_array().unwrap().len(), 1);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM turnos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 17);
    let r = app
        .post(
            "/api/v1/turnos/plantilla",
            Some(&sup.token),
            json!({"efectivo_ids": [a.efectivo_id], "desde": "2027-01-04", "hasta": "2027-01-05",
                   "hora_inicio": "25:00", "patron": {"tipo": "dias_semana", "dias": [1]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

#[tokio::test]
async fn late_clock_in_is_allowed_and_flagged() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let off = app.create_efectivo(None).await;
    let late = shift(&app, &sup, &off, -45, 60 * 7).await;
    let id = late["id"].as_i64().unwrap();
    // Another officer does not see it.
    let other = app.create_efectivo(None).await;
    assert_eq!(
        clock_in(&app, &other, id).await.status,
        StatusCode::NOT_FOUND
    );
    let r = clock_in(&app, &off, id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ingreso_tarde"], true);
    assert_eq!(r.body["estado"], "en_curso");
    let stored: bool = sqlx::query_scalar("SELECT ingreso_tarde FROM turnos WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored);
    assert_eq!(clock_in(&app, &off, id).await.status, StatusCode::CONFLICT);
    let r = app.get("/api/v1/turnos/actual", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body[0]["unidad"], "Móvil 1");
    assert_eq!(
        r.body[0]["efectivos"][0]["efectivo_id"],
        off.efectivo_id.unwrap()
    );
    let r = app
        .post(
            &format!("/api/v1/turnos/{id}/egreso"),
            Some(&off.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "finalizado");
    // On time (within the tolerance), by a supervisor for the officer: not flagged.
    let on_time = shift(&app, &sup, &other, -10, 60 * 8).await;
    let r = clock_in(&app, &sup, on_time["id"].as_i64().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ingreso_tarde"], false);
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE event_type = 'shift_clock_in'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 2);
}

/// Approved leave today for this officer (asked by them, approved by `sup`).
/// A leave from yesterday to tomorrow (UTC dates): whatever ZONA_HORARIA and the time of day,
/// it covers now and the next hours.
async fn approved_leave(app: &TestApp, sup: &TestUser, off: &TestUser) -> Value {
    let today = Utc::now().date_naive();
    let (desde, hasta) = (today - Duration::days(1), today + Duration::days(1));
    approved_leave_on(app, sup, off, &desde.to_string(), &hasta.to_string()).await
}

async fn approved_leave_on(
    app: &TestApp,
    sup: &TestUser,
    off: &TestUser,
    desde: &str,
    hasta: &str,
) -> Value {
    let r = app
        .post(
            "/api/v1/licencias",
            Some(&off.token),
            json!({"tipo": "enfermedad", "desde": desde, "hasta": hasta, "motivo": "gripe"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/licencias/{}/aprobar", r.body["id"]),
            Some(&sup.token),
            json!({"motivo": "certificado presentado"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn ids(v: &Value, key: &str) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s[key].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn turnos_mode_calls_only_officers_on_duty_and_not_on_leave() {
    let app = TestApp::spawn_with(Options::default().env("DUTY_MODE", "turnos")).await;
    let sup = app.create_user(2).await;
    let caller = app.create_user(1).await;
    let near = |i: usize| Some((SITE.0 + 0.001 * i as f64, SITE.1));
    // Nearest first: off shift, on leave (clocked in), planned but not clocked in, then two on
    // duty.
    let off_shift = app.create_efectivo(near(1)).await;
    let on_leave = app.create_efectivo(near(2)).await;
    let planned = app.create_efectivo(near(3)).await;
    let on_duty = app.create_efectivo(near(4)).await;
    let on_duty2 = app.create_efectivo(near(5)).await;
    for o in [&on_leave, &on_duty, &on_duty2] {
        let t = shift(&app, &sup, o, -5, 60 * 8).await;
        let r = clock_in(&app, o, t["id"].as_i64().unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    shift(&app, &sup, &planned, -5, 60 * 8).await;
    approved_leave(&app, &sup, &on_leave).await;

    let r = app
        .get(
            &format!(
                "/api/v1/tasks/emergency/suggestions?lat={}&lng={}",
                SITE.0, SITE.1
            ),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let want = vec![on_duty.efectivo_id.unwrap(), on_duty2.efectivo_id.unwrap()];
    assert_eq!(ids(&r.body, "efectivo_id"), want);
    let r = app
        .get(
            &format!(
                "/api/v1/geo/map/view?center_lat={}&center_lng={}&radius_m=5000&disponibles=true",
                SITE.0, SITE.1
            ),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(ids(&r.body["usuarios"], "efectivo_id"), want);

    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&caller.token),
            json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "prueba"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["assigned_efectivo_id"], on_duty.efectivo_id.unwrap());
    let task = r.body["task_id"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/api/v1/tasks/{task}/backup"),
            Some(&sup.token),
            json!({"efectivos": 3}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        ids(&r.body["added"], "efectivo_id"),
        vec![on_duty2.efectivo_id.unwrap()]
    );
    let called: i64 =
        sqlx::query_scalar("SELECT count(*) FROM despachos WHERE efectivo_id = ANY($1)")
            .bind(vec![
                off_shift.efectivo_id.unwrap(),
                on_leave.efectivo_id.unwrap(),
                planned.efectivo_id.unwrap(),
            ])
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        called, 0,
        "never called: off shift, on leave, not clocked in"
    );
}

#[tokio::test]
async fn turnos_without_clock_in_admits_a_planned_shift() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("DUTY_MODE", "turnos")
            .env("DUTY_REQUIRES_CLOCK_IN", "false"),
    )
    .await;
    let sup = app.create_user(2).await;
    let off_shift = app.create_efectivo(Some((SITE.0 + 0.001, SITE.1))).await;
    let planned = app.create_efectivo(Some((SITE.0 + 0.002, SITE.1))).await;
    shift(&app, &sup, &planned, -5, 60).await;
    let r = app
        .get(
            &format!(
                "/api/v1/tasks/emergency/suggestions?lat={}&lng={}",
                SITE.0, SITE.1
            ),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        ids(&r.body, "efectivo_id"),
        vec![planned.efectivo_id.unwrap()]
    );
    let _ = off_shift;
}

#[tokio::test]
async fn libre_mode_still_calls_officers_without_a_shift() {
    let app = TestApp::spawn().await;
    let caller = app.create_user(1).await;
    let sup = app.create_user(2).await;
    let off = app.create_efectivo(Some((SITE.0 + 0.001, SITE.1))).await;
    let on_leave = app.create_efectivo(Some((SITE.0 + 0.002, SITE.1))).await;
    approved_leave(&app, &sup, &on_leave).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&caller.token),
            json!({"lat": SITE.0, "lng": SITE.1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["assigned_efectivo_id"], off.efectivo_id.unwrap());
}

#[tokio::test]
async fn leave_is_asked_by_the_officer_and_approval_cancels_covered_shifts() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let off = app.create_efectivo(None).await;
    let t = shift(&app, &sup, &off, 60, 120).await;
    let l = approved_leave(&app, &sup, &off).await;
    assert_eq!(l["estado"], "aprobada");
    // The shift is kept, marked; its time is free again.
    let r = app
        .get(&format!("/api/v1/turnos/{}", t["id"]), Some(&sup.token))
        .await;
    assert_eq!(r.body["estado"], "cancelado_por_licencia", "{}", r.text);
    assert_eq!(r.body["cancelado_por_licencia"], l["id"]);
    let r = app
        .post(
            &format!("/api/v1/licencias/{}/rechazar", l["id"]),
            Some(&sup.token),
            json!({"motivo": "ya resuelta"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // An officer cannot resolve; a non-officer cannot ask; bad dates are 422.
    let r = app
        .post(
            &format!("/api/v1/licencias/{}/aprobar", l["id"]),
            Some(&off.token),
            json!({"motivo": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(
            "/api/v1/licencias",
            Some(&sup.token),
            json!({"tipo": "vacaciones", "desde": "2027-01-02", "hasta": "2027-01-03"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .post(
            "/api/v1/licencias",
            Some(&off.token),
            json!({"tipo": "vacaciones", "desde": "2027-01-05", "hasta": "2027-01-03"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app.get("/api/v1/licencias", Some(&off.token)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.text);
}

#[tokio::test]
async fn leave_days_are_calendar_days_of_the_local_zone() {
    // ZONA_HORARIA defaults to Buenos Aires (UTC-3): 01:00–02:00 UTC on 10 March is the evening
    // of 9 March there, so a leave of the 10th leaves it alone and a leave of the 9th cancels it.
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let off = app.create_efectivo(None).await;
    let r = app
        .post(
            "/api/v1/turnos",
            Some(&sup.token),
            json!({"efectivo_id": off.efectivo_id.unwrap(), "inicio": "2027-03-10T01:00:00Z",
                   "fin": "2027-03-10T02:00:00Z", "unidad": "Móvil 1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let turno = r.body["id"].clone();
    let l = approved_leave_on(&app, &sup, &off, "2027-03-10", "2027-03-10").await;
    assert_eq!(l["turnos_cancelados"], json!([]), "{l}");
    let l = approved_leave_on(&app, &sup, &off, "2027-03-09", "2027-03-09").await;
    assert_eq!(l["turnos_cancelados"], json!([turno]), "{l}");
}

#[tokio::test]
async fn a_pattern_starts_at_its_local_time() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let off = app.create_efectivo(None).await;
    let r = app
        .post(
            "/api/v1/turnos/plantilla",
            Some(&sup.token),
            json!({"efectivo_ids": [off.efectivo_id.unwrap()], "desde": "2027-03-01",
                   "hasta": "2027-03-01", "hora_inicio": "07:00", "duracion_horas": 8,
                   "patron": {"tipo": "dias_semana", "dias": [1]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["turnos"][0]["inicio"], "2027-03-01T10:00:00.000Z",
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_clock_in_raises_exactly_one_alert() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let missed = app.create_efectivo(None).await;
    let present = app.create_efectivo(None).await;
    let recent = app.create_efectivo(None).await;
    shift(&app, &sup, &missed, -20, 60 * 8).await;
    let t = shift(&app, &sup, &present, -20, 60 * 8).await;
    assert_eq!(
        clock_in(&app, &present, t["id"].as_i64().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    shift(&app, &sup, &recent, -5, 60 * 8).await;
    // Two instances look at the same moment, then again.
    let other = app.service_ctx(2);
    let (a, b) = tokio::join!(
        gad_service::turnos::watch_once(&app.state.ctx),
        gad_service::turnos::watch_once(&other)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sin_ingreso + b.sin_ingreso, 1, "{a:?} {b:?}");
    let again = gad_service::turnos::watch_once(&app.state.ctx)
        .await
        .unwrap();
    assert_eq!(again.sin_ingreso, 0);
    let alerted: Vec<i64> =
        sqlx::query_scalar("SELECT efectivo_id FROM turnos WHERE alerta_ausencia_at IS NOT NULL")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(alerted, vec![missed.efectivo_id.unwrap()]);
}

/// The officer's line of the roster (panics when absent).
fn line(planilla: &Value, efectivo_id: i64) -> Value {
    planilla["unidades"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["efectivos"].as_array().unwrap().iter())
        .find(|r| r["efectivo_id"] == efectivo_id)
        .cloned()
        .unwrap_or_else(|| panic!("officer {efectivo_id} not on the roster: {planilla}"))
}

#[tokio::test]
async fn the_days_roster_says_who_is_on_late_absent_on_leave_or_off_and_follows_clock_ins_live() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let mut ws = gad_testkit::ws::WsClient::connect(&app, Some(&sup.token)).await;
    ws.handshake().await;
    let on_time = app.create_efectivo(None).await;
    let late_in = app.create_efectivo(None).await;
    let not_yet = app.create_efectivo(None).await;
    let absent = app.create_efectivo(None).await;
    let later = app.create_efectivo(None).await;
    let on_leave = app.create_efectivo(None).await;
    let t_on_time = shift(&app, &sup, &on_time, -5, 60).await["id"]
        .as_i64()
        .unwrap();
    let t_late = shift(&app, &sup, &late_in, -45, 60).await["id"]
        .as_i64()
        .unwrap();
    shift(&app, &sup, &not_yet, -5, 60).await;
    shift(&app, &sup, &absent, -20, 60).await;
    // Not started, and still today where the roster counts days (a start half an hour away
    // would be tomorrow's after 23:30 there).
    shift(&app, &sup, &later, 2, 90).await;

    // Today in ZONA_HORARIA, as the server reads it: the leave is asked for that day.
    let r = app.get("/api/v1/turnos/planilla", Some(&sup.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fecha = r.body["fecha"].as_str().unwrap().to_string();
    let l = app
        .post(
            "/api/v1/licencias",
            Some(&on_leave.token),
            json!({"tipo": "enfermedad", "desde": fecha, "hasta": fecha}),
        )
        .await;
    assert_eq!(l.status, StatusCode::CREATED, "{}", l.text);
    let r = app
        .post(
            &format!("/api/v1/licencias/{}/aprobar", l.body["id"]),
            Some(&sup.token),
            json!({"motivo": "certificado"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The supervisor clocks in for two of them: the socket tells the roster page.
    assert_eq!(clock_in(&app, &sup, t_on_time).await.status, StatusCode::OK);
    let ev = ws
        .wait_for("shift_clock", std::time::Duration::from_secs(2))
        .await
        .expect("clock-in announced");
    assert_eq!(ev["data"]["accion"], "ingreso");
    assert_eq!(ev["data"]["turno_id"], t_on_time);
    assert_eq!(ev["data"]["efectivo_id"], on_time.efectivo_id.unwrap());
    assert_eq!(ev["data"]["ingreso_tarde"], false);
    assert_eq!(clock_in(&app, &sup, t_late).await.status, StatusCode::OK);

    let r = app
        .get(
            &format!("/api/v1/turnos/planilla?fecha={fecha}"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = r.body;
    assert_eq!(p["fecha"], fecha.as_str());
    for (who, want) in [
        (&on_time, "en_turno"),
        (&late_in, "tarde"),
        (&not_yet, "tarde"),
        (&absent, "ausente"),
        (&later, "libre"),
        (&on_leave, "licencia"),
    ] {
        let row = line(&p, who.efectivo_id.unwrap());
        assert_eq!(row["estado_turno"], want, "{row}");
    }
    assert_eq!(
        line(&p, on_leave.efectivo_id.unwrap())["licencia_tipo"],
        "enfermedad"
    );
    assert_eq!(p["unidades"][0]["unidad"], "Móvil 1");

    // Clocked out: off duty for the rest of the day.
    let r = app
        .post(
            &format!("/api/v1/turnos/{t_on_time}/egreso"),
            Some(&on_time.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ev = ws
        .wait_for("shift_clock", std::time::Duration::from_secs(2))
        .await
        .expect("second clock-in");
    assert_eq!(ev["data"]["accion"], "ingreso");
    let ev = ws
        .wait_for("shift_clock", std::time::Duration::from_secs(2))
        .await
        .expect("clock-out announced");
    assert_eq!(ev["data"]["accion"], "egreso");
    let r = app
        .get(
            &format!("/api/v1/turnos/planilla?fecha={fecha}"),
            Some(&sup.token),
        )
        .await;
    assert_eq!(
        line(&r.body, on_time.efectivo_id.unwrap())["estado_turno"],
        "libre"
    );

    // A far day has nobody; officers do not read the roster; a bad date is 422.
    let r = app
        .get("/api/v1/turnos/planilla?fecha=2031-02-03", Some(&sup.token))
        .await;
    assert_eq!(r.body["unidades"], json!([]));
    let r = app
        .get("/api/v1/turnos/planilla", Some(&on_time.token))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .get("/api/v1/turnos/planilla?fecha=2031-02-30", Some(&sup.token))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}
