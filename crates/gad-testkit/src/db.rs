//! Per-test databases copied from a migrated template. The template's name carries a hash of
//! the migrations, so a changed migration builds a new template automatically; an advisory lock
//! makes concurrent test processes build it once.

use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor, PgConnection};

/// Server URL without a database (env TEST_DATABASE_SERVER, default local trust auth).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// `GAD_TEST_RUN` (set by scripts/test.sh) names this run's databases, so a run cleans up only its
/// own and never another session's on a shared server.
fn run_prefix() -> String {
    std::env::var("GAD_TEST_RUN")
        .ok()
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|r| format!("{r}_"))
        .unwrap_or_default()
}

fn template_name() -> String {
    let mut h = Sha256::new();
    for m in gad_api::db::MIGRATOR.iter() {
        h.update(m.version.to_le_bytes());
        h.update(&*m.checksum);
    }
    format!("gad_tpl_{}", &hex::encode(h.finalize())[..12])
}

async fn admin_conn() -> PgConnection {
    let url = format!("{}/postgres", server_url());
    let mut last = None;
    for _ in 0..20 {
        match PgConnection::connect(&url).await {
            Ok(c) => return c,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("cannot connect to PostgreSQL at {url}: {last:?}");
}

async fn ensure_template(conn: &mut PgConnection) -> String {
    let tpl = template_name();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&tpl)
            .fetch_one(&mut *conn)
            .await
            .expect("query pg_database");
    if exists {
        return tpl;
    }
    // 7_345_001: an arbitrary, project-specific advisory lock id for template builds.
    conn.execute("SELECT pg_advisory_lock(7345001)")
        .await
        .expect("lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&tpl)
            .fetch_one(&mut *conn)
            .await
            .expect("query pg_database");
    if !exists {
        let building = format!("{tpl}_build");
        conn.execute(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)").as_str())
            .await
            .expect("drop");
        conn.execute(format!("CREATE DATABASE {building}").as_str())
            .await
            .expect("create template");
        {
            let pool = sqlx::PgPool::connect(&format!("{}/{building}", server_url()))
                .await
                .expect("connect template");
            gad_api::db::migrate(&pool).await.expect("migrate template");
            pool.close().await;
        }
        conn.execute(format!("ALTER DATABASE {building} RENAME TO {tpl}").as_str())
            .await
            .expect("rename");
    }
    conn.execute("SELECT pg_advisory_unlock(7345001)")
        .await
        .expect("unlock");
    tpl
}

/// Creates a fresh, migrated database and returns its URL.
pub async fn fresh_database() -> String {
    let mut conn = admin_conn().await;
    let tpl = ensure_template(&mut conn).await;
    let name = format!("gad_test_{}{}", run_prefix(), uuid::Uuid::new_v4().simple());
    let mut attempt = 0;
    loop {
        match conn
            .execute(format!("CREATE DATABASE {name} TEMPLATE {tpl}").as_str())
            .await
        {
            Ok(_) => break,
            // Another process copying the template at the same instant: retry.
            Err(e) if attempt < 50 => {
                attempt += 1;
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(100 + 20 * attempt)).await;
            }
            Err(e) => panic!("create test database: {e}"),
        }
    }
    let _ = conn.close().await;
    format!("{}/{name}", server_url())
}
