//! The `gad` binary: configuration refusal, migrations from two processes at once, seed, create-admin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn gad() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gad"));
    for (k, _) in std::env::vars() {
        if gad_service::config::KNOWN_ENV_VARS.contains(&k.as_str()) {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn serve_refuses_a_weak_secret_in_production_naming_the_variable() {
    let out = gad()
        .args(["serve"])
        .env("ENVIRONMENT", "production")
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env("JWT_SECRET_KEY", "0123456789")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("JWT_SECRET_KEY"), "{err}");
    assert_eq!(err.lines().count(), 1, "one-line reason: {err}");

    let out = gad()
        .args(["check-config"])
        .env("ENVIRONMENT", "staging")
        .env("DATABASE_URL", "postgres://x/y")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET_KEY"));

    let out = gad()
        .args(["check-config"])
        .env("ENVIRONMENT", "production")
        .env("DATABASE_URL", "postgres://gad:secret-pw@db/gad")
        .env("JWT_SECRET_KEY", "k3J9xP2mQ7vL5nR8tW1yZ4bC6dF0gH3jK5mN7pQ9")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("secret-pw") && !text.contains("k3J9xP2m"),
        "no secrets printed: {text}"
    );
}

#[test]
fn serve_without_environment_refuses_to_start_instead_of_running_as_development() {
    let mut child = gad()
        .args(["serve"])
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gad serve kept running without ENVIRONMENT");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("ENVIRONMENT is required"), "{err}");
}

