//! `gad`: the single binary. Every subcommand exits non-zero with a one-line reason on failure.

mod admin;
mod audit;
mod backup;
mod gdpr;
mod lugares;
mod reportes;
mod seed;
mod smoke;
mod zonas;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the task list allocates per row and per response, and glibc
/// kept per-thread arenas of freed buffers (RSS); measured in docs/PERFORMANCE.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use gad_api::Config;

#[derive(Parser)]
#[command(name = "gad", version, about = "GAD field operations platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and WebSocket (configuration from the environment).
    Serve,
    /// Apply database migrations (idempotent; safe to run from several instances at once).
    Migrate,
    /// Validate the configuration and print a summary without secrets.
    CheckConfig,
    /// Create or reset a verified level-3 user.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "Admin")]
        nombre: String,
        #[arg(long, default_value = "GAD")]
        apellido: String,
        #[arg(long)]
        dni: Option<String>,
        /// Also start a second-factor (TOTP) enrolment and print its otpauth:// URI, to add to
        /// an authenticator app; the first login confirms it (POST /api/v1/users/me/totp/confirmar).
        #[arg(long)]
        totp: bool,
    },
    /// Load demo data (idempotent: existing demo rows are kept).
    Seed(seed::SeedArgs),
    /// Post-deploy checks against a running deployment (exit 1 if any check fails).
    Smoke(smoke::SmokeArgs),
    /// Compressed pg_dump of the database with .sha256 and .meta.json.
    Backup(backup::BackupArgs),
    /// Verify a backup and restore it into the database (--verify-only changes nothing).
    Restore(backup::RestoreArgs),
    /// Telegram bot for officers (TELEGRAM_TOKEN; same database/Redis settings as serve).
    Bot,
    /// The audit trail: verify its hash chain (and its witnessed heads), export a period, make
    /// the witness's signing key.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Data protection: the data map from the schema.
    Gdpr {
        #[command(subcommand)]
        command: gdpr::GdprCommand,
    },
    /// The address-search gazetteer: import places and street segments.
    Lugares {
        #[command(subcommand)]
        command: lugares::LugaresCommand,
    },
    /// Jurisdictions (comisarías, cuadrantes): import and export a GeoJSON FeatureCollection.
    Zonas {
        #[command(subcommand)]
        command: zonas::ZonasCommand,
    },
    /// Reports: verify a CSV report against its footer and the audit trail.
    Reportes {
        #[command(subcommand)]
        command: reportes::ReportesCommand,
    },
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fail(format!("cannot start runtime: {e}")),
    };
    if let Err(e) = rt.block_on(run(cli)) {
        fail(format!("{e:#}"));
    }
}

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn load_config() -> anyhow::Result<Config> {
    Config::from_env().map_err(|e| anyhow::anyhow!(e))
}

