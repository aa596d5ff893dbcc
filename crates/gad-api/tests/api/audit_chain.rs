//! The audit trail you can trust: one row per security-relevant action, a hash
//! chain that names the first altered or missing row, and a server role that cannot rewrite it.

use gad_store::audit::{ChainProblem, verify};
use gad_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

/// A connection as the database owner (the test server's login user), not the server's role:
/// what a DBA editing rows by hand would use.
async fn owner(app: &TestApp) -> PgConnection {
    PgConnection::connect(&app.db_url).await.unwrap()
}

/// Seals what has committed (as `gad audit verify` does), then walks the chain.
async fn check(app: &TestApp) -> gad_store::audit::VerifyReport {
    gad_testkit::audit::seal(&app.db_url).await;
    let mut c = owner(app).await;
    verify(&mut c).await.unwrap()
}

async fn events(app: &TestApp) -> Vec<String> {
    gad_testkit::audit::seal(&app.db_url).await;
    sqlx::query_scalar("SELECT event_type FROM audit_logs ORDER BY chain_seq")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_security_relevant_action_writes_one_chained_row() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    let target = app.create_user(1).await;
    let officer = app.create_efectivo(Some((-34.6037, -58.3816))).await;
    let t = Some(admin.token.as_str());

    // Login success, failures, lockout, logout (token revocation).
    let r = app.login(&target.email, &target.password).await;
    assert_eq!(r.status, StatusCode::OK);
    let session = r.body["access_token"].as_str().unwrap().to_string();
    app.post("/api/v1/auth/logout", Some(&session), json!({}))
        .await;
    for _ in 0..6 {
        app.login(&target.email, "wrong-password-9").await;
    }
    // Level change, efectivo change, dispatch, admin command, cache clear, export, erasure.
    let r = app
        .put(
            &format!("/api/v1/users/{}", target.id),
            t,
            json!({"nivel": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .put(
            &format!("/api/v1/efectivos/{}", officer.efectivo_id.unwrap()),
            t,
            json!({"rango": "Cabo"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let reporter = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": -34.6040, "lng": -58.3820}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            "/api/v1/admin/agent/command",
            t,
            json!({"action": "cache_clear"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = app.post("/api/v1/cache/clear", t, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .get(&format!("/api/v1/gdpr/users/{}/export", target.id), t)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", target.id),
            t,
            json!({"motivo": "prueba"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let ev = events(&app).await;
    for (e, n) in [
        ("login_success", 1),
        ("logout", 1),
        ("login_failed", 4),
        ("account_locked", 1),
        ("login_locked", 1),
        ("user_updated", 1),
        ("efectivo_updated", 1),
        ("emergency_dispatched", 1),
        ("admin_command", 1),
        ("cache_cleared", 1),
        ("gdpr_export", 1),
        ("gdpr_erase", 1),
    ] {
        assert_eq!(ev.iter().filter(|x| *x == e).count(), n, "{e} in {ev:?}");
    }
    let level: serde_json::Value = sqlx::query_scalar(
        "SELECT new_values FROM audit_logs WHERE event_type = 'user_updated' AND resource_id = $1::text",
    )
    .bind(target.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(level["nivel"], 2);
    let report = check(&app).await;
    assert_eq!(report.problem, None);
    assert_eq!(report.rows as usize, ev.len());
    assert_eq!(report.head_seq as usize, ev.len());
}

#[tokio::test]
async fn verify_passes_on_a_clean_chain_and_names_the_row_after_a_manual_update() {
    let app = TestApp::spawn().await;
    let admin = app.create_user(3).await;
    for _ in 0..5 {
        let r = app.login(&admin.email, &admin.password).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let report = check(&app).await;
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(report.rows, 5);
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM audit_logs ORDER BY chain_seq")
        .fetch_all(&app.pool)
        .await
        .unwrap();

    // A DBA bypasses the append-only trigger and edits row 3's content.
    let mut c = owner(&app).await;
    c.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    sqlx::query("UPDATE audit_logs SET ip_address = '10.9.9.9' WHERE id = $1")
        .bind(ids[2])
        .execute(&mut c)
        .await
        .unwrap();
    let report = check(&app).await;
    assert_eq!(
        report.problem,
        Some(ChainProblem::Altered {
            id: ids[2],
            chain_seq: 3
        })
    );
    assert!(
        report
            .problem
            .unwrap()
            .to_string()
            .contains(&format!("id={}", ids[2]))
    );

    // Recomputing the altered row's own hash does not hide it: the next row names it.
    sqlx::query("UPDATE audit_logs a SET row_hash = audit_row_hash(a.prev_hash, a) WHERE id = $1")
        .bind(ids[2])
        .execute(&mut c)
        .await
        .unwrap();
    let report = check(&app).await;
    assert_eq!(
        report.problem,
        Some(ChainProblem::BrokenLink {
            id: ids[3],
            chain_seq: 4,
            prev_id: Some(ids[2])
        })
    );

    // A deleted row is named as missing.
    let app2 = TestApp::spawn().await;
    let u = app2.create_user(1).await;
    for _ in 0..4 {
        app2.login(&u.email, &u.password).await;
    }
    gad_testkit::audit::seal(&app2.db_url).await;
    let ids2: Vec<i64> = sqlx::query_scalar("SELECT id FROM audit_logs ORDER BY chain_seq")
        .fetch_all(&app2.pool)
        .await
        .unwrap();
    let mut c2 = owner(&app2).await;
    c2.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_logs WHERE id = $1")
        .bind(ids2[1])
        .execute(&mut c2)
        .await
        .unwrap();
    let report = check(&app2).await;
    assert_eq!(
        report.problem,
        Some(ChainProblem::Missing {
            from: 2,
            to: 2,
            next_id: Some(ids2[2])
        })
    );
    let _ = c2.close().await;
}

#[tokio::test]
async fn the_servers_database_role_cannot_update_or_delete_audit_rows() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    app.login(&u.email, &u.password).await;
    // The server's pool runs as gad_app, not as the superuser it logged in as.
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(role, "gad_app");
    for sql in [
        "DELETE FROM audit_logs",
        "UPDATE audit_logs SET event_type = 'x'",
        "TRUNCATE audit_logs",
        "UPDATE audit_chain_head SET last_seq = 0",
        "DELETE FROM audit_chain_anchor",
    ] {
        let e = sqlx::query(sql).execute(&app.state.db).await.unwrap_err();
        let code = e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.to_string());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {e}");
        // Refused by the privileges themselves, not only by the append-only trigger.
        assert!(e.to_string().contains("permission denied"), "{sql}: {e}");
    }
    for privilege in ["UPDATE", "DELETE", "TRUNCATE"] {
        let has: bool =
            sqlx::query_scalar("SELECT has_table_privilege('gad_app', 'audit_logs', $1)")
                .bind(privilege)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert!(!has, "gad_app has {privilege} on audit_logs");
    }
    // It may insert (the trigger links the row) and read.
    sqlx::query("INSERT INTO audit_logs (event_type) VALUES ('by_app')")
        .execute(&app.pool)
        .await
        .unwrap();
    // Second layer: even the owner cannot UPDATE/DELETE without disabling triggers.
    let mut c = owner(&app).await;
    for sql in [
        "DELETE FROM audit_logs",
        "UPDATE audit_logs SET event_type = 'x'",
    ] {
        let e = sqlx::query(sql).execute(&mut c).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(check(&app).await.problem, None);
}

#[tokio::test]
async fn concurrent_audited_transactions_build_one_chain_without_gaps() {
    let app = TestApp::spawn().await;
    let users: Vec<_> = futures::future::join_all((0..10).map(|_| app.create_user(1))).await;
    // 40 logins at once (4 per user: below the lockout; each commits its audit row in its own transaction), plus 40 direct
    // inserts of which every other one rolls back (its chain position must not leave a gap).
    let logins = futures::future::join_all(
        (0..40).map(|i| app.login(&users[i % 10].email, &users[i % 10].password)),
    );
    let inserts = futures::future::join_all((0..40).map(|i| {
        let pool = app.pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO audit_logs (event_type) VALUES ('concurrente')")
                .execute(&mut *tx)
                .await
                .unwrap();
            if i % 2 == 0 {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
        }
    }));
    let (l, _) = tokio::join!(logins, inserts);
    let bad: Vec<String> = l
        .iter()
        .filter(|r| r.status != StatusCode::OK)
        .map(|r| format!("{} {}", r.status, r.text))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    let report = check(&app).await;
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(report.rows, 60);
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT chain_seq FROM audit_logs ORDER BY chain_seq")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(seqs, (1..=60).collect::<Vec<i64>>());
}

fn sql_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.to_string())
}

async fn audit_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_server_role_cannot_purge_live_audit_rows_by_choosing_their_age() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    for _ in 0..3 {
        app.login(&u.email, &u.password).await;
    }
    let before = audit_rows(&app).await;
    assert!(before >= 3);
    // The old signature let the caller call every row expired.
    let r: Result<Option<i64>, _> =
        sqlx::query_scalar("SELECT audit_purge_expired(-1, 2147483647)")
            .fetch_one(&app.pool)
            .await;
    assert!(!matches!(r, Ok(Some(n)) if n > 0), "{r:?}");
    // The purge it may call deletes only rows past their retention: none here.
    let n: i64 = sqlx::query_scalar("SELECT audit_purge_expired(2147483647)")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(audit_rows(&app).await, before);
    let report = check(&app).await;
    assert_eq!((report.problem, report.first_seq), (None, 1));
    // EXECUTE is not PUBLIC's: a role that is not gad_app may not call it.
    let public: bool = sqlx::query_scalar(
        "SELECT has_function_privilege('public', 'audit_purge_expired(integer)', 'EXECUTE')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap_or(true);
    assert!(!public);
}

#[tokio::test]
async fn the_server_role_cannot_shorten_audit_retention() {
    let app = TestApp::spawn().await;
    // The setting is the owner's: gad_app may read it, not change it.
    let days: i32 = sqlx::query_scalar("SELECT retention_days FROM audit_settings WHERE id = 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(days, 365);
    for sql in [
        "UPDATE audit_settings SET retention_days = 1",
        "DELETE FROM audit_settings",
        "INSERT INTO audit_settings (id, retention_days) VALUES (2, 1)",
    ] {
        let e = sqlx::query(sql).execute(&app.pool).await.unwrap_err();
        assert_eq!(sql_state(&e).as_deref(), Some("42501"), "{sql}: {e}");
    }
    // Not even the owner goes below the floor of 365 days.
    let mut c = owner(&app).await;
    let e = sqlx::query("UPDATE audit_settings SET retention_days = 364")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert_eq!(sql_state(&e).as_deref(), Some("23514"), "{e}");
    // A row's retention is fixed at insert from the setting, whatever the inserter wrote.
    sqlx::query(
        "INSERT INTO audit_logs (event_type, retention_until) VALUES ('corto', now() - interval '1 day')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let kept: bool = sqlx::query_scalar(
        "SELECT retention_until >= now() + interval '365 days' - interval '1 minute'
         FROM audit_logs WHERE event_type = 'corto'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(kept);
    let n: i64 = sqlx::query_scalar("SELECT audit_purge_expired(1000)")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(check(&app).await.problem, None);
}

#[tokio::test]
async fn the_purge_marker_does_not_let_the_server_role_delete_or_update_audit_rows() {
    let app = TestApp::spawn().await;
    let u = app.create_user(1).await;
    app.login(&u.email, &u.password).await;
    gad_testkit::audit::insert_expired_rows(&app.db_url, &["vencido"]).await;
    // Even if an operator re-grants everything to gad_app by mistake, the trigger holds.
    let mut c = owner(&app).await;
    c.execute("GRANT UPDATE, DELETE, TRUNCATE ON audit_logs TO gad_app")
        .await
        .unwrap();
    let before = audit_rows(&app).await;
    for sql in [
        "DELETE FROM audit_logs",
        "DELETE FROM audit_logs WHERE event_type = 'vencido'",
        "UPDATE audit_logs SET event_type = 'x'",
        "TRUNCATE audit_logs",
    ] {
        let mut tx = app.pool.begin().await.unwrap();
        let role: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(role, "gad_app");
        tx.execute("SELECT set_config('gad.audit_purge', 'on', true)")
            .await
            .unwrap();
        let e = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
        tx.rollback().await.unwrap();
    }
    assert_eq!(audit_rows(&app).await, before);
    assert_eq!(check(&app).await.problem, None);
}

#[tokio::test]
async fn an_expired_audit_prefix_is_purged_by_the_server_role_and_the_chain_still_verifies() {
    let app = TestApp::spawn().await;
    gad_testkit::audit::insert_expired_rows(&app.db_url, &["vencido", "vencido", "vencido"]).await;
    let u = app.create_user(1).await;
    app.login(&u.email, &u.password).await;
    gad_testkit::audit::insert_expired_rows(&app.db_url, &["vencido_tras_uno_vigente"]).await;
    assert_eq!(check(&app).await.problem, None);
    // Batches: two rows, then the rest of the expired prefix; the expired row behind a live
    // one waits for it.
    for (batch, expected) in [(2, 2), (1000, 1), (1000, 0)] {
        let n: i64 = sqlx::query_scalar("SELECT audit_purge_expired($1)")
            .bind(batch)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(n, expected, "batch {batch}");
    }
    assert_eq!(
        events(&app).await,
        ["login_success", "vencido_tras_uno_vigente"]
    );
    let report = check(&app).await;
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!((report.first_seq, report.rows), (4, 2));
}

#[tokio::test]
async fn the_server_witnesses_the_chain_head_and_a_wholesale_rewrite_fails_the_witness_check() {
    let key = gad_service::witness::SigningKey::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("gad-witness-{}", uuid::Uuid::new_v4()));
    let file = dir.join("witness.jsonl");
    let app = TestApp::spawn_with(
        gad_testkit::Options::default()
            .env("AUDIT_SIGNING_KEY", &key.encode())
            .env("AUDIT_WITNESS_INTERVAL_SECONDS", "1")
            .env("AUDIT_WITNESS_FILE", file.to_str().unwrap()),
    )
    .await;
    let u = app.create_user(1).await;
    for _ in 0..3 {
        app.login(&u.email, &u.password).await;
    }
    // The job appends the head once it has moved: wait for the line of the third row.
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.lines().any(|l| l.contains("\"seq\":3")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let last: gad_service::witness::WitnessLine =
        serde_json::from_str(text.lines().last().expect("a witness line")).unwrap();
    assert_eq!(last.seq, 3, "{text}");
    assert_eq!(last.public_key, key.public_key());
    let mut c = owner(&app).await;
    let pk = key.public_key();
    let now = chrono::Utc::now();
    let report = gad_service::witness::check(&mut c, &text, Some(&pk), now)
        .await
        .unwrap();
    assert_eq!(report.problem, None, "{report:?}");
    assert!(report.matched >= 1);

    // A superuser rewrites row 2 and recomputes every hash after it: the chain alone verifies…
    gad_testkit::audit::rewrite_chain_from(&app.db_url, 2, "retocado").await;
    assert_eq!(check(&app).await.problem, None);
    // …but the witnessed head no longer matches, and is named.
    let report = gad_service::witness::check(&mut c, &text, Some(&pk), now)
        .await
        .unwrap();
    let p = report.problem.expect("the rewrite is caught");
    assert!(
        matches!(p, gad_service::witness::WitnessProblem::Rewritten { seq, id: Some(_), .. } if seq >= 2),
        "{p:?}"
    );
    assert!(p.to_string().contains("rewritten"), "{p}");
    let _ = std::fs::remove_dir_all(&dir);
}
