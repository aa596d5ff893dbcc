//! Database pool, migrations and the readiness checks built on them.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Every migration, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// A pool that connects lazily, so `gad serve` starts (and reports not-ready) while
/// PostgreSQL is down, and recovers by itself when it comes back.
pub fn lazy_pool(url: &str, size: u32) -> Result<PgPool, sqlx::Error> {
    let opts: PgConnectOptions = url.parse()?;
    // Generic plans for every prepared statement: with parameters folded into a custom plan,
    // PostGIS spends ≈ 9 ms per statement on `ST_DWithin(geography, <constant>, r)` (measured:
    // the same KNN pick takes 1 ms with the point as a run-time parameter), and PostgreSQL's
    // `auto` mode kept choosing custom plans for the dispatch. Every query here is built so a
    // generic plan fits (only the predicates in use are in the SQL). Details in
    // docs/PERFORMANCE.md (issue 6).
    let opts = opts
        .application_name("gad")
        .options([("plan_cache_mode", "force_generic_plan")]);
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(opts))
}

/// Applies pending migrations. sqlx takes a PostgreSQL advisory lock, so two instances
/// migrating at once serialise instead of colliding.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Ok when every embedded migration is recorded as applied.
pub async fn migrations_applied(pool: &PgPool) -> Result<(), String> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.code().as_deref() == Some("42P01") => {
                    "migrations not applied".to_string()
                }
                other => format!("database error: {other}"),
            })?;
    let missing: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() || !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("{} migrations pending", missing.len()))
    }
}

/// Pings the database with a short timeout; returns the round trip in ms.
pub async fn ping(pool: &PgPool) -> Result<f64, String> {
    let t = std::time::Instant::now();
    match tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(pool),
    )
    .await
    {
        Ok(Ok(_)) => Ok(t.elapsed().as_secs_f64() * 1e3),
        Ok(Err(e)) => Err(format!("database unreachable: {}", short(&e.to_string()))),
        Err(_) => Err("database unreachable: timed out".into()),
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}