/// The configuration of the server, the bot, the seed and `check-config`: ENVIRONMENT must be
/// set (an unset one would otherwise run with development's leniency).
fn load_server_config() -> anyhow::Result<Config> {
    let vars = gad_service::config::Vars::from_env().map_err(|e| anyhow::anyhow!(e))?;
    Config::for_server(&vars).map_err(|e| anyhow::anyhow!(e))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve().await,
        Command::Migrate => {
            let config = load_config()?;
            let pool = connect(&config).await?;
            gad_api::db::migrate(&pool).await?;
            println!(
                "migrations applied ({} known)",
                gad_api::db::MIGRATOR.iter().count()
            );
            let days = config.retention.audit_days;
            if let Some(old) = gad_store::audit::set_retention_days(&pool, days).await? {
                println!("audit retention of new rows: {days} days (was {old})");
            }
            Ok(())
        }
        Command::CheckConfig => {
            let config = load_server_config()?;
            println!("configuration ok: {}", config.describe());
            Ok(())
        }
        Command::CreateAdmin {
            email,
            password,
            nombre,
            apellido,
            dni,
            totp,
        } => {
            let config = load_config()?;
            let pool = connect(&config).await?;
            let id =
                admin::create_admin(&pool, &email, &password, &nombre, &apellido, dni.as_deref())
                    .await?;
            println!("admin ready: id={id} email={}", email.to_lowercase());
            if totp {
                let ctx = gad_service::Ctx::new(config, pool);
                let enrolment = gad_service::totp::start(&ctx, id, &email.to_lowercase())
                    .await
                    .map_err(|e| anyhow::anyhow!("second factor: {e}"))?;
                println!(
                    "second factor (add to an authenticator app, then confirm with its first code at POST /api/v1/users/me/totp/confirmar):"
                );
                println!("{}", enrolment.otpauth_uri);
            }
            Ok(())
        }
        Command::Seed(args) => {
            let config = load_server_config()?;
            let pool = connect(&config).await?;
            gad_api::db::migrate(&pool).await?;
            seed::run(&pool, &args, config.environment.is_development()).await
        }
        Command::Smoke(args) => {
            let failed = smoke::run(args).await?;
            if failed > 0 {
                fail(format!("smoke: {failed} check(s) failed"));
            }
            Ok(())
        }
        Command::Backup(args) => {
            let dump = backup::backup(args).await?;
            println!("backup written: {} (+ .sha256, .meta.json)", dump.display());
            Ok(())
        }
        Command::Restore(args) => backup::restore(args).await,
        Command::Bot => bot().await,
        Command::Audit {
            command: audit::AuditCommand::Keygen,
        } => audit::keygen(),
        Command::Audit { command } => {
            let config = load_config()?;
            let pool = connect(&config).await?;
            let master = gad_service::personal_keys::MasterKey::derive(&config.audit_master_secret);
            audit::run(
                &pool,
                &master,
                config.audit_witness.key.as_ref(),
                &config.adjuntos,
                command,
            )
            .await
        }
        Command::Gdpr { command } => {
            let config = load_config()?;
            let pool = connect(&config).await?;
            gdpr::run(&pool, command).await
        }
        Command::Lugares { command } => {
            let config = load_config()?;
            let pool = connect(&config).await?;
            let ctx = gad_service::Ctx::new(config, pool);
            lugares::run(&ctx, command).await
        }
        Command::Zonas { command } => {
            let config = load_config()?;
            let pool = connect(&config).await?;
            let ctx = gad_service::Ctx::new(config, pool);
            zonas::run(&ctx, command).await
        }
        Command::Reportes { command } => {
            let config = load_config()?;
            let pool = connect(&config).await?;
            reportes::run(&pool, command).await
        }
    }
}

async fn connect(config: &Config) -> anyhow::Result<sqlx::PgPool> {
    // Operator commands keep the login user's privileges (migrations need them).
    let pool = gad_api::db::owner_pool(&config.database_url, config.db_pool_size.min(8))?;
    gad_api::db::ping(&pool)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(pool)
}

async fn serve() -> anyhow::Result<()> {
    let config = load_server_config()?;
    gad_api::telemetry::init(&config);
    let addr = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let pool = gad_api::db::app_pool(
        &config.database_url,
        config.db_pool_size,
        config.db_app_role.as_deref(),
    )?;
    tracing::info!(config = %config.describe(), "starting gad serve");
    let state = gad_api::app::start(config, pool);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    gad_api::app::serve(listener, state, gad_api::app::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// `gad bot`: the Telegram client, a separate process on the API's database and Redis.
async fn bot() -> anyhow::Result<()> {
    let config = load_server_config()?;
    let bot_config =
        gad_bot::BotConfig::from_env(config.environment).map_err(|e| anyhow::anyhow!(e))?;
    gad_api::telemetry::init(&config);
    let listener = tokio::net::TcpListener::bind(&bot_config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", bot_config.listen))?;
    let pool = gad_api::db::app_pool(
        &config.database_url,
        config.db_pool_size.min(10),
        config.db_app_role.as_deref(),
    )?;
    tracing::info!(bot = %bot_config.describe(), "starting gad bot");
    // The API's state, without its HTTP listener: its realtime hub carries the events the bot's
    // use cases produce to the other instances through Redis (the same fan-out as the API's).
    let state = gad_api::app::start(config, pool);
    let handle = gad_bot::start(bot_config, state.ctx.clone(), listener).await?;
    tracing::info!(addr = %handle.addr, "bot metrics listening");
    gad_api::app::shutdown_signal().await;
    handle.stop().await;
    tracing::info!("bot stopped");
    Ok(())
}
