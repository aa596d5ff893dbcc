//! The response-time report: a known history (emergencies raised through the API, their
//! dispatch events inserted with controlled times) gives exactly the expected rows and
//! aggregates as JSON; the CSV agrees row by row, and its footer's hash matches its data and
//! the audit trail.

use chrono::{DateTime, TimeZone, Utc};
use gad_testkit::{TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SITE: (f64, f64) = (-34.6037, -58.3816);

/// 2030-01-07 is a Monday; Buenos Aires is UTC-3 all year.
fn at(day: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, day, h, m, s).unwrap()
}

fn plus(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    t + chrono::Duration::seconds(secs)
}

async fn raise(app: &TestApp, by: &TestUser, tipo: &str, prioridad: i64) -> i64 {
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&by.token),
            json!({"lat": SITE.0, "lng": SITE.1, "descripcion": "prueba",
                   "tipo_incidente": tipo, "prioridad": prioridad}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let task = r.body["task_id"]
        .as_i64()
        .or(r.body["id"].as_i64())
        .or(r.body["task"]["id"].as_i64())
        .unwrap_or_else(|| panic!("no task id in {}", r.text));
    // The API's own dispatch is undone: every dispatch event of the history is the test's.
    sqlx::query(
        "WITH d AS (DELETE FROM despachos WHERE tarea_id = $1 RETURNING 1),
              l AS (DELETE FROM tarea_efectivos WHERE tarea_id = $1 RETURNING 1)
         UPDATE efectivos SET estado_disponibilidad = 'DISPONIBLE'",
    )
    .bind(task)
    .execute(&app.pool)
    .await
    .unwrap();
    task
}

