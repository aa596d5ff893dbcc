//! `gad audit verify`, `gad audit export` (on the owner's connection) and `gad audit keygen`.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use gad_service::audit::Keyring;
use gad_service::personal_keys::MasterKey;
use gad_service::witness::{self, SigningKey};
use gad_store::audit::{self, AuditExportRow};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Seal the committed rows not chained yet, then walk the hash chain; exit 1 naming the
    /// first altered or missing row (with --witness: or the first witnessed head the chain no
    /// longer holds).
    Verify(VerifyArgs),
    /// Write the audit rows created in [--desde, --hasta] as CSV or JSON (oldest first).
    Export(ExportArgs),
    /// Print a new Ed25519 key for AUDIT_SIGNING_KEY and its public key.
    Keygen,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Witness file (AUDIT_WITNESS_FILE, JSON lines the server appends): every head in it must
    /// still be in the chain, or have been purged by retention.
    #[arg(long)]
    pub witness: Option<std::path::PathBuf>,
    /// Public key (base64) the witness lines must be signed with. Default: that of
    /// AUDIT_SIGNING_KEY when it is set, otherwise each line's own key.
    #[arg(long)]
    pub public_key: Option<String>,
    /// Also read every stored attachment (ADJUNTOS_DIR or ADJUNTOS_S3_URL) and compare its
    /// SHA-256 with the one its audit row recorded: a changed, missing or unreadable file fails.
    #[arg(long)]
    pub adjuntos: bool,
}

/// `gad audit keygen`: needs no database.
pub fn keygen() -> anyhow::Result<()> {
    let key =
        SigningKey::generate().ok_or_else(|| anyhow::anyhow!("no random key could be drawn"))?;
    println!("AUDIT_SIGNING_KEY={}", key.encode());
    println!(
        "# public key (for gad audit verify --witness FILE --public-key): {}",
        key.public_key()
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// From (RFC 3339, or YYYY-MM-DD = that day 00:00 UTC).
    #[arg(long)]
    pub desde: Option<String>,
    /// Until (RFC 3339, or YYYY-MM-DD = that whole day, UTC).
    #[arg(long)]
    pub hasta: Option<String>,
    /// csv or json.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// File to write (default: standard output).
    #[arg(long)]
    pub output: Option<std::path::PathBuf>,
}

/// Parses a bound; `end` makes a bare date cover the whole day.
pub fn parse_bound(s: &str, end: bool) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("'{s}' is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let t = if end {
        d.and_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        d.and_hms_opt(0, 0, 0)
    };
    t.map(|t| t.and_utc())
        .ok_or_else(|| anyhow::anyhow!("invalid date '{s}'"))
}

pub async fn run(
    pool: &sqlx::PgPool,
    master: &MasterKey,
    signing_key: Option<&SigningKey>,
    adjuntos: &gad_service::config::Adjuntos,
    cmd: AuditCommand,
) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify(args) => verify(pool, signing_key, adjuntos, args).await,
        AuditCommand::Export(args) => export(pool, master, args).await,
        AuditCommand::Keygen => keygen(),
    }
}

