//! Database pool, migrations and the readiness checks built on them.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Every migration, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The role the server runs as (migration 20261201001801): it may not UPDATE or DELETE audit
/// rows. Overridden by `DB_APP_ROLE`.
pub const DEFAULT_APP_ROLE: &str = "gad_app";

/// The server's pool: [`app_pool`] with the default role.
pub fn lazy_pool(url: &str, size: u32) -> Result<PgPool, sqlx::Error> {
    app_pool(url, size, Some(DEFAULT_APP_ROLE))
}

/// A pool that connects lazily, so `gad serve` starts (and reports not-ready) while
/// PostgreSQL is down, and recovers by itself when it comes back.
///
/// With `role`, every new connection runs `SET ROLE <role>` when the login user may (a
/// superuser in development and CI, or a login role that is a member of it in production) and
/// the role exists (created by the migrations): the server then holds only the application's
/// privileges, whatever it logged in as. Migrations and operator commands use
/// [`owner_pool`].
pub fn app_pool(url: &str, size: u32, role: Option<&str>) -> Result<PgPool, sqlx::Error> {
    let role = role
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string);
    Ok(pool_options(size)
        .after_connect(move |conn, _meta| {
            let role = role.clone();
            Box::pin(async move {
                if let Some(role) = role {
                    let allowed: bool = sqlx::query_scalar(
                        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
                                     THEN pg_has_role(session_user, $1::name, 'MEMBER') ELSE false END",
                    )
                    .bind(&role)
                    .fetch_one(&mut *conn)
                    .await?;
                    if allowed {
                        sqlx::query(&format!("SET ROLE \"{role}\""))
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                Ok(())
            })
        })
        .connect_lazy_with(connect_options(url)?))
}

/// A lazy pool that keeps the login user's own privileges: migrations, seed, create-admin,
/// `gad audit` (operator commands run with the owner's credentials).
pub fn owner_pool(url: &str, size: u32) -> Result<PgPool, sqlx::Error> {
    Ok(pool_options(size).connect_lazy_with(connect_options(url)?))
}

fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let opts: PgConnectOptions = url.parse()?;
    // Generic plans for every prepared statement: with parameters folded into a custom plan,
    // PostGIS spends ≈ 9 ms per statement on `ST_DWithin(geography, <constant>, r)` (measured:
    // the same KNN pick takes 1 ms with the point as a run-time parameter), and PostgreSQL's
    // `auto` mode kept choosing custom plans for the dispatch. Every query here is built so a
    // generic plan fits (only the predicates in use are in the SQL). Details in
    // docs/PERFORMANCE.md.
    Ok(opts
        .application_name("gad")
        .options([("plan_cache_mode", "force_generic_plan")]))
}

fn pool_options(size: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(size)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
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