async fn received(app: &TestApp, task: i64, t: DateTime<Utc>) {
    sqlx::query("UPDATE tareas SET created_at = $2 WHERE id = $1")
        .bind(task)
        .bind(t)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    app: &TestApp,
    task: i64,
    officer: &TestUser,
    estado: &str,
    refuerzo: bool,
    asignado: DateTime<Utc>,
    respondido: Option<DateTime<Utc>>,
    llegada: Option<DateTime<Utc>>,
) {
    sqlx::query(
        "INSERT INTO despachos (tarea_id, efectivo_id, intento, refuerzo, estado, asignado_at, vence_at,
                                respondido_at, llegada_at)
         VALUES ($1, $2, 1, $3, $4, $5, $5 + interval '60 seconds', $6, $7)",
    )
    .bind(task)
    .bind(officer.efectivo_id.unwrap())
    .bind(refuerzo)
    .bind(estado)
    .bind(asignado)
    .bind(respondido)
    .bind(llegada)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn codigo(app: &TestApp, u: &TestUser) -> String {
    sqlx::query_scalar("SELECT codigo_interno FROM efectivos WHERE id = $1")
        .bind(u.efectivo_id.unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

struct History {
    sup: TestUser,
    tasks: Vec<i64>,
    a: String,
    b: String,
}

/// E1 (prio 5, Monday 10:00 local): B dispatched +10 and declined, A dispatched +25, accepted
/// +40, arrived +400, closed +1800. E2 (prio 5, Monday 10:30): A +20, accepted +80, arrived
/// +600, open. E3 (prio 2, Monday 23:30 local = Tuesday 02:30 UTC): B +5, silent. E4 (prio 5,
/// Tuesday 08:00): A +15, accepted +30, arrived +300; backup B +100, accepted +120, arrived
/// +350. E5: the Sunday before, outside the range.
async fn history(app: &TestApp) -> History {
    let sup = app.create_user(2).await;
    let a = app.create_efectivo(Some((SITE.0 + 0.001, SITE.1))).await;
    let b = app.create_efectivo(Some((SITE.0 + 0.002, SITE.1))).await;
    let _c = app.create_efectivo(Some((SITE.0 + 0.003, SITE.1))).await;
    let mut tasks = Vec::new();
    for (tipo, p) in [
        ("robo_a_mano_armada", 5),
        ("robo_a_mano_armada", 5),
        ("hurto", 2),
        ("robo_a_mano_armada", 5),
        ("hurto", 2),
    ] {
        tasks.push(raise(app, &sup, tipo, p).await);
    }
    let e1 = at(7, 13, 0, 0);
    received(app, tasks[0], e1).await;
    dispatch(
        app,
        tasks[0],
        &b,
        "RECHAZADO",
        false,
        plus(e1, 10),
        Some(plus(e1, 20)),
        None,
    )
    .await;
    dispatch(
        app,
        tasks[0],
        &a,
        "ACEPTADO",
        false,
        plus(e1, 25),
        Some(plus(e1, 40)),
        Some(plus(e1, 400)),
    )
    .await;
    sqlx::query("UPDATE tareas SET cerrada_at = $2, codigo_cierre = 'resuelto' WHERE id = $1")
        .bind(tasks[0])
        .bind(plus(e1, 1800))
        .execute(&app.pool)
        .await
        .unwrap();
    let e2 = at(7, 13, 30, 0);
    received(app, tasks[1], e2).await;
    dispatch(
        app,
        tasks[1],
        &a,
        "ACEPTADO",
        false,
        plus(e2, 20),
        Some(plus(e2, 80)),
        Some(plus(e2, 600)),
    )
    .await;
    let e3 = at(8, 2, 30, 0);
    received(app, tasks[2], e3).await;
    dispatch(
        app,
        tasks[2],
        &b,
        "VENCIDO",
        false,
        plus(e3, 5),
        Some(plus(e3, 65)),
        None,
    )
    .await;
    let e4 = at(8, 11, 0, 0);
    received(app, tasks[3], e4).await;
    dispatch(
        app,
        tasks[3],
        &a,
        "ACEPTADO",
        false,
        plus(e4, 15),
        Some(plus(e4, 30)),
        Some(plus(e4, 300)),
    )
    .await;
    dispatch(
        app,
        tasks[3],
        &b,
        "ACEPTADO",
        true,
        plus(e4, 100),
        Some(plus(e4, 120)),
        Some(plus(e4, 350)),
    )
    .await;
    received(app, tasks[4], at(6, 15, 0, 0)).await;
    let (a, b) = (codigo(app, &a).await, codigo(app, &b).await);
    History { sup, tasks, a, b }
}

const RANGE: &str = "desde=2030-01-07&hasta=2030-01-08";

fn close(v: &Value, want: Option<f64>, what: &str) {
    match want {
        None => assert!(v.is_null(), "{what}: want null, got {v}"),
        Some(w) => {
            let got = v
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: want {w}, got {v}"));
            assert!((got - w).abs() < 1e-6, "{what}: want {w}, got {got}");
        }
    }
}

/// (clave, cantidad, con_aceptacion, con_llegada, [med_acept, p90_acept, med_lleg, p90_lleg])
type G = (Option<&'static str>, i64, i64, i64, [Option<f64>; 4]);

fn check_groups(got: &Value, want: &[G], what: &str) {
    let got = got.as_array().unwrap_or_else(|| panic!("{what}: {got}"));
    assert_eq!(got.len(), want.len(), "{what}: {got:?}");
    for (g, w) in got.iter().zip(want) {
        check_group(g, w, what);
    }
}

fn check_group(g: &Value, w: &G, what: &str) {
    assert_eq!(g["clave"].as_str(), w.0, "{what}: {g}");
    assert_eq!(g["cantidad"], json!(w.1), "{what}: {g}");
    assert_eq!(g["con_aceptacion"], json!(w.2), "{what}: {g}");
    assert_eq!(g["con_llegada"], json!(w.3), "{what}: {g}");
    for (k, v) in [
        "mediana_aceptacion_seg",
        "p90_aceptacion_seg",
        "mediana_llegada_seg",
        "p90_llegada_seg",
    ]
    .iter()
    .zip(w.4)
    {
        close(&g[*k], v, &format!("{what} {:?} {k}", w.0));
    }
}

#[tokio::test]
async fn response_report_json_has_every_expected_figure() {
    let app = TestApp::spawn().await;
    let h = history(&app).await;
    let r = app
        .get(
            &format!("/api/v1/reportes/respuesta?{RANGE}"),
            Some(&h.sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = &r.body;
    assert_eq!(body["desde"], json!("2030-01-07T03:00:00.000Z"));
    assert_eq!(body["hasta"], json!("2030-01-09T03:00:00.000Z"));
    let filas = body["filas"].as_array().unwrap();
    let ids: Vec<i64> = filas
        .iter()
        .map(|f| f["task_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, h.tasks[..4].to_vec(), "oldest first, E5 outside");
    let ts = |t: DateTime<Utc>| json!(gad_core::time::rfc3339(t));
    let (e1, e2, e3, e4) = (
        at(7, 13, 0, 0),
        at(7, 13, 30, 0),
        at(8, 2, 30, 0),
        at(8, 11, 0, 0),
    );
    // (recibida, despachada, aceptada, llegada, cerrada, 7 durations, efectivos, tipo, prio, cierre)
    let want = [
        (
            e1,
            Some(10),
            Some(40),
            Some(400),
            Some(1800),
            [
                Some(10.0),
                Some(30.0),
                Some(360.0),
                Some(1400.0),
                Some(40.0),
                Some(400.0),
                Some(1800.0),
            ],
            vec![h.a.clone()],
            "robo_a_mano_armada",
            5,
            Some("resuelto"),
        ),
        (
            e2,
            Some(20),
            Some(80),
            Some(600),
            None,
            [
                Some(20.0),
                Some(60.0),
                Some(520.0),
                None,
                Some(80.0),
                Some(600.0),
                None,
            ],
            vec![h.a.clone()],
            "robo_a_mano_armada",
            5,
            None,
        ),
        (
            e3,
            Some(5),
            None,
            None,
            None,
            [Some(5.0), None, None, None, None, None, None],
            vec![],
            "hurto",
            2,
            None,
        ),
        (
            e4,
            Some(15),
            Some(30),
            Some(300),
            None,
            [
                Some(15.0),
                Some(15.0),
                Some(270.0),
                None,
                Some(30.0),
                Some(300.0),
                None,
            ],
            vec![h.a.clone(), h.b.clone()],
            "robo_a_mano_armada",
            5,
            None,
        ),
    ];
    let durs = [
        "seg_recibida_despachada",
        "seg_despachada_aceptada",
        "seg_aceptada_llegada",
        "seg_llegada_cerrada",
        "seg_recibida_aceptada",
        "seg_recibida_llegada",
        "seg_recibida_cerrada",
    ];
    for (f, w) in filas.iter().zip(&want) {
        let opt = |s: Option<i64>| s.map(|s| ts(plus(w.0, s))).unwrap_or(Value::Null);
        assert_eq!(f["recibida"], ts(w.0), "{f}");
        assert_eq!(f["despachada"], opt(w.1), "{f}");
        assert_eq!(f["aceptada"], opt(w.2), "{f}");
        assert_eq!(f["llegada"], opt(w.3), "{f}");
        assert_eq!(f["cerrada"], opt(w.4), "{f}");
        for (k, v) in durs.iter().zip(w.5) {
            close(&f[*k], v, k);
        }
        assert_eq!(f["efectivos"], json!(w.6), "{f}");
        assert_eq!(f["tipo_incidente"], json!(w.7), "{f}");
        assert_eq!(f["prioridad"], json!(w.8), "{f}");
        assert_eq!(f["codigo_cierre"], json!(w.9), "{f}");
        assert!(f["zona_id"].is_null(), "{f}");
        assert!(f["nro_incidente"].is_string(), "{f}");
    }

    let res = &body["resumen"];
    assert_eq!(res["zona_horaria"], json!("America/Argentina/Buenos_Aires"));
    // Accepted after 30, 40, 80 s; arrived after 300, 400, 600 s.
    let all = [Some(40.0), Some(72.0), Some(400.0), Some(560.0)];
    check_group(&res["total"], &(None, 4, 3, 3, all), "total");
    check_groups(
        &res["por_prioridad"],
        &[(Some("2"), 1, 0, 0, [None; 4]), (Some("5"), 3, 3, 3, all)],
        "prioridad",
    );
    check_groups(
        &res["por_tipo"],
        &[
            (Some("hurto"), 1, 0, 0, [None; 4]),
            (Some("robo_a_mano_armada"), 3, 3, 3, all),
        ],
        "tipo",
    );
    check_groups(&res["por_zona"], &[(None, 4, 3, 3, all)], "zona");
    // Local hours: E4 at 8, E1 and E2 at 10, E3 at 23 (02:30 UTC the next day).
    let e4_only = [Some(30.0), Some(30.0), Some(300.0), Some(300.0)];
    let e1_e2 = [Some(60.0), Some(76.0), Some(500.0), Some(580.0)];
    check_groups(
        &res["por_hora"],
        &[
            (Some("8"), 1, 1, 1, e4_only),
            (Some("10"), 2, 2, 2, e1_e2),
            (Some("23"), 1, 0, 0, [None; 4]),
        ],
        "hora",
    );
    // Monday (local): E1, E2, E3; Tuesday: E4.
    check_groups(
        &res["por_dia_semana"],
        &[(Some("1"), 3, 2, 2, e1_e2), (Some("2"), 1, 1, 1, e4_only)],
        "dia",
    );
    // Priority 5's target is 8 min: E1 (400 s) and E4 (300 s) within, E2 (600 s) not.
    let sla = res["sla"].as_array().unwrap();
    assert_eq!(sla.len(), 2, "{sla:?}");
    assert_eq!(sla[0]["prioridad"], json!(2));
    assert_eq!(sla[0]["objetivo_minutos"], json!(20));
    assert_eq!(
        (sla[0]["cantidad"].clone(), sla[0]["dentro"].clone()),
        (json!(1), json!(0))
    );
    close(&sla[0]["proporcion"], Some(0.0), "sla 2");
    assert_eq!(sla[1]["prioridad"], json!(5));
    assert_eq!(sla[1]["objetivo_minutos"], json!(8));
    assert_eq!(
        (sla[1]["cantidad"].clone(), sla[1]["dentro"].clone()),
        (json!(3), json!(2))
    );
    close(&sla[1]["proporcion"], Some(2.0 / 3.0), "sla 5");

    // Filters.
    let r = app
        .get(
            &format!("/api/v1/reportes/respuesta?{RANGE}&prioridad=2"),
            Some(&h.sup.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<i64> = r.body["filas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["task_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![h.tasks[2]]);
    let r = app
        .get(
            &format!("/api/v1/reportes/respuesta?{RANGE}&tipo_incidente=robo_a_mano_armada"),
            Some(&h.sup.token),
        )
        .await;
    assert_eq!(
        r.body["resumen"]["total"]["cantidad"],
        json!(3),
        "{}",
        r.text
    );
    // RFC 3339 bounds: hasta excluded.
    let r = app
        .get(
            "/api/v1/reportes/respuesta?desde=2030-01-07T13:00:00Z&hasta=2030-01-07T13:30:00Z",
            Some(&h.sup.token),
        )
        .await;
    let ids: Vec<i64> = r.body["filas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["task_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![h.tasks[0]], "{}", r.text);
}

#[tokio::test]
async fn response_report_refuses_bad_input_and_officers() {
    let app = TestApp::spawn().await;
    let sup = app.create_user(2).await;
    let officer = app.create_user(1).await;
    let r = app
        .get(
            &format!("/api/v1/reportes/respuesta?{RANGE}"),
            Some(&officer.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    for q in [
        "desde=2030-01-07",
        "desde=07/01/2030&hasta=2030-01-08",
        "desde=2030-01-08&hasta=2030-01-07T00:00:00Z",
        "desde=2030-01-01&hasta=2031-01-05",
        "desde=2030-01-07&hasta=2030-01-08&prioridad=7",
        "desde=2030-01-07&hasta=2030-01-08&tipo_incidente=Robo%20X",
        "desde=2030-01-07&hasta=2030-01-08&formato=xls",
    ] {
        let r = app
            .get(&format!("/api/v1/reportes/respuesta?{q}"), Some(&sup.token))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.text
        );
    }
}

/// The raw bytes (reqwest's text() would drop the BOM).
async fn raw_get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Vec<u8>, Option<String>) {
    let r = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, r.bytes().await.unwrap().to_vec(), ct)
}

fn local(v: &Value) -> String {
    match v.as_str() {
        None => String::new(),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono_tz::America::Argentina::Buenos_Aires)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

#[tokio::test]
async fn response_report_csv_agrees_with_json_and_carries_a_verifiable_footer() {
    let app = TestApp::spawn().await;
    let h = history(&app).await;
    let json_rows = app
        .get(
            &format!("/api/v1/reportes/respuesta?{RANGE}"),
            Some(&h.sup.token),
        )
        .await
        .body["filas"]
        .as_array()
        .unwrap()
        .clone();
    let (status, bytes, ct) = raw_get(
        &app,
        &format!("/api/v1/reportes/respuesta?{RANGE}&formato=csv"),
        &h.sup.token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("text/csv; charset=utf-8"));
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("Tarea;Nro. incidente;Recibida;Despachada;Aceptada;Llegada;Cerrada;"),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(";Código de cierre"), "{}", lines[0]);
    let data: Vec<&str> = lines[1..]
        .iter()
        .take_while(|l| !l.starts_with('#'))
        .copied()
        .collect();
    let footer: Vec<&str> = lines[1 + data.len()..].to_vec();
    assert_eq!(data.len(), json_rows.len(), "{text}");
    assert_eq!(data.len(), 4);
    for (line, j) in data.iter().zip(&json_rows) {
        let c: Vec<&str> = line.split(';').collect();
        assert_eq!(c.len(), 19, "{line}");
        assert_eq!(c[0], j["task_id"].as_i64().unwrap().to_string());
        assert_eq!(c[1], j["nro_incidente"].as_str().unwrap());
        for (i, k) in ["recibida", "despachada", "aceptada", "llegada", "cerrada"]
            .iter()
            .enumerate()
        {
            assert_eq!(c[2 + i], local(&j[*k]), "{k} in {line}");
        }
        for (i, k) in [
            "seg_recibida_despachada",
            "seg_despachada_aceptada",
            "seg_aceptada_llegada",
            "seg_llegada_cerrada",
            "seg_recibida_aceptada",
            "seg_recibida_llegada",
            "seg_recibida_cerrada",
        ]
        .iter()
        .enumerate()
        {
            let cell = c[7 + i];
            let got = (!cell.is_empty()).then(|| cell.parse::<f64>().unwrap());
            assert_eq!(got, num(&j[*k]), "{k} in {line}");
        }
        let ef: Vec<String> = j["efectivos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(c[14], ef.join(", "));
        assert_eq!(c[15], j["tipo_incidente"].as_str().unwrap_or(""));
        assert_eq!(c[16], j["prioridad"].to_string());
        assert_eq!(c[17], "");
        assert_eq!(c[18], j["codigo_cierre"].as_str().unwrap_or(""));
    }
    // E1 is Monday 10:00 in Buenos Aires.
    assert!(
        data[0].contains(";2030-01-07 10:00:00;2030-01-07 10:00:10;"),
        "{}",
        data[0]
    );

    // The footer: the hash of the header and data lines (with their newlines) as sent.
    let field = |name: &str| {
        footer
            .iter()
            .find_map(|l| l.strip_prefix(&format!("# {name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {footer:?}"))
    };
    let end_of_data = text.find("\n#").unwrap() + 1;
    let digest = hex::encode(Sha256::digest(&text.as_bytes()[..end_of_data]));
    assert_eq!(field("sha256"), digest);
    assert_eq!(field("filas"), "4");
    assert_eq!(field("zona_horaria"), "America/Argentina/Buenos_Aires");
    let filtros: Value = serde_json::from_str(field("filtros")).unwrap();
    assert_eq!(filtros["desde"], json!("2030-01-07T03:00:00.000Z"));
    assert!(field("generado").contains('('));
    let cadena = field("cadena_auditoria");
    let seq: i64 = cadena
        .split_whitespace()
        .find_map(|p| p.strip_prefix("secuencia="))
        .unwrap()
        .parse()
        .unwrap();
    let hash = cadena
        .split_whitespace()
        .find_map(|p| p.strip_prefix("hash="))
        .unwrap();
    assert_eq!(hash.len(), 64);
    if seq > 0 {
        let stored: String =
            sqlx::query_scalar("SELECT row_hash FROM audit_logs WHERE chain_seq = $1")
                .bind(seq)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(stored, hash);
    }
    // Audited with that hash.
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE event_type = 'report_generated' AND user_id = $1
           AND new_values->>'sha256' = $2 AND new_values->>'formato' = 'csv'
           AND (new_values->'cadena'->>'secuencia')::int8 = $3",
    )
    .bind(h.sup.id)
    .bind(&digest)
    .bind(seq)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
    // The service's verifier agrees; a changed digit does not.
    let f = gad_service::reportes::verify_text(&String::from_utf8(bytes.clone()).unwrap()).unwrap();
    assert_eq!(f.recomputed, f.sha256);
    let edited = String::from_utf8(bytes)
        .unwrap()
        .replacen(";400;", ";401;", 1);
    let f = gad_service::reportes::verify_text(&edited).unwrap();
    assert_ne!(f.recomputed, f.sha256);
}