async fn verify(
    pool: &sqlx::PgPool,
    signing_key: Option<&SigningKey>,
    adjuntos: &gad_service::config::Adjuntos,
    args: VerifyArgs,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    // Rows committed before now join the chain first (waiting for a server's pass in progress),
    // so the walk covers them; rows committing meanwhile are counted as not sealed yet.
    // A pass that fails (a waiting row no longer matches its content hash) seals nothing: the
    // walk below names the row.
    let sealed = match audit::seal_pending(&mut conn, std::time::Duration::from_secs(10)).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("warning: the rows waiting were not sealed: {e}");
            0
        }
    };
    let report = audit::verify(&mut conn).await?;
    if let Some(p) = report.problem {
        anyhow::bail!(
            "audit chain broken: {p} ({} rows verified before it)",
            report.rows.saturating_sub(1)
        );
    }
    let mut witnessed = String::new();
    if let Some(path) = &args.witness {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let pinned = args
            .public_key
            .clone()
            .or_else(|| signing_key.map(SigningKey::public_key));
        if pinned.is_none() {
            eprintln!(
                "warning: no --public-key nor AUDIT_SIGNING_KEY: each witness line is checked against its own key"
            );
        }
        let w = witness::check(&mut conn, &text, pinned.as_deref(), Utc::now()).await?;
        if let Some(p) = w.problem {
            anyhow::bail!(
                "audit chain does not match its witness: {p} ({} heads held before it)",
                w.matched + w.purged
            );
        }
        witnessed = format!(
            "; {} witnessed heads hold ({} purged by retention)",
            w.matched + w.purged,
            w.purged
        );
    }
    if args.adjuntos {
        let almacen = gad_service::almacen::Almacen::open(adjuntos);
        let check = gad_service::evidencia::verify_stored(pool, &almacen)
            .await
            .map_err(|e| anyhow::anyhow!("attachments not verified: {e}"))?;
        if !check.problems.is_empty() {
            for p in &check.problems {
                eprintln!("{p}");
            }
            anyhow::bail!(
                "stored attachments do not match the audit trail: {} of {} ({})",
                check.problems.len(),
                check.checked,
                almacen.describe
            );
        }
        witnessed.push_str(&format!(
            "; {} stored attachments match their audited SHA-256",
            check.checked
        ));
    }
    let pending = match report.unsealed {
        0 => String::new(),
        n => format!("; {n} rows committed meanwhile not sealed yet (content hashes ok)"),
    };
    println!(
        "audit chain ok: {} rows verified (chain_seq {}..={}, {sealed} sealed now){witnessed}{pending}",
        report.rows, report.first_seq, report.head_seq
    );
    Ok(())
}

/// Writes the rows with the personal values opened (with the server's master secret in the
/// environment), or "[borrado]" for people erased since.
async fn export(pool: &sqlx::PgPool, master: &MasterKey, args: ExportArgs) -> anyhow::Result<()> {
    let desde = args
        .desde
        .as_deref()
        .map(|s| parse_bound(s, false))
        .transpose()?;
    let hasta = args
        .hasta
        .as_deref()
        .map(|s| parse_bound(s, true))
        .transpose()?;
    if let (Some(d), Some(h)) = (desde, hasta)
        && d > h
    {
        anyhow::bail!("--hasta is earlier than --desde");
    }
    let json = match args.format.as_str() {
        "json" => true,
        "csv" => false,
        other => anyhow::bail!("--format must be csv or json (got '{other}')"),
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut conn = pool.acquire().await?;
    let mut keys_conn = pool.acquire().await?;
    let mut ring = Keyring::new();
    let mut rows = audit::export_range(&mut conn, desde, hasta);
    let header: Vec<String> = match serde_json::to_value(AuditExportRow::default())? {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut n = 0u64;
    let mut line = String::new();
    if json {
        out.write_all(b"[")?;
    } else {
        gad_service::gdpr::csv_line(
            &mut line,
            header.iter().map(|h| serde_json::Value::String(h.clone())),
        );
        out.write_all(line.as_bytes())?;
    }
    while let Some(mut row) = rows.try_next().await? {
        let ids = gad_service::audit::persons([&row.old_values, &row.new_values]);
        ring.ensure(master, &mut keys_conn, &ids).await?;
        ring.reveal(&mut row.old_values);
        ring.reveal(&mut row.new_values);
        if json {
            if n > 0 {
                out.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut out, &row)?;
        } else {
            let serde_json::Value::Object(mut m) = serde_json::to_value(&row)? else {
                continue;
            };
            line.clear();
            gad_service::gdpr::csv_line(
                &mut line,
                header
                    .iter()
                    .map(|h| m.remove(h).unwrap_or(serde_json::Value::Null)),
            );
            out.write_all(line.as_bytes())?;
        }
        n += 1;
    }
    if json {
        out.write_all(b"]\n")?;
    }
    out.flush()?;
    eprintln!("audit export: {n} rows");
    Ok(())
}
