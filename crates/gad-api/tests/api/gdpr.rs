//! Data-subject rights: export, erasure by anonymisation, the data map and
//! retention, on real PostgreSQL.

use std::collections::HashSet;
use std::time::Duration;

use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

/// A person with recognisable personal data, a location history of `points` rows, a login,
/// a logout (revoked token), a Telegram link code and a WebSocket ticket.
struct Person {
    user: TestUser,
    email: String,
    dni: String,
    telefono: String,
    telegram_id: i64,
    apellido: String,
    link_code: String,
    ticket: String,
}

async fn person(app: &TestApp, tag: &str, points: i64) -> Person {
    let mut user = app.create_efectivo(Some((-34.60, -58.38))).await;
    let n: u32 = rand_suffix();
    let email = format!("{tag}.{n}@persona.gad");
    let dni = format!("DNI{tag}{n}");
    let telefono = format!("+54911{n}");
    let telegram_id = 9_000_000_000 + i64::from(n);
    let apellido = format!("Apellido{tag}{n}");
    sqlx::query(
        "UPDATE usuarios SET email = $2, dni = $3, telefono = $4, telegram_id = $5, apellido = $6 WHERE id = $1",
    )
    .bind(user.id)
    .bind(&email)
    .bind(&dni)
    .bind(&telefono)
    .bind(telegram_id)
    .bind(&apellido)
    .execute(&app.pool)
    .await
    .unwrap();
    user.email = email.clone();
    sqlx::query(
        "INSERT INTO efectivo_ubicaciones (efectivo_id, geom, recorded_at)
         SELECT $1, ST_SetSRID(ST_MakePoint(-58.38 + i * 0.0001, -34.60), 4326)::geography,
                now() - make_interval(mins => i::int)
         FROM generate_series(1, $2) AS i",
    )
    .bind(user.efectivo_id.unwrap())
    .bind(points)
    .execute(&app.pool)
    .await
    .unwrap();
    // A real login (audited), then a logout of that session (a revoked token).
    let r = app.login(&email, &user.password).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let session = r.body["access_token"].as_str().unwrap().to_string();
    let r = app
        .post("/api/v1/auth/logout", Some(&session), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            "/api/v1/users/me/telegram-link",
            Some(&user.token),
            json!({"current_password": user.password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let link_code = r.body["code"].as_str().unwrap().to_string();
    let r = app
        .post("/api/v1/ws/ticket", Some(&user.token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let ticket = r.body["ticket"].as_str().unwrap_or_default().to_string();
    Person {
        user,
        email,
        dni,
        telefono,
        telegram_id,
        apellido,
        link_code,
        ticket,
    }
}

fn rand_suffix() -> u32 {
    10_000_000 + (uuid::Uuid::new_v4().as_u128() % 89_999_999) as u32
}

async fn count(pool: &PgPool, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The secrets a person's export must never contain.
async fn secrets_of(app: &TestApp, p: &Person) -> Vec<String> {
    let hash: String = sqlx::query_scalar("SELECT hashed_password FROM usuarios WHERE id = $1")
        .bind(p.user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut s = vec![
        hash,
        p.link_code.clone(),
        p.user.token.clone(),
        "hashed_password".to_string(),
        "$argon2".to_string(),
    ];
    if !p.ticket.is_empty() {
        s.push(p.ticket.clone());
    }
    s
}

#[tokio::test]
async fn export_contains_the_persons_rows_and_no_one_elses_and_no_secret() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let me = person(&app, "yo", 5).await;
    let other = person(&app, "otro", 3).await;
    let mine = app.create_task(&admin, me.user.id, json!({})).await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text);
    let theirs = app.create_task(&admin, other.user.id, json!({})).await;
    let mine_id = mine.body["id"].as_i64().unwrap();
    let theirs_id = theirs.body["id"].as_i64().unwrap();

    let r = app
        .get("/api/v1/gdpr/me/export", Some(&me.user.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("attachment")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let e = &r.body;
    assert_eq!(e["formato"], "gad-export-v1");
    assert_eq!(e["perfil"]["id"], me.user.id);
    assert_eq!(e["perfil"]["email"], me.email.as_str());
    assert_eq!(e["perfil"]["dni"], me.dni.as_str());
    assert_eq!(e["perfil"]["telegram_id"], me.telegram_id);
    assert_eq!(e["efectivo"]["id"], me.user.efectivo_id.unwrap());
    assert_eq!(e["ubicaciones"].as_array().unwrap().len(), 5);
    let tareas: Vec<i64> = e["tareas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(tareas, [mine_id]);
    assert_eq!(e["tareas"][0]["relacion"], json!(["delegada"]));
    assert!(!tareas.contains(&theirs_id));
    let events: Vec<&str> = e["auditoria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event_type"].as_str().unwrap())
        .collect();
    for ev in ["login_success", "logout", "gdpr_export"] {
        assert!(events.contains(&ev), "{ev} missing in {events:?}");
    }
    assert_eq!(e["tokens_revocados"].as_array().unwrap().len(), 1);
    assert_eq!(
        e["telegram_codigos_vinculacion"].as_array().unwrap().len(),
        1
    );
    assert_eq!(e["tickets_ws"].as_array().unwrap().len(), 1);
    // No one else's data, no secret.
    for foreign in [&other.email, &other.dni, &other.telefono, &other.apellido] {
        assert!(!r.text.contains(foreign.as_str()), "leaks {foreign}");
    }
    assert!(!r.text.contains(&other.telegram_id.to_string()));
    for secret in secrets_of(&app, &me).await {
        assert!(!r.text.contains(&secret), "leaks a secret: {secret}");
    }

    // Level 3 exports anyone; the other person's export holds none of mine.
    let r = app
        .get(
            &format!("/api/v1/gdpr/users/{}/export", other.user.id),
            Some(&admin.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ubicaciones"].as_array().unwrap().len(), 3);
    for foreign in [&me.email, &me.dni, &me.telefono, &me.apellido] {
        assert!(!r.text.contains(foreign.as_str()), "leaks {foreign}");
    }
    for secret in secrets_of(&app, &other).await {
        assert!(!r.text.contains(&secret), "leaks a secret: {secret}");
    }
    // The export is audited, by whom and about whom.
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) FROM audit_logs WHERE event_type = 'gdpr_export' AND user_id = $1",
            admin.id
        )
        .await,
        1
    );

    // Level 1 cannot export someone else; unknown user 404; bad format 422.
    let r = app
        .get(
            &format!("/api/v1/gdpr/users/{}/export", other.user.id),
            Some(&me.user.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get("/api/v1/gdpr/users/999999/export", Some(&admin.token))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["detail"],
        "The user with this id does not exist in the system"
    );
    let r = app
        .get("/api/v1/gdpr/me/export?format=xml", Some(&me.user.token))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["errors"][0]["loc"], json!(["query", "format"]));
    let r = app.get("/api/v1/gdpr/me/export", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// Unzips with Python's zipfile (an independent reader): {name: text}.
fn unzip(bytes: &[u8]) -> serde_json::Map<String, Value> {
    let dir = std::env::temp_dir().join(format!("gad-zip-{}", uuid::Uuid::new_v4()));
    std::fs::write(&dir, bytes).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({n: z.read(n).decode() for n in z.namelist()}))")
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

#[tokio::test]
async fn zip_export_holds_the_json_and_one_csv_per_list() {
    let app = TestApp::spawn().await;
    let me = person(&app, "zip", 4).await;
    let other = person(&app, "zipotro", 2).await;
    let r = app
        .client
        .get(app.url("/api/v1/gdpr/me/export?format=zip"))
        .bearer_auth(&me.user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    let files = unzip(&r.bytes().await.unwrap());
    let doc: Value = serde_json::from_str(files["datos.json"].as_str().unwrap()).unwrap();
    assert_eq!(doc["perfil"]["email"], me.email.as_str());
    assert_eq!(doc["ubicaciones"].as_array().unwrap().len(), 4);
    let csv = files["ubicaciones.csv"].as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 4, "{csv}");
    assert!(lines[0].contains("recorded_at") && lines[0].contains("lat"));
    for f in [
        "tareas.csv",
        "auditoria.csv",
        "tokens_revocados.csv",
        "telegram_codigos_vinculacion.csv",
        "tickets_ws.csv",
        "despachos.csv",
        "historial_estados.csv",
        "claves_idempotencia.csv",
    ] {
        assert!(files.contains_key(f), "{f} missing");
    }
    let all = Value::Object(files).to_string();
    assert!(!all.contains(&other.email) && !all.contains(&other.dni));
    for secret in secrets_of(&app, &me).await {
        assert!(!all.contains(&secret), "leaks a secret: {secret}");
    }
}

#[tokio::test]
async fn erase_anonymises_keeps_tasks_and_audit_revokes_tokens_closes_sockets_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let p = person(&app, "borrar", 6).await;
    let efectivo_id = p.user.efectivo_id.unwrap();
    let task = app.create_task(&admin, p.user.id, json!({})).await;
    let task_id = task.body["id"].as_i64().unwrap();
    let audit_before = count(
        &app.pool,
        "SELECT count(*) FROM audit_logs WHERE user_id = $1",
        p.user.id,
    )
    .await;
    assert!(audit_before >= 2);
    let mut ws = WsClient::connect(&app, Some(&p.user.token)).await;
    let r = app.get("/api/v1/users/me", Some(&p.user.token)).await;
    assert_eq!(r.status, StatusCode::OK);

    // Validation and authorisation first.
    let url = format!("/api/v1/gdpr/users/{}/erase", p.user.id);
    let r = app.post(&url, Some(&admin.token), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["loc"], json!(["body", "motivo"]));
    let r = app
        .post(&url, Some(&admin.token), json!({"motivo": "   "}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let sup = app.create_user(2).await;
    let r = app
        .post(&url, Some(&sup.token), json!({"motivo": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/api/v1/gdpr/users/999999/erase",
            Some(&admin.token),
            json!({"motivo": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = app
        .post(
            &url,
            Some(&admin.token),
            json!({"motivo": "Solicitud del titular, expediente 123"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "anonimizado");
    assert_eq!(r.body["borrados"]["ubicaciones_borradas"], 6);
    assert_eq!(r.body["borrados"]["tokens_revocados"], true);

    // Personal fields replaced.
    let row: (String, String, String, String, Option<String>, Option<i64>, bool) = sqlx::query_as(
        "SELECT email, dni, nombre, apellido, telefono, telegram_id, deleted_at IS NOT NULL FROM usuarios WHERE id = $1",
    )
    .bind(p.user.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(row.0.starts_with("anon-") && row.0.ends_with("@anonimizado.invalid"));
    assert!(row.1.starts_with("anon-"));
    assert_eq!(
        (row.2.as_str(), row.3.as_str()),
        ("Anonimizado", "Anonimizado")
    );
    assert_eq!((row.4, row.5, row.6), (None, None, true));
    // Location history gone; the officer record keeps no position or code.
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) FROM efectivo_ubicaciones WHERE efectivo_id = $1",
            efectivo_id
        )
        .await,
        0
    );
    let (geom_null, codigo): (bool, String) =
        sqlx::query_as("SELECT geom IS NULL, codigo_interno FROM efectivos WHERE id = $1")
            .bind(efectivo_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(geom_null && codigo.starts_with("anon-"));
    // Operational records kept, pointing at the same (pseudonymous) user.
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) FROM tareas WHERE id = $1 AND delegado_usuario_id = (SELECT delegado_usuario_id FROM tareas WHERE id = $1)",
            task_id
        )
        .await,
        1
    );
    let delegado: i64 = sqlx::query_scalar("SELECT delegado_usuario_id FROM tareas WHERE id = $1")
        .bind(task_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(delegado, p.user.id);
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) FROM audit_logs WHERE user_id = $1",
            p.user.id
        )
        .await,
        audit_before
    );
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) FROM audit_logs WHERE event_type = 'gdpr_erase' AND resource_id = $1::text",
            p.user.id
        )
        .await,
        1
    );
    // No personal marker left outside the (append-only, retained) audit trail.
    for marker in [&p.email, &p.dni, &p.telefono, &p.apellido] {
        let tables = tables_containing(&app.pool, marker).await;
        assert!(
            tables.iter().all(|t| t.starts_with("audit_logs.")),
            "{marker} still in {tables:?}"
        );
    }
    // Tokens revoked, socket closed, Telegram link and credentials gone.
    let r = app.get("/api/v1/users/me", Some(&p.user.token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    ws.expect_close(Duration::from_secs(5)).await;
    let r = app.login(&p.email, &p.user.password).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for t in ["telegram_link_codes", "ws_tickets"] {
        let n = count(
            &app.pool,
            &format!("SELECT count(*) FROM {t} WHERE user_id = $1"),
            p.user.id,
        )
        .await;
        assert_eq!(n, 0, "{t}");
    }

    // Idempotent: a second request changes nothing.
    let before: (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT email, updated_at FROM usuarios WHERE id = $1")
            .bind(p.user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let r = app
        .post(&url, Some(&admin.token), json!({"motivo": "otra vez"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "ya_anonimizado");
    let after: (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT email, updated_at FROM usuarios WHERE id = $1")
            .bind(p.user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(before, after);
}

/// "table.column" of every text-like column in which some row contains `marker`.
async fn tables_containing(pool: &PgPool, marker: &str) -> Vec<String> {
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.table_name NOT IN ('spatial_ref_sys', '_sqlx_migrations')
           AND c.udt_name NOT IN ('geography', 'geometry')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for (t, c) in cols {
        let hit: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM \"{t}\" WHERE \"{c}\"::text LIKE '%' || $1 || '%')"
        ))
        .bind(marker)
        .fetch_one(pool)
        .await
        .unwrap();
        if hit {
            found.push(format!("{t}.{c}"));
        }
    }
    found
}

#[tokio::test]
async fn erase_is_refused_while_the_officer_is_on_an_open_emergency() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let officer = app.create_efectivo(Some((-34.6037, -58.3816))).await;
    let reporter = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": -34.6040, "lng": -58.3820}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let task_id = r.body["task_id"].as_i64().unwrap();
    assert_eq!(r.body["assigned_efectivo_id"], officer.efectivo_id.unwrap());
    let url = format!("/api/v1/gdpr/users/{}/erase", officer.id);
    let r = app
        .post(&url, Some(&admin.token), json!({"motivo": "baja"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["tareas"], json!([task_id]));
    assert!(r.body["detail"].as_str().unwrap().contains("emergencia"));
    // Nothing was changed.
    let email: String = sqlx::query_scalar("SELECT email FROM usuarios WHERE id = $1")
        .bind(officer.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(email, officer.email);
    // Once the emergency is closed, the erasure goes through.
    let r = app
        .post(
            &format!("/api/v1/tasks/{task_id}/status"),
            Some(&admin.token),
            json!({"estado": "finalizada", "codigo_cierre": "resuelto"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(&url, Some(&admin.token), json!({"motivo": "baja"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["estado"], "anonimizado");
}

#[tokio::test]
async fn data_map_lists_every_personal_column() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    // The fixture: a person with every kind of personal data the system stores.
    let p = person(&app, "mapa", 3).await;
    let reporter = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": -34.6001, "lng": -58.3801, "telegram_id": p.telegram_id,
                   "descripcion": format!("Llamó {}", p.apellido)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let unknown = format!("desconocido.{}@persona.gad", rand_suffix());
    let r = app.login(&unknown, "wrong-password-1").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = app.get("/api/v1/gdpr/data-map", Some(&admin.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let map = &r.body;
    assert_eq!(map["sin_clasificar"], json!([]), "unclassified columns");
    assert_eq!(map["clasificacion_invalida"], json!([]));
    let listed: HashSet<String> = map["columnas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}.{}",
                c["tabla"].as_str().unwrap(),
                c["columna"].as_str().unwrap()
            )
        })
        .collect();
    for c in map["columnas"].as_array().unwrap() {
        for lang in ["es", "en"] {
            for f in ["categoria", "finalidad", "base_legal", "retencion"] {
                assert!(
                    !c[lang][f].as_str().unwrap_or_default().is_empty(),
                    "{c}: {lang}.{f}"
                );
            }
        }
    }
    let loc = map["columnas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tabla"] == "efectivo_ubicaciones" && c["columna"] == "geom")
        .unwrap();
    assert_eq!(loc["retencion_variable"], "LOCATION_RETENTION_DAYS");
    assert_eq!(loc["retencion_configurada"], "30 días");

    // Walk the schema: every personal-looking column is listed.
    let columns = gad_store::gdpr::schema_columns(&app.pool).await.unwrap();
    assert!(columns.len() > 50);
    for c in &columns {
        let name = format!("{}.{}", c.tabla, c.columna);
        let reviewed = c
            .comentario
            .as_deref()
            .is_some_and(gad_service::gdpr::datamap::reviewed_not_personal);
        if gad_service::gdpr::datamap::looks_personal(&c.columna) && !reviewed {
            assert!(
                listed.contains(&name),
                "personal-looking column {name} is not in the data map"
            );
        }
    }
    // Every column the fixture filled with personal data is listed.
    for marker in [
        p.email.clone(),
        p.dni.clone(),
        p.telefono.clone(),
        p.apellido.clone(),
        p.telegram_id.to_string(),
        unknown.clone(),
    ] {
        for col in tables_containing(&app.pool, &marker).await {
            assert!(
                listed.contains(&col),
                "{col} holds personal data ({marker}) but is not in the data map"
            );
        }
    }
    let r = app
        .get("/api/v1/gdpr/data-map", Some(&reporter.token))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn privacy_md_is_the_generated_data_map() {
    let app = TestApp::spawn().await;
    let columns = gad_store::gdpr::schema_columns(&app.pool).await.unwrap();
    let map = gad_service::gdpr::datamap::build(&columns, None);
    let generated = gad_service::gdpr::datamap::markdown(&map);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/PRIVACY.md");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/PRIVACY.md differs from `gad gdpr data-map --markdown`; regenerate with UPDATE_SNAPSHOTS=1 cargo test -p gad-api --test api privacy_md"
    );
}

#[tokio::test]
async fn retention_purges_exactly_the_expired_rows_in_batches_and_audits_the_run() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("LOCATION_RETENTION_DAYS", "7")
            .env("REVOKED_TOKEN_RETENTION_HOURS", "3")
            .env("TICKET_RETENTION_HOURS", "2")
            .env("TELEGRAM_LINK_CODE_RETENTION_HOURS", "6")
            .env("IDEMPOTENCY_KEY_RETENTION_HOURS", "48")
            .env("LOGIN_FAILURE_RETENTION_DAYS", "5")
            .env("RETENTION_BATCH_SIZE", "3"),
    )
    .await;
    let p = &app.pool;
    let user = app.create_efectivo(None).await;
    let (uid, ef) = (user.id, user.efectivo_id.unwrap());
    let run = |sql: &'static str| async move {
        sqlx::query(sql)
            .bind(uid)
            .bind(ef)
            .execute(p)
            .await
            .unwrap();
    };
    // The position history is retired by whole day partitions, not by this pass:
    // see positions::partitions_are_created_ahead_and_retention_drops_whole_days.
    // Audit: 4 rows past their retention (the chain's prefix; only the owner can back-date
    // one) then 2 within it.
    gad_testkit::audit::insert_expired_rows(&app.db_url, &["viejo"; 4]).await;
    run("INSERT INTO audit_logs (event_type, created_at)
         SELECT 'reciente', now() - make_interval(days => d) FROM unnest(ARRAY[9, 1]) d
         WHERE $1::int8 IS NOT NULL AND $2::int8 IS NOT NULL")
    .await;
    run(
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES
           (gen_random_uuid(), $1, now() - interval '3 hours 1 minute'),
           (gen_random_uuid(), $1, now() - interval '2 hours 59 minutes')
         ON CONFLICT DO NOTHING RETURNING $2::int8",
    )
    .await;
    run("INSERT INTO ws_tickets (ticket, user_id, expires_at) VALUES
           ('t-vencido', $1, now() - interval '2 hours 1 minute'), ('t-reciente', $1, now() - interval '1 hour')
         ON CONFLICT DO NOTHING RETURNING $2::int8").await;
    run("INSERT INTO telegram_link_codes (code, user_id, expires_at, used_at) VALUES
           ('C-VIEJO', $1, now() - interval '7 hours', NULL), ('C-USADO', $1, now() + interval '1 hour', now() - interval '6 hours 1 minute'),
           ('C-NUEVO', $1, now() - interval '5 hours', NULL)
         ON CONFLICT DO NOTHING RETURNING $2::int8").await;
    run("INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES
           ($1, 'k-vieja', 'h', now() - interval '49 hours'), ($1, 'k-nueva', 'h', now() - interval '47 hours')
         ON CONFLICT DO NOTHING RETURNING $2::int8").await;
    run("INSERT INTO login_failures (email, intentos, updated_at, bloqueado_hasta) VALUES
           ('viejo@x.gad', 1, now() - interval '6 days', NULL), ('nuevo@x.gad', 1, now() - interval '4 days', NULL),
           ('bloqueado@x.gad', 5, now() - interval '6 days', now() + interval '10 minutes')
         ON CONFLICT DO NOTHING RETURNING $1::int8 + $2::int8").await;

    let c = gad_service::jobs::run_once(&app.state.ctx).await.unwrap();
    assert_eq!(
        c,
        gad_service::jobs::PurgeCounts {
            idempotency_keys: 1,
            revoked_tokens: 1,
            ws_tickets: 1,
            telegram_link_codes: 2,
            login_failures: 1,
            audit_logs: 4,
            denunciantes: 0,
        }
    );
    let left = |sql: &'static str| async move {
        sqlx::query_scalar::<_, String>(sql)
            .fetch_all(p)
            .await
            .unwrap()
    };
    assert_eq!(
        left("SELECT event_type FROM audit_logs WHERE event_type IN ('viejo', 'reciente') ORDER BY chain_seq").await,
        ["reciente", "reciente"]
    );
    assert_eq!(left("SELECT ticket FROM ws_tickets").await, ["t-reciente"]);
    assert_eq!(
        left("SELECT code FROM telegram_link_codes").await,
        ["C-NUEVO"]
    );
    assert_eq!(left("SELECT key FROM idempotency_keys").await, ["k-nueva"]);
    assert_eq!(
        left("SELECT email FROM login_failures ORDER BY email").await,
        ["bloqueado@x.gad", "nuevo@x.gad"]
    );
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM revoked_tokens WHERE user_id = $1",
            uid
        )
        .await,
        1
    );
    // The run is audited with its counts, and the shortened chain still verifies.
    let row: Value = sqlx::query_scalar(
        "SELECT new_values FROM audit_logs WHERE event_type = 'retention_purge' ORDER BY chain_seq DESC LIMIT 1",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(row["deleted"]["audit_logs"], 4);
    let mut conn = p.acquire().await.unwrap();
    let report = gad_store::audit::verify(&mut conn).await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.first_seq, 5);
    // A second pass deletes nothing more.
    let again = gad_service::jobs::run_once(&app.state.ctx).await.unwrap();
    assert_eq!(again.total(), 0);
}

/// A connection to PostgreSQL's view of the export's work: backends of this database running
/// the export's location-history query (streaming rows, or holding its snapshot).
async fn export_backends(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND (state LIKE 'idle in transaction%'
                OR (state <> 'idle' AND query LIKE '%FROM efectivo_ubicaciones u JOIN efectivos e%'))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_export_slower_than_gdpr_export_max_seconds_is_cut_and_frees_its_slot() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("GDPR_EXPORT_MAX_SECONDS", "2")
            .env("GDPR_EXPORT_CONCURRENCY", "1"),
    )
    .await;
    let slow = app.create_efectivo(None).await;
    // About 25 MB of JSON: more than the export's channel and both sockets' buffers hold, so a
    // reader that stops reading stops the export.
    sqlx::query(
        "INSERT INTO efectivo_ubicaciones (efectivo_id, geom, recorded_at)
         SELECT $1, ST_SetSRID(ST_MakePoint(-58.38 + i * 1e-7, -34.60), 4326)::geography,
                now() - i * interval '1 millisecond'
         FROM generate_series(1, 200000) AS i",
    )
    .bind(slow.efectivo_id.unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let mut resp = app
        .client
        .get(app.url("/api/v1/gdpr/me/export"))
        .bearer_auth(&slow.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The reader takes one chunk and then stalls.
    let mut received = resp.chunk().await.unwrap().unwrap().len();
    let other = app.create_user(1).await;
    let r = app.get("/api/v1/gdpr/me/export", Some(&other.token)).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the only slot is taken"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Past the deadline the slot is free again while the slow reader still holds its socket…
    let r = app.get("/api/v1/gdpr/me/export", Some(&other.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["usuario_id"], other.id);
    // …and so are the database connection and its snapshot.
    let started = std::time::Instant::now();
    while export_backends(&app.pool).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the export still holds a connection or its snapshot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The slow reader gets a cut transfer, never a complete-looking document.
    let cut = loop {
        match resp.chunk().await {
            Ok(Some(c)) => received += c.len(),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(cut, "the body ended cleanly after {received} bytes");
    assert!(received < 20_000_000, "{received} bytes: the export ran on");
}

#[tokio::test]
async fn erase_clears_the_person_from_free_text_idempotency_and_officer_fields_not_others() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let sup = app.create_user(2).await;
    let reporter = app.create_user(1).await;
    let p = person(&app, "libre", 0).await;
    let o = person(&app, "ajeno", 0).await;
    let n = rand_suffix();
    let (p_nombre, o_nombre) = (format!("Pnombre{n}"), format!("Onombre{n}"));
    // P stands nearest to the emergency below, O a kilometre away.
    for (u, nombre, lejos) in [(&p, &p_nombre, 0.0), (&o, &o_nombre, 0.01)] {
        sqlx::query("UPDATE usuarios SET nombre = $2 WHERE id = $1")
            .bind(u.user.id)
            .bind(nombre)
            .execute(&app.pool)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE efectivos SET rango = 'Rango' || $2, unidad = 'Unidad' || $2,
                    especialidad = 'Especialidad' || $2,
                    geom = ST_SetSRID(ST_MakePoint(-58.38 + $3, -34.60), 4326)::geography,
                    ubicacion_updated_at = now()
             WHERE usuario_id = $1",
        )
        .bind(u.user.id)
        .bind(nombre)
        .bind(lejos)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let p_full = format!("{p_nombre} {}", p.apellido);
    let o_full = format!("{o_nombre} {}", o.apellido);

    // An emergency reported about P (P's Telegram id and name in the task), dispatched to P.
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": -34.6001, "lng": -58.3801, "telegram_id": p.telegram_id,
                   "descripcion": format!("Avisa {p_full} ({}); testigo {o_full}", p.email)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let emg = r.body["task_id"].as_i64().unwrap();
    assert_eq!(r.body["assigned_efectivo_id"], p.user.efectivo_id.unwrap());
    // P declines with a reason of their own; O, called next, declines with theirs.
    let (p_motivo, o_motivo) = (format!("MotivoPropio{n}"), format!("MotivoAjeno{n}"));
    let ack = format!("/api/v1/tasks/{emg}/ack");
    let r = app
        .post(
            &ack,
            Some(&p.user.token),
            json!({"accept": false, "motivo": p_motivo}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["next"]["efectivo_id"], o.user.efectivo_id.unwrap());
    let r = app
        .post(
            &ack,
            Some(&o.user.token),
            json!({"accept": false, "motivo": o_motivo}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/tasks/{emg}/status"),
            Some(&admin.token),
            json!({"estado": "finalizada", "codigo_cierre": "resuelto"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A planned task of P: P's own note, and the supervisor's note naming P and O.
    let t = app.create_task(&sup, p.user.id, json!({})).await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let tid = t.body["id"].as_i64().unwrap();
    let status = format!("/api/v1/tasks/{tid}/status");
    let r = app
        .post(
            &status,
            Some(&p.user.token),
            json!({"estado": "en_curso", "nota": format!("Salgo yo, {p_nombre}, tel {}", p.telefono)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &status,
            Some(&sup.token),
            json!({"estado": "pausada", "nota": format!("Hablé con {p_full} y con {o_full}")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // An emergency request key of each (the key and the stored answer are theirs).
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, 'k-p', 'h'), ($2, 'k-o', 'h')",
    )
    .bind(p.user.id)
    .bind(o.user.id)
    .execute(&app.pool)
    .await
    .unwrap();

    let r = app
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", p.user.id),
            Some(&admin.token),
            json!({"motivo": "Solicitud del titular"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["borrados"]["claves_idempotencia_borradas"], 1);

    // The task's text and data: P's values gone, the witness O kept.
    let (desc, extra): (String, Value) =
        sqlx::query_as("SELECT descripcion, extra_data FROM tareas WHERE id = $1")
            .bind(emg)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        !desc.contains(&p_full) && !desc.contains(&p.email),
        "{desc}"
    );
    assert!(
        desc.contains(&o_full) && desc.contains("[borrado]"),
        "{desc}"
    );
    assert!(extra.get("telegram_id").is_none(), "{extra}");
    assert_eq!(extra["emergency"], true, "the rest of extra_data is kept");
    // P's reason is cleared, O's kept.
    let motivos: Vec<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT respondido_por, motivo FROM despachos WHERE tarea_id = $1 AND respondido_por IS NOT NULL ORDER BY id",
    )
    .bind(emg)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        motivos,
        [
            (Some(p.user.id), Some("[borrado]".to_string())),
            (Some(o.user.id), Some(o_motivo.clone()))
        ]
    );
    let notas: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(nota, ' | ' ORDER BY id), '') FROM historial_estados WHERE tarea_id IN ($1, $2)",
    )
    .bind(emg)
    .bind(tid)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for gone in [&p_motivo, &p_nombre, &p.apellido, &p.telefono] {
        assert!(!notas.contains(gone.as_str()), "{gone} in {notas}");
    }
    assert!(
        notas.contains(&o_motivo) && notas.contains(&o_full),
        "{notas}"
    );
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT key FROM idempotency_keys WHERE user_id IN ($1, $2) ORDER BY key",
    )
    .bind(p.user.id)
    .bind(o.user.id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(keys, ["k-o"]);
    let officer_text = |id: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<String>, Option<String>, Option<String>)>(
                "SELECT rango, unidad, especialidad FROM efectivos WHERE usuario_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(officer_text(p.user.id).await, (None, None, None));
    assert_eq!(
        officer_text(o.user.id).await.0,
        Some(format!("Rango{o_nombre}"))
    );
    // Nothing of P is left anywhere outside the audit trail.
    for marker in [
        p_nombre.clone(),
        p.apellido.clone(),
        p.email.clone(),
        p.dni.clone(),
        p.telefono.clone(),
        p.telegram_id.to_string(),
        p_motivo.clone(),
    ] {
        let tables = tables_containing(&app.pool, &marker).await;
        assert!(
            tables.iter().all(|t| t.starts_with("audit_logs.")),
            "{marker} still in {tables:?}"
        );
    }
}

/// The audit entries of one kind about one resource, as level 3 reads them.
async fn audit_of(app: &TestApp, admin: &TestUser, event: &str, resource_id: i64) -> Value {
    let r = app
        .get(
            &format!("/api/v1/admin/audit?event_type={event}&resource_id={resource_id}"),
            Some(&admin.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.text);
    r.body[0].clone()
}

#[tokio::test]
async fn personal_values_in_audit_rows_are_readable_to_level_3_until_erasure_shreds_their_key() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let p = person(&app, "cifra", 0).await;
    let q = person(&app, "cifraotro", 0).await;
    let ef = p.user.efectivo_id.unwrap();
    let n = rand_suffix();
    let (nuevo_nombre, nuevo_tel) = (format!("Cifrado{n}"), format!("+5411{n}"));
    // Level 3 renames P and changes P's phone (the old and the new profile are audited), and
    // changes P's rank (the officer record, with P's name, is audited); Q's profile too.
    let r = app
        .put(
            &format!("/api/v1/users/{}", p.user.id),
            Some(&admin.token),
            json!({"nombre": nuevo_nombre, "telefono": nuevo_tel}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .put(
            &format!("/api/v1/efectivos/{ef}"),
            Some(&admin.token),
            json!({"rango": "Cabo"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .put(
            &format!("/api/v1/users/{}", q.user.id),
            Some(&admin.token),
            json!({"nombre": "Otro"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // What the audit trail stores is ciphertext: none of P's values is in it.
    for marker in [
        p.email.clone(),
        p.dni.clone(),
        p.telefono.clone(),
        p.apellido.clone(),
        p.telegram_id.to_string(),
        nuevo_nombre.clone(),
        nuevo_tel.clone(),
    ] {
        let tables = tables_containing(&app.pool, &marker).await;
        assert!(
            tables.iter().all(|t| !t.starts_with("audit_logs.")),
            "{marker} stored in clear in {tables:?}"
        );
    }
    // Level 3 reads them in clear while P exists.
    let row = audit_of(&app, &admin, "user_updated", p.user.id).await;
    let (old, new) = (&row["old_values"], &row["new_values"]);
    assert_eq!(old["email"], p.email.as_str());
    assert_eq!(old["dni"], p.dni.as_str());
    assert_eq!(old["telefono"], p.telefono.as_str());
    assert_eq!(old["telegram_id"], p.telegram_id);
    assert_eq!(old["apellido"], p.apellido.as_str());
    assert_eq!(new["nombre"], nuevo_nombre.as_str());
    assert_eq!(new["telefono"], nuevo_tel.as_str());
    assert_eq!(new["nivel"], 1, "what is not personal stays as it was");
    let row = audit_of(&app, &admin, "efectivo_updated", ef).await;
    assert_eq!(row["new_values"]["nombre"], nuevo_nombre.as_str());
    assert_eq!(row["new_values"]["apellido"], p.apellido.as_str());
    assert_eq!(row["new_values"]["rango"], "Cabo");
    // …and so does P in their own export.
    let r = app.get("/api/v1/gdpr/me/export", Some(&p.user.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mine = r.body["auditoria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["event_type"] == "user_updated")
        .cloned()
        .unwrap();
    assert_eq!(mine["old_values"]["email"], p.email.as_str());

    // Erasure destroys P's key: the same rows now read "[borrado]", Q's still read in clear,
    // and the chain still verifies (its hashes cover the ciphertext, which did not change).
    let r = app
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", p.user.id),
            Some(&admin.token),
            json!({"motivo": "Solicitud del titular"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let row = audit_of(&app, &admin, "user_updated", p.user.id).await;
    for f in [
        "email",
        "dni",
        "telefono",
        "telegram_id",
        "nombre",
        "apellido",
    ] {
        assert_eq!(row["old_values"][f], "[borrado]", "{f}: {row}");
    }
    assert_eq!(row["new_values"]["nombre"], "[borrado]");
    assert_eq!(row["new_values"]["nivel"], 1);
    let row = audit_of(&app, &admin, "efectivo_updated", ef).await;
    assert_eq!(row["new_values"]["nombre"], "[borrado]");
    assert_eq!(row["new_values"]["rango"], "Cabo");
    let row = audit_of(&app, &admin, "user_updated", q.user.id).await;
    assert_eq!(row["old_values"]["email"], q.email.as_str());
    assert_eq!(row["new_values"]["nombre"], "Otro");
    let mut conn = app.pool.acquire().await.unwrap();
    let report = gad_store::audit::verify(&mut conn).await.unwrap();
    assert_eq!(report.problem, None, "{report:?}");
    // No value of P is left anywhere in the database, the audit trail included.
    for marker in [&p.email, &p.dni, &p.telefono, &nuevo_nombre, &nuevo_tel] {
        let tables = tables_containing(&app.pool, marker).await;
        assert!(tables.is_empty(), "{marker} still in {tables:?}");
    }
}