async fn empty_database() -> String {
    use sqlx::Connection;
    let server = gad_testkit::db::server_url();
    let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    let name = format!("gad_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    format!("{server}/{name}")
}

#[tokio::test]
async fn two_migrate_processes_at_once_both_succeed_and_rerun_is_a_no_op() {
    let url = empty_database().await;
    let spawn = |u: String| {
        std::thread::spawn(move || {
            gad()
                .args(["migrate"])
                .env("DATABASE_URL", u)
                .output()
                .unwrap()
        })
    };
    let (a, b) = (spawn(url.clone()), spawn(url.clone()));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let again = gad()
        .args(["migrate"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(again.status.success());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n as usize, gad_api::db::MIGRATOR.iter().count());
    let postgis: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(postgis);
}

#[tokio::test]
async fn seed_fills_every_state_and_create_admin_resets() {
    let url = gad_testkit::db::fresh_database().await;
    let out = gad()
        .args([
            "seed",
            "--usuarios",
            "3",
            "--efectivos",
            "50",
            "--tareas",
            "40",
            "--quiet",
        ])
        .env("DATABASE_URL", &url)
        .env("ENVIRONMENT", "development")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("admin@gad.local"),
        "prints demo logins: {text}"
    );
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let states: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT estado::text FROM tareas ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        vec![
            "CANCELLED",
            "COMPLETED",
            "IN_PROGRESS",
            "PAUSED",
            "PROGRAMMED"
        ]
    );
    let located: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM efectivos WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(-58.38, -34.60), 4326)::geography, 25000)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(located, 50, "every efectivo within 25 km of Buenos Aires");
    // Idempotent.
    let again = gad()
        .args([
            "seed",
            "--usuarios",
            "3",
            "--efectivos",
            "50",
            "--tareas",
            "40",
            "--quiet",
        ])
        .env("DATABASE_URL", &url)
        .env("ENVIRONMENT", "development")
        .output()
        .unwrap();
    assert!(again.status.success());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM efectivos")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 50);

    let out = gad()
        .args([
            "create-admin",
            "--email",
            "Boss@Test.gad",
            "--password",
            "boss-password-1",
        ])
        .env("DATABASE_URL", &url)
        .env("ENVIRONMENT", "development")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sqlx::query(
        "UPDATE usuarios SET nivel = 'LEVEL_1', verificado = false WHERE email = 'boss@test.gad'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let out = gad()
        .args([
            "create-admin",
            "--email",
            "boss@test.gad",
            "--password",
            "boss-password-2",
        ])
        .env("DATABASE_URL", &url)
        .env("ENVIRONMENT", "development")
        .output()
        .unwrap();
    assert!(out.status.success());
    let (nivel, verificado): (String, bool) = sqlx::query_as(
        "SELECT nivel::text, verificado FROM usuarios WHERE email = 'boss@test.gad'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((nivel.as_str(), verificado), ("LEVEL_3", true));
    let short = gad()
        .args(["create-admin", "--email", "x@y.z", "--password", "short"])
        .env("DATABASE_URL", &url)
        .env("ENVIRONMENT", "development")
        .output()
        .unwrap();
    assert!(!short.status.success());
}

/// Issue 13: the published demo passwords never reach a staging or production database.
#[tokio::test]
async fn seed_outside_development_uses_generated_passwords_printed_once() {
    let url = gad_testkit::db::fresh_database().await;
    let out = gad()
        .args([
            "seed",
            "--usuarios",
            "1",
            "--efectivos",
            "1",
            "--tareas",
            "1",
            "--quiet",
        ])
        .env("DATABASE_URL", &url)
        .env("ENVIRONMENT", "staging")
        .env(
            "JWT_SECRET_KEY",
            "staging-secret-key-0123456789-abcdefghijklmnop",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("GadAdmin2026!"), "{text}");
    assert!(text.contains("NOT used"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("admin@gad.local / "))
        .expect("admin line");
    let generated = line.rsplit(" / ").next().unwrap().trim().to_string();
    assert!(generated.len() >= 16, "{generated}");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let hash: String =
        sqlx::query_scalar("SELECT hashed_password FROM usuarios WHERE email = 'admin@gad.local'")
            .fetch_one(&pool)
            .await
            .unwrap();
    use argon2::PasswordVerifier;
    let parsed = argon2::PasswordHash::new(&hash).unwrap();
    assert!(
        argon2::Argon2::default()
            .verify_password(b"GadAdmin2026!", &parsed)
            .is_err()
    );
    assert!(
        argon2::Argon2::default()
            .verify_password(generated.as_bytes(), &parsed)
            .is_ok()
    );
}

#[test]
fn bot_refuses_to_start_without_a_token_or_an_answering_telegram() {
    let base = || {
        let mut c = gad();
        c.args(["bot"])
            .env("ENVIRONMENT", "development")
            .env("JWT_SECRET_KEY", "k3J9xP2mQ7vL5nR8tW1yZ4bC6dF0gH3jK5mN7pQ9")
            .env(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            )
            .env("BOT_LISTEN_ADDR", "127.0.0.1:0");
        c
    };
    let out = base().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TELEGRAM_TOKEN is required"), "{err}");

    // Nothing listens on port 1: getMe fails and the bot says so in one line.
    let out = base()
        .env("TELEGRAM_TOKEN", "123:abc")
        .env("TELEGRAM_API_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Telegram refused the bot token or is unreachable"),
        "{err}"
    );
    assert!(!err.contains("123:abc"), "token not printed: {err}");
}

/// `gad bot` as a process: long-polls the fake Bot API and answers an unlinked user.
#[tokio::test]
async fn gad_bot_process_answers_through_the_bot_api() {
    let app = gad_testkit::TestApp::spawn().await;
    let fake = gad_testkit::fake_telegram::FakeTelegram::start().await;
    let mut child = tokio::process::Command::from({
        let mut c = gad();
        c.args(["bot"])
            .env("ENVIRONMENT", "development")
            .env("JWT_SECRET_KEY", "k3J9xP2mQ7vL5nR8tW1yZ4bC6dF0gH3jK5mN7pQ9")
            .env("DATABASE_URL", &app.db_url)
            .env("BOT_LISTEN_ADDR", "127.0.0.1:0")
            .env("TELEGRAM_TOKEN", &fake.token)
            .env("TELEGRAM_API_URL", fake.url())
            .env("TELEGRAM_POLL_TIMEOUT", "1")
            .env("LOG_LEVEL", "warn");
        c
    })
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    fake.send_text(4242, "/tareas");
    fake.wait_text(4242, "no está vinculada").await;
    assert!(!fake.calls_of("getMe").is_empty());
    let _ = child.kill().await;
}

#[tokio::test]
async fn create_admin_with_totp_prints_the_enrolment_uri() {
    let url = gad_testkit::db::fresh_database().await;
    let out = gad()
        .args([
            "create-admin",
            "--email",
            "Totp-Admin@Test.gad",
            "--password",
            "boss-password-1",
            "--totp",
        ])
        .env("DATABASE_URL", &url)
        .env("ENVIRONMENT", "development")
        .env(
            "JWT_SECRET_KEY",
            "cli-test-secret-0123456789-abcdefghijklmnop",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uri = text
        .lines()
        .find(|l| l.starts_with("otpauth://totp/GAD:"))
        .unwrap_or_else(|| panic!("no otpauth URI in {text}"));
    assert!(
        uri.contains("secret=") && uri.contains("issuer=GAD"),
        "{uri}"
    );
}
